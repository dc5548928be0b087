/**
 * setTimeout for any delay. Node fires a timer of more than 2^31-1 ms (~24.8 days) at once (or,
 * capped, after 24.8 days), so `max_runtime_minutes` above ~35,791 used to stop runs early:
 * a long wait is armed in steps until its deadline.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LongTimer {
  clear(): void;
}

export function longTimeout(
  fn: () => void,
  ms: number,
  now: () => number = Date.now,
  timers: { set: typeof setTimeout; clear: typeof clearTimeout } = { set: setTimeout, clear: clearTimeout },
): LongTimer {
  const deadline = now() + ms;
  let handle: ReturnType<typeof setTimeout>;
  const arm = () => {
    const left = deadline - now();
    handle = timers.set(() => (now() < deadline ? arm() : fn()), Math.max(0, Math.min(left, MAX_TIMER_MS)));
  };
  arm();
  return { clear: () => timers.clear(handle) };
}
