// Ctrl-C during `flows run`: the flow is cancelled rather than left running behind the terminal.

/** `flows run`'s exit code when Ctrl-C stopped the flow (128 + SIGINT, as shells report it). */
export const INTERRUPTED = 130;

/**
 * Ctrl-C (or SIGTERM) during `flows run` aborts the returned signal: the run cancels its tree and
 * still prints it, now STOPPED, so nothing is left running behind the terminal. A second Ctrl-C
 * quits at once.
 */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(INTERRUPTED);
    process.stderr.write('flows: cancelling the execution… (press Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Calls `cancel` once when `signal` aborts (at once if it already has). */
export function onAbort(signal: AbortSignal | undefined, cancel: () => Promise<unknown>): void {
  const run = () =>
    void cancel().catch((err: Error) => process.stderr.write(`flows: cancel failed: ${err.message}\n`));
  if (signal?.aborted) run();
  else signal?.addEventListener('abort', run, { once: true });
}
