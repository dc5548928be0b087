/** A clock the test moves by hand, for the scheduler: a day (or a DST change) takes no real time. */
import type { Clock } from '../../runner/src/schedules/clock';

interface Timer {
  at: number;
  fn: () => void;
  seq: number;
}

export class ManualClock implements Clock {
  private timers: Timer[] = [];
  private seq = 0;

  constructor(private t: number) {}

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + Math.max(0, ms), fn, seq: ++this.seq };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }

  /** The time of the earliest armed timer, if any. */
  nextTimer(): number | undefined {
    return this.timers.reduce<number | undefined>(
      (m, x) => (m === undefined || x.at < m ? x.at : m),
      undefined,
    );
  }

  /** Move to `time`, running every timer that falls due on the way, in time order. */
  set(time: number): void {
    for (;;) {
      const due = this.timers.filter((x) => x.at <= time).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = Math.max(this.t, time);
  }

  advance(ms: number): void {
    this.set(this.t + ms);
  }
}
