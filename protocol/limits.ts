/**
 * Bounds on the data the runner accepts, in one place.
 *
 * Sizes are bounded in bytes where the data arrives (request bodies, WebSocket frames, worker
 * lines). Nesting is bounded separately: a 20 KB body of `[[[[…]]]]` is small, but every
 * recursive walk over it (JSON.stringify, structured clone, Python's json) needs one stack frame
 * per level, and past a few thousand levels it throws — in the middle of a store flush, say,
 * where it is nobody's error in particular. So every JSON document the runner accepts is checked
 * right after it is parsed (V8's JSON.parse itself is not recursive) and before anything walks it
 * again: a document nested too deep is that request's or that execution's error, never the
 * runner's.
 *
 * The checker below is iterative on purpose: it must not have the problem it detects.
 */

/**
 * The deepest nesting of any JSON document the runner accepts from outside: a REST body, a
 * WebSocket message, a webhook's JSON body, a flow's input and output. The document's own outer
 * object or array is level 1, so a body `{"input_value": {...}}` leaves 63 levels to its input.
 * Real data rarely passes 10 levels; 64 leaves ample room and stays far from any stack limit.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The deepest nesting of a line between the runner and its Python processes (fork server
 * commands, worker messages and replies). They wrap accepted values a few levels deeper
 * (`{"cmd":"spawn","job":{"record":{"input_value":…}}}`), so this is MAX_JSON_DEPTH plus a margin
 * for the envelope. Python's flows_worker/wire.py keeps the same numbers.
 */
export const MAX_WIRE_DEPTH = MAX_JSON_DEPTH + 8;

/** Request bodies of the REST API (webhook calls have their own limit). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Bodies of `…/webhook/<name>/call` (any content type). */
export const MAX_WEBHOOK_BODY_BYTES = 10 * 1024 * 1024;
/** One WebSocket message from a client. */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;
/**
 * A flow's output_value, as JSON: every list of executions carries it, so a 30 MB output would
 * make every list answer 30 MB. Past it the execution ends FAILED (a returned value) or the
 * save is refused (`this.save(output_value=…)`); flow_api's wire.py keeps the same number.
 */
export const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
/** One line from a Python process (a flow's output travels in one). */
export const MAX_WIRE_LINE_BYTES = 64 * 1024 * 1024;
/**
 * Unsent bytes the runner holds for one WebSocket client; past it the client is cut off
 * (WS_CLOSE_TOO_SLOW). The largest single event, an execution record with a MAX_OUTPUT_BYTES
 * output and its input, fits; a client on loopback that reads at all drains 8 MB in well under
 * a second, so one this far behind has stalled, and REST still has every record and log line.
 */
export const MAX_WS_CLIENT_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * Unsent bytes of all WebSocket connections together, however many stall: past it the one
 * furthest behind is cut off, or dropped if it already was. The heap holds up to about twice
 * these bytes (a queued entry per frame).
 */
export const MAX_WS_BUFFER_BYTES = 64 * 1024 * 1024;
/**
 * A client that was cut off and has read nothing for this long is dropped without waiting for
 * its answer to the close frame (which it will never read), and its unsent bytes are freed.
 */
export const WS_CLOSE_GRACE_MS = 3000;
/** The close code of a client cut off for not reading (1008, policy violation). */
export const WS_CLOSE_TOO_SLOW = 1008;

export type JsonPath = Array<string | number>;

export interface JsonLimitViolation {
  /** Where the first container past the limit is, from the document's root. */
  path: JsonPath;
  /** The limit that was passed. */
  limit: number;
  /** `<path>: nested deeper than <limit> levels` (the path shortened when long). */
  message: string;
}

interface Frame {
  value: unknown;
  depth: number;
  /** Linked list back to the root, built only for containers (no per-scalar allocation). */
  key: string | number | undefined;
  parent: Frame | undefined;
}

