/** Turns zod's verdict on a body or query into the one error shape of the API. */
import type { z } from 'zod';
import { checkJsonDepth, MAX_JSON_DEPTH, type ErrorBody } from '@flows/protocol';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.message);
  }
}

/**
 * A key as an error message shows it: as is when it reads plainly, else quoted — an unknown key
 * `""` or `" "` would otherwise leave "unknown field(s) " naming nothing a reader can see.
 */
const showKey = (key: string): string => (/^[\p{L}\p{N}_.-]+$/u.test(key) ? key : JSON.stringify(key));

export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'body' | 'query',
): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({
    path: i.path.length ? i.path.join('.') : where,
    message:
      i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.map(showKey).join(', ')}` : i.message,
  }));
  throw new HttpError(400, {
    error: 'invalid_request',
    message: issues.map((i) => `${i.path}: ${i.message}`).join('; '),
    issues,
  });
}

/**
 * The nesting check of protocol/limits.ts on a parsed body: a 400 naming the field and the limit
 * (`input_value.a.a.a.a.…: nested deeper than 64 levels`), in the shape of a rejected body.
 */
export function checkDepth(value: unknown, root?: string): void {
  const v = checkJsonDepth(value, MAX_JSON_DEPTH, root);
  if (!v) return;
  const path = v.message.slice(0, v.message.lastIndexOf(': nested'));
  throw new HttpError(400, {
    error: 'invalid_request',
    message: v.message,
    issues: [{ path, message: `nested deeper than ${v.limit} levels` }],
  });
}
