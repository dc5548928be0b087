/**
 * The scheduler's sense of time, injectable so tests can move it by hand (a day across a DST
 * change takes no real time) while everything else runs for real.
 */
export interface Clock {
  now(): number;
  /** Call `fn` after `ms`; the answer cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** setTimeout holds at most ~24.8 days; the scheduler re-arms when it wakes early. */
const MAX_TIMER = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER));
    return () => clearTimeout(t);
  },
};
