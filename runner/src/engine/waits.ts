/**
 * What a flow waits on: executions (`execution.wait`), an answer to a form (`message.wait`), a
 * lock. The caller is BLOCKED meanwhile (its slot free for the executions it waits on) and gets
 * the result, or a TimedOut after its timeout.
 */
import { isEnded, type ExecutionRecord, type MessageRecord, type WaitCondition } from '@flows/protocol';
import { NotFound, TimedOut } from './errors';
import type { Active } from './executionTable';

/** What waiting needs of the engine. */
export interface WaitPort {
  get(id: string): Promise<ExecutionRecord | undefined>;
  waitForEnd(id: string): Promise<ExecutionRecord>;
  /** These executions are waited for (+1) or no longer (-1): see Dispatcher.awaiting. */
  awaiting(ids: readonly string[], delta: 1 | -1): void;
  block(a: Active, message: string): void;
  /** Undo one block(), unless the execution has ended meanwhile. */
  unblock(a: Active): void;
  /** Say what a BLOCKED execution still waits for (nothing when it is not blocked any more). */
  note(a: Active, message: string): void;
}

const waitingFor = (n: number) => `waiting for ${n} execution${n === 1 ? '' : 's'}`;

export function conditionMet(when: WaitCondition, recs: readonly ExecutionRecord[]): boolean {
  const ended = recs.filter((r) => isEnded(r.status));
  const allEnded = ended.length === recs.length;
  switch (when) {
    case 'ALL_ENDED':
      return allEnded;
    case 'ALL_SUCCEEDED':
      return allEnded || ended.some((r) => r.status !== 'SUCCEEDED');
    case 'FIRST_ENDED':
      return ended.length > 0;
    case 'FIRST_SUCCEEDED':
      return allEnded || ended.some((r) => r.status === 'SUCCEEDED');
  }
}

/** `p`, or a TimedOut after `seconds`. */
export function withTimeout<T>(
  p: Promise<T>,
  seconds: number,
  what: string,
  waitingFor: TimedOut['waitingFor'],
): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new TimedOut(`${what} timed out after ${seconds} s`, waitingFor)),
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

/** The execution's record, or a NotFound for the flow. */
export async function mustGet(port: Pick<WaitPort, 'get'>, id: string): Promise<ExecutionRecord> {
  const rec = await port.get(id);
  if (!rec) throw new NotFound(`execution '${id}' does not exist`);
  return rec;
}

const current = (port: WaitPort, ids: readonly string[]) => Promise.all(ids.map((id) => mustGet(port, id)));

/** `execution.wait`: the current record of every id once `when` holds, ended or not. */
export async function waitForExecutions(
  port: WaitPort,
  caller: Active,
  ids: readonly string[],
  when: WaitCondition,
  timeout: number | null | undefined,
): Promise<ExecutionRecord[]> {
  const first = await current(port, ids);
  if (ids.length === 0 || conditionMet(when, first)) return first;
  const pending = first.filter((r) => !isEnded(r.status)).map((r) => r.id);
  port.block(caller, waitingFor(pending.length));
  port.awaiting(pending, 1); // they may start even when waiting processes are at their limit
  try {
    const met = new Promise<void>((resolve) => {
      const latest = new Map(first.map((r) => [r.id, r]));
      for (const r of first) {
        if (isEnded(r.status)) continue;
        // Waiters of executions still running when this returns resolve later, unheard.
        void port.waitForEnd(r.id).then((rec) => {
          latest.set(rec.id, rec);
          const recs = ids.map((id) => latest.get(id)!);
          if (conditionMet(when, recs)) resolve();
          // The row says how many are left, not how many there were (one failed, one to go).
          else port.note(caller, waitingFor(recs.filter((x) => !isEnded(x.status)).length));
        });
      }
    });
    await (timeout != null ? withTimeout(met, timeout, 'execution.wait', 'executions') : met);
    return await current(port, ids);
  } finally {
    port.awaiting(pending, -1);
    port.unblock(caller);
  }
}

/** `message.wait`: the answer to a form, once a user gave it. */
export async function waitForMessage(
  port: WaitPort,
  messages: {
    get(id: string): Promise<MessageRecord | undefined>;
    answered(id: string): Promise<MessageRecord>;
  },
  caller: Active,
  id: string,
  timeout: number | null | undefined,
): Promise<{ response: MessageRecord['response'] }> {
  const msg = await messages.get(id);
  if (!msg) throw new NotFound(`message '${id}' does not exist`);
  if (msg.responded_at) return { response: msg.response };
  port.block(caller, `waiting for an answer to "${msg.subject}"`);
  try {
    const answered = messages.answered(id);
    const m =
      timeout != null ? await withTimeout(answered, timeout, 'message.wait', 'message') : await answered;
    return { response: m.response };
  } finally {
    port.unblock(caller);
  }
}
