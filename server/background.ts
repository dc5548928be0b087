// Whole-file work (the reparse and re-analysis of a document, its diagnostics) runs here in
// slices of a few milliseconds, with the event loop free between slices, so a completion that
// arrives while a 5,000-line flow is being re-read waits for one slice at most, not for the whole
// re-read (10–20 ms after a keystroke, 50–150 ms when a broken line makes tree-sitter recover
// over the rest of the file). Work is written as generators that `yield` where they may stop;
// tree-sitter's parse stops and resumes in the same way (see `PythonParser.parseSteps`).

/** Work that may stop at each `yield` and go on later; returns its result. */
export type Steps<T> = Generator<void, T, void>;

/** Tells work in progress when its slice is over (`expired`), so it yields. */
export interface Slice {
  expired(): boolean;
}

/** For work run to the end at once (start-up, tests, the synchronous `reparse`). */
export const UNLIMITED: Slice = { expired: () => false };

/** Runs `steps` to the end without stopping. */
export function drain<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** How long a slice runs before the event loop gets a turn. */
const SLICE_MS = 2;
/**
 * The pause between slices. A timer rather than `setImmediate`: the LSP connection handles one
 * message and writes one answer per `setImmediate` turn, and an immediate of ours would slot a
 * slice between a `didChange` and the completion behind it, or between the answer and its write.
 */
const GAP_MS = 1;

interface Job {
  steps: Steps<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** One queue of background work for the process, run one job at a time, first come first served. */
export class Background {
  private readonly queue: Job[] = [];
  private running: Job | undefined;
  private timer: NodeJS.Timeout | undefined;
  private deadline = 0;
  readonly slice: Slice = { expired: () => performance.now() >= this.deadline };

  constructor(private readonly sliceMs = SLICE_MS) {}

  /** Queues work made with `this.slice`; the promise settles with its result or error. */
  run<T>(steps: Steps<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ steps, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Stops work queued or under way (its `finally` blocks run); its promise rejects with `Cancelled`. */
  cancel(steps: Steps<unknown>): void {
    const i = this.queue.findIndex((j) => j.steps === steps);
    const job =
      i >= 0 ? this.queue.splice(i, 1)[0] : this.running?.steps === steps ? this.running : undefined;
    if (!job) return;
    if (job === this.running) this.running = undefined;
    try {
      steps.return(undefined);
    } finally {
      job.reject(new Cancelled());
    }
  }

  private schedule(): void {
    if (this.timer || (!this.running && !this.queue.length)) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.step();
    }, GAP_MS);
  }

  private step(): void {
    this.deadline = performance.now() + this.sliceMs;
    while (performance.now() < this.deadline) {
      const job = (this.running ??= this.queue.shift());
      if (!job) return;
      let next: IteratorResult<void, unknown>;
      try {
        next = job.steps.next();
      } catch (err) {
        this.running = undefined;
        job.reject(err);
        continue;
      }
      if (next.done) {
        this.running = undefined;
        job.resolve(next.value);
      }
    }
    this.schedule();
  }
}

/** Work stopped by `Background.cancel`. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}
