/**
 * Named locks for flows (`lock.acquire` / `lock.release`): one holder per name, waiters served
 * first come, first served. Kept in memory: one runner owns a data folder, and a lock must not
 * outlive its holder, which a runner restart ends anyway. The engine calls `forget` whenever an
 * execution ends, however it ends, so a crashed or cancelled flow never leaves a lock held.
 */
import { TimedOut } from './errors';

interface Waiter {
  executionId: string;
  grant: () => void;
  fail: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

export class Locks {
  private readonly holders = new Map<string, string>();
  private readonly waiters = new Map<string, Waiter[]>();

  /**
   * Resolves once `executionId` holds `name`. `onWait` runs only when it has to wait (the
   * caller becomes BLOCKED); a wait longer than `timeout` seconds fails with lock_timeout.
   */
  acquire(executionId: string, name: string, timeout: number | null, onWait: () => void): Promise<void> {
    const holder = this.holders.get(name);
    if (holder === undefined || holder === executionId) {
      this.holders.set(name, executionId);
      return Promise.resolve();
    }
    onWait();
    return new Promise((resolve, reject) => {
      const w: Waiter = { executionId, grant: resolve, fail: reject };
      if (timeout != null) {
        w.timer = setTimeout(() => {
          this.dropWaiter(name, w);
          reject(new TimedOut(`lock '${name}' not acquired within ${timeout} s`, 'lock'));
        }, timeout * 1000);
      }
      const queue = this.waiters.get(name) ?? [];
      queue.push(w);
      this.waiters.set(name, queue);
    });
  }

  /** False when `executionId` did not hold `name`. */
  release(executionId: string, name: string): boolean {
    if (this.holders.get(name) !== executionId) return false;
    const queue = this.waiters.get(name);
    const next = queue?.shift();
    if (queue?.length === 0) this.waiters.delete(name);
    if (!next) {
      this.holders.delete(name);
      return true;
    }
    clearTimeout(next.timer);
    this.holders.set(name, next.executionId);
    next.grant();
    return true;
  }

  /** The execution ended: it stops waiting, and what it held goes to the next in line. */
  forget(executionId: string): void {
    for (const [name, queue] of [...this.waiters]) {
      for (const w of queue.filter((x) => x.executionId === executionId)) {
        this.dropWaiter(name, w);
        w.fail(new Error(`execution ${executionId} ended while waiting for lock '${name}'`));
      }
    }
    for (const [name, holder] of [...this.holders]) {
      if (holder === executionId) this.release(executionId, name);
    }
  }

  /** Who holds `name`, if anyone (tests and diagnostics). */
  holder(name: string): string | undefined {
    return this.holders.get(name);
  }

  private dropWaiter(name: string, w: Waiter): void {
    clearTimeout(w.timer);
    const queue = this.waiters.get(name);
    if (!queue) return;
    const i = queue.indexOf(w);
    if (i >= 0) queue.splice(i, 1);
    if (queue.length === 0) this.waiters.delete(name);
  }
}
