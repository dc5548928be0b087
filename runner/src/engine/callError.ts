/**
 * Errors a worker call answers with. The `code` travels in the reply (docs/worker-protocol.md)
 * so flow_api can raise a specific exception (a missing record, a lock or wait that timed out)
 * without matching message text.
 */
import type { CallErrorCode } from '../../../protocol';
import { EngineError } from './engine';

export class CallError extends Error {
  constructor(
    readonly code: CallErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The `error` of a reply. EngineErrors come from operations the REST API shares. */
export function replyError(err: unknown): { message: string; code?: CallErrorCode } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof CallError) return { message, code: err.code };
  if (err instanceof EngineError) {
    if (err.status === 404) return { message, code: 'not_found' };
    if (err.status === 400) return { message, code: 'invalid' };
  }
  return { message };
}

/** `p`, or a CallError('timeout') after `seconds`. */
export function withTimeout<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new CallError('timeout', `${what} timed out after ${seconds} s`)),
      seconds * 1000,
    );
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
