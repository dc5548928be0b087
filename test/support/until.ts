/**
 * Waiting in tests without fixed sleeps: poll a read until it holds, and fail after a deadline
 * with what was waited for and the last value read.
 */

/** Polls `read` every `everyMs` until `done` holds; after `ms` throws naming `what` and the last value. */
export async function until<T>(
  read: () => Promise<T>,
  done: (v: T) => boolean,
  what: string,
  ms = 60_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
