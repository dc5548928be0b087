/** A max_runtime_minutes beyond Node's timer range (~24.8 days) fires at its deadline, not before. */
import assert from 'node:assert/strict';
import { longTimeout, MAX_TIMER_MS } from '../../runner/src/engine/longTimer';

/** A hand-driven clock and timer table: the unit's own boundary (setTimeout and Date.now). */
function fakeTimers() {
  let t = 0;
  let next = 1;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const set = ((fn: () => void, ms: number) => {
    assert.ok(ms <= MAX_TIMER_MS, `a timer of ${ms} ms would fire at once in Node`);
    pending.set(next, { at: t + ms, fn });
    return next++;
  }) as unknown as typeof setTimeout;
  const clear = ((id: number) => pending.delete(id)) as unknown as typeof clearTimeout;
  /** Runs every timer due up to `until`, in order. */
  const advance = (until: number) => {
    for (;;) {
      const due = [...pending].filter(([, p]) => p.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      pending.delete(due[0]);
      t = due[1].at;
      due[1].fn();
    }
    t = until;
  };
  return { now: () => t, timers: { set, clear }, advance, pending };
}

describe('reliability: long timers', () => {
  it('fires a 40,000-minute limit after 40,000 minutes, re-arming past 2^31-1 ms', () => {
    const f = fakeTimers();
    let fired = 0;
    const ms = 40_000 * 60_000; // above the 35,791 minutes a single timer can hold
    longTimeout(() => fired++, ms, f.now, f.timers);
    f.advance(ms - 1);
    assert.equal(fired, 0, 'not before its deadline');
    f.advance(ms);
    assert.equal(fired, 1);
  });

  it('can be cleared before it fires, also after re-arming', () => {
    const f = fakeTimers();
    let fired = 0;
    const timer = longTimeout(() => fired++, 3 * MAX_TIMER_MS, f.now, f.timers);
    f.advance(MAX_TIMER_MS + 5);
    timer.clear();
    f.advance(4 * MAX_TIMER_MS);
    assert.equal(fired, 0);
    assert.equal(f.pending.size, 0);
  });
});
