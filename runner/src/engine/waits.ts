/**
 * `execution.wait`: the caller is BLOCKED (its slot free for the executions it waits on) until
 * the `return_when` condition holds, then gets the current record of every id, ended or not.
 */
import { isEnded, type ExecutionRecord, type WaitCondition } from '../../../protocol';
import { CallError, withTimeout } from './callError';
import type { Active, Engine } from './engine';

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

/** The execution's record, or a not_found CallError for the flow. */
export async function mustGet(engine: Engine, id: string): Promise<ExecutionRecord> {
  const rec = await engine.get(id);
  if (!rec) throw new CallError('not_found', `execution '${id}' does not exist`);
  return rec;
}

const current = (engine: Engine, ids: readonly string[]) => Promise.all(ids.map((id) => mustGet(engine, id)));

export async function waitForExecutions(
  engine: Engine,
  caller: Active,
  ids: readonly string[],
  when: WaitCondition,
  timeout: number | null | undefined,
): Promise<ExecutionRecord[]> {
  const first = await current(engine, ids);
  if (ids.length === 0 || conditionMet(when, first)) return first;
  const pending = first.filter((r) => !isEnded(r.status)).map((r) => r.id);
  const n = pending.length;
  engine.block(caller, `waiting for ${n} execution${n === 1 ? '' : 's'}`);
  engine.awaiting(pending, 1); // they may start even when waiting processes are at their limit
  try {
    const met = new Promise<void>((resolve) => {
      const latest = new Map(first.map((r) => [r.id, r]));
      for (const r of first) {
        if (isEnded(r.status)) continue;
        // Waiters of executions still running when this returns resolve later, unheard.
        void engine.waitForEnd(r.id).then((rec) => {
          latest.set(rec.id, rec);
          if (
            conditionMet(
              when,
              ids.map((id) => latest.get(id)!),
            )
          )
            resolve();
        });
      }
    });
    await (timeout != null ? withTimeout(met, timeout, 'execution.wait') : met);
    return await current(engine, ids);
  } finally {
    engine.awaiting(pending, -1);
    if (engine.active.get(caller.rec.id) === caller) engine.unblock(caller);
  }
}
