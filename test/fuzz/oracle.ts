/**
 * What every answer must satisfy, whatever was asked.
 *
 * HTTP: no 5xx; an answer at all; and every 400, 413 or 422 names its field. The runner's errors
 * (http/validation.ts) are `{error, message, issues?: [{path, message}]}` with the message
 * `<field>: <reason>` (issues joined by `; `), so:
 *
 *   the named fields are the `path` of every issue, else the message's prefix before its first
 *   `": "` — there must be at least one, each non-empty and
 *   (R1) the message says each of them (a client that shows only the message shows the field);
 *   (R2) each is rooted in the request: its first segment is `body`, `query` or `path` (the
 *        whole of one), a property of the operation's body schema, one of its query or path
 *        parameters, a top-level key the request sent (an unknown one is still its field), or
 *        an array index when the body itself is an array;
 *   (R3) when the case broke one field (`target`), one named field is that field, lies inside
 *        it or contains it (`input_value.a.a.a.a.…` for a too deep `input_value`; `config` for
 *        an unknown key inside `config`), or the message mentions it by name (`body: unknown
 *        field(s) zzz`). A case that broke the body as a whole accepts any field of it. A path
 *        parameter that may hold `/` (an action) may be named `path`: the router sees it as the
 *        rest of the path.
 *
 * A 413 names the body as a whole: its message must say `body`.
 *
 * WebSocket: every `error` message is `<field>: <reason>` with the same R2 (against the message
 * type's schema; `message` is the message as a whole) and R3.
 */

export interface FieldContext {
  /** Roots a named field may start with. */
  roots: Set<string>;
  /** The field the case broke, if one: a dotted path, `body` for the whole document. */
  target?: string;
  /** Other names of the target, as good (`path` for a path parameter that may hold `/`). */
  aliases?: string[];
  /** What the whole document is called in messages: `body` (HTTP) or `message` (WebSocket). */
  whole: string;
}

const prefixOf = (message: string): string | undefined => {
  const i = message.indexOf(': ');
  return i > 0 ? message.slice(0, i) : undefined;
};

/**
 * Whether the named field and the broken one are the same, or one lies inside the other
 * (`config` and `config.zzz`). The runner shortens deep paths to their first levels and `…`
 * (`input_value.a.a.a.a.…`): such a path goes on below its head.
 */
export function related(named: string, target: string): boolean {
  const within = (a: string, b: string) => a === b || a.startsWith(`${b}.`);
  if (named.endsWith('.…')) {
    const head = named.slice(0, -2);
    return within(target, head) || within(head, target);
  }
  return within(named, target) || within(target, named);
}

function rootOk(named: string, ctx: FieldContext): boolean {
  const root = named.split('.')[0];
  return ctx.roots.has(root) || root === ctx.whole || /^\d+$/.test(root);
}

/** The fields a 400's body names, or a problem when it names none the right way. */
export function checkNamesField(body: unknown, ctx: FieldContext): string | undefined {
  if (!body || typeof body !== 'object') return 'the answer is not a JSON error object';
  const { error, message, issues } = body as { error?: unknown; message?: unknown; issues?: unknown };
  if (typeof error !== 'string' || typeof message !== 'string')
    return 'the answer lacks string `error` and `message`';
  let named: string[];
  if (issues !== undefined) {
    if (!Array.isArray(issues) || issues.length === 0) return '`issues` is not a non-empty list';
    named = issues.map((i: { path?: unknown }) => (typeof i?.path === 'string' ? i.path : ''));
    if (named.some((n) => !n)) return 'an issue without a path';
  } else {
    const p = prefixOf(message);
    if (!p) return 'the message does not start with `<field>: `';
    named = [p];
  }
  for (const n of named) {
    if (!message.includes(n)) return `the message does not say the field ${JSON.stringify(n)}`;
    if (!rootOk(n, ctx)) return `${JSON.stringify(n)} is not a field of this request`;
  }
  const t = ctx.target;
  if (t !== undefined && t !== 'body' && t !== ctx.whole) {
    const names = [t, ...(ctx.aliases ?? [])];
    if (!names.some((a) => named.some((n) => related(n, a)) || mentions(message, a)))
      return `names ${JSON.stringify(named)}, not the broken field ${JSON.stringify(t)}`;
  }
  return undefined;
}

/**
 * Whether a message names the field `target` in its text (`body: unknown field(s) zzz` for the
 * unknown key zzz: the error is the object's): its last key as a whole word, or quoted. An index
 * does not count (a `0` is in too many messages), nor does a blank key unless quoted.
 */
function mentions(message: string, target: string): boolean {
  const last = target.split('.').at(-1)!;
  if (message.includes(JSON.stringify(last))) return true;
  if (last.trim() === '' || /^\d+$/.test(last)) return false;
  const escaped = last.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\p{L}\\p{N}_])${escaped}($|[^\\p{L}\\p{N}_])`, 'u').test(message);
}

/** The WebSocket's `error` message text, checked as a 400's message. */
export function checkWsError(message: string, ctx: FieldContext): string | undefined {
  return checkNamesField({ error: 'error', message }, ctx);
}

/** Problems with one HTTP answer. */
export function checkHttpAnswer(status: number, body: unknown, ctx: FieldContext): string | undefined {
  if (status >= 500) return `a ${status}`;
  if (status === 413) {
    const m = (body as { message?: unknown } | undefined)?.message;
    return typeof m === 'string' && m.includes('body')
      ? undefined
      : 'a 413 whose message does not name the body';
  }
  if (status === 400 || status === 422) {
    const problem = checkNamesField(body, ctx);
    return problem ? `a ${status} that does not name its field: ${problem}` : undefined;
  }
  return undefined;
}