function pathOf(frame: Frame): JsonPath {
  const path: JsonPath = [];
  for (let f: Frame | undefined = frame; f?.parent; f = f.parent) path.push(f.key!);
  return path.reverse();
}

/** How the API names a spot: `a.b.0.c`, shortened to its first levels when deep. */
export function formatJsonPath(path: JsonPath, root?: string, shown = 5): string {
  const parts = root === undefined ? [...path] : [root, ...path];
  if (parts.length === 0) return 'body';
  const head = parts.slice(0, shown).join('.');
  return parts.length > shown ? `${head}.…` : head;
}

/**
 * Walk a parsed JSON value without recursion and return the first spot (depth-first) that nests
 * deeper than `maxDepth`, or undefined when the whole value is within it. `root` prefixes the
 * path in the message (e.g. `body` for a webhook's body).
 */
export function checkJsonDepth(
  value: unknown,
  maxDepth: number = MAX_JSON_DEPTH,
  root?: string,
): JsonLimitViolation | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  // Most values are fine: check them without building paths (a 100,000-input run took 75 ms
  // with a frame per container), and walk again for the path only when one is too deep.
  if (withinDepth(value, maxDepth)) return undefined;
  const stack: Frame[] = [{ value, depth: 1, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.depth > maxDepth) {
      const path = pathOf(frame);
      return {
        path,
        limit: maxDepth,
        message: `${formatJsonPath(path, root)}: nested deeper than ${maxDepth} levels`,
      };
    }
    const v = frame.value;
    const childDepth = frame.depth + 1;
    if (Array.isArray(v)) {
      // Pushed in reverse, so the first element is looked at first ("first" spot, in order).
      for (let i = v.length - 1; i >= 0; i--) {
        const c: unknown = v[i];
        if (c !== null && typeof c === 'object')
          stack.push({ value: c, depth: childDepth, key: i, parent: frame });
      }
    } else {
      const keys = Object.keys(v as object);
      for (let i = keys.length - 1; i >= 0; i--) {
        const c: unknown = (v as Record<string, unknown>)[keys[i]];
        if (c !== null && typeof c === 'object')
          stack.push({ value: c, depth: childDepth, key: keys[i], parent: frame });
      }
    }
  }
  return undefined;
}

/** Whether every container in `value` is at most `maxDepth` deep: no allocation per container. */
function withinDepth(value: object, maxDepth: number): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop() as object;
    const depth = depths.pop()!;
    if (depth > maxDepth) return false;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c: unknown = v[i];
        if (c !== null && typeof c === 'object') {
          values.push(c);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const k in v) {
        const c: unknown = (v as Record<string, unknown>)[k];
        if (c !== null && typeof c === 'object') {
          values.push(c);
          depths.push(depth + 1);
        }
      }
    }
  }
  return true;
}

/**
 * Whether the JSON text in `bytes` nests at most `maxDepth` deep, by counting brackets outside
 * strings: one pass over the bytes (about 2 ms for a 100,000-input run, where walking the parsed
 * value took 15–75 ms). For text that may not be valid JSON it answers about the brackets
 * only; a caller that gets false walks the parsed value for the path (checkJsonDepth).
 */
export function jsonTextWithinDepth(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > maxDepth) return false;
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return true;
}

/** Thrown by parseJsonBounded for a document nested too deep (a SyntaxError is not caught). */
export class JsonTooDeepError extends Error {
  constructor(readonly violation: JsonLimitViolation) {
    super(violation.message);
    this.name = 'JsonTooDeepError';
  }
}

/** JSON.parse, then the depth check: a document either comes back within the limit or throws. */
export function parseJsonBounded(text: string, maxDepth: number = MAX_JSON_DEPTH, root?: string): unknown {
  const value: unknown = JSON.parse(text);
  const violation = checkJsonDepth(value, maxDepth, root);
  if (violation) throw new JsonTooDeepError(violation);
  return value;
}
