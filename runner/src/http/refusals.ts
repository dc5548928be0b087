/**
 * The one translation of a service's refusal (engine/errors.ts) into the API's error answer:
 * each kind has its status and error code here and nowhere else. A refusal that names a field
 * is answered like a rejected body: the message starts with the field, and `issues` has it.
 */
import { Conflict, Invalid, NotFound, Unavailable, type Refusal } from '../engine/errors';
import { InvalidCursorError } from '../store/store';
import { HttpError } from './validation';

const ANSWERS: ReadonlyArray<[kind: abstract new (...a: never[]) => Refusal, status: number, error: string]> =
  [
    [Invalid, 400, 'invalid_request'],
    [NotFound, 404, 'not_found'],
    [Conflict, 409, 'conflict'],
    [Unavailable, 503, 'unavailable'],
  ];

function answer(status: number, error: string, message: string, field?: string): HttpError {
  if (!field) return new HttpError(status, { error, message });
  return new HttpError(status, {
    error,
    message: `${field}: ${message}`,
    issues: [{ path: field, message }],
  });
}

/**
 * The answer to `err` if it is a refusal (or a list cursor the store does not know); undefined
 * for anything else, which is a bug and answers 500. A TimedOut is a flow's (worker calls only).
 */
export function refusalAnswer(err: unknown): HttpError | undefined {
  if (err instanceof InvalidCursorError) return answer(400, 'invalid_request', err.message, 'after');
  for (const [kind, status, error] of ANSWERS) {
    if (err instanceof kind) return answer(status, error, err.message, err.field);
  }
  return undefined;
}
