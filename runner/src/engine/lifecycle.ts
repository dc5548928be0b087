/**
 * Which status may follow which: the execution lifecycle as a table, with nothing else in it.
 *
 *   CREATED → QUEUED (or SCHEDULED until scheduled_for) → RUNNING ⇄ BLOCKED → an ended status;
 *   any status that has not ended may be PAUSED and resumed to where it came from, and end.
 *
 * Virtual executions (a schedule's SCHEDULE execution, an async run's parent) follow what they
 * stand for, which adds a few edges: a run's parent goes QUEUED → BLOCKED when its first child
 * started and ended in the same turn, a schedule's goes SCHEDULED ⇄ RUNNING with its runs.
 * Only STOPPED is ever left again: a stopped run that is resumed queues its executions anew.
 *
 * The engine checks every status change against this table (see checkTransition). Keeping the
 * same status is not a transition: a message or an output may change at any time before the end.
 */
import { ENDED_STATUSES, isEnded, type ExecutionStatus } from '@flows/protocol';

const ENDED = [...ENDED_STATUSES];

const NEXT: Readonly<Record<ExecutionStatus, readonly ExecutionStatus[]>> = {
  CREATED: ['QUEUED', 'SCHEDULED', 'PAUSED', ...ENDED],
  QUEUED: ['RUNNING', 'SCHEDULED', 'PAUSED', 'BLOCKED', ...ENDED],
  SCHEDULED: ['QUEUED', 'RUNNING', 'PAUSED', ...ENDED],
  RUNNING: ['BLOCKED', 'PAUSED', 'SCHEDULED', ...ENDED],
  BLOCKED: ['RUNNING', 'PAUSED', ...ENDED],
  // Back to where it was paused from (a virtual one to whatever its owner had it in).
  PAUSED: ['CREATED', 'QUEUED', 'SCHEDULED', 'RUNNING', 'BLOCKED', ...ENDED],
  SUCCEEDED: [],
  FAILED: [],
  // Resuming a stopped run (the runs API) queues it again; no other end is ever left.
  STOPPED: ['QUEUED'],
  INVALID: [],
  PARTIAL_SUCCEEDED: [],
};

const ALLOWED: ReadonlyMap<ExecutionStatus, ReadonlySet<ExecutionStatus>> = new Map(
  Object.entries(NEXT).map(([from, to]) => [from as ExecutionStatus, new Set(to)]),
);

/** Whether an execution in `from` may go to `to` (staying put is allowed before the end). */
export function canTransition(from: ExecutionStatus, to: ExecutionStatus): boolean {
  if (from === to) return !isEnded(from);
  return ALLOWED.get(from)?.has(to) ?? false;
}

/** The statuses that may follow `from`, in the table's order. */
export function nextStatuses(from: ExecutionStatus): readonly ExecutionStatus[] {
  return NEXT[from];
}

const BEFORE = new Map<ExecutionStatus, ReadonlySet<ExecutionStatus>>(
  (Object.keys(NEXT) as ExecutionStatus[]).map((to) => [
    to,
    new Set([to, ...(Object.keys(NEXT) as ExecutionStatus[]).filter((from) => NEXT[from].includes(to))]),
  ]),
);

/** The statuses an execution may have had just before `to` (itself included: a change of message). */
export function statusesBefore(to: ExecutionStatus): ReadonlySet<ExecutionStatus> {
  return BEFORE.get(to)!;
}

/** A status change the table does not allow: a bug in whoever made it. */
export class IllegalTransition extends Error {
  constructor(
    readonly executionId: string,
    readonly from: ExecutionStatus,
    readonly to: ExecutionStatus,
  ) {
    super(`execution ${executionId}: ${from} → ${to} is not a transition of the execution lifecycle`);
  }
}

/**
 * What to do with an illegal transition. 'throw' in tests, so a change the table does not know
 * fails where it is made. 'log' in a serving runner: the change is made and logged, because the
 * status is one step of several (a slot, a timer, the store) and throwing in the middle of them
 * would leave the engine's state half changed — worse than a status that skipped a step.
 */
export type IllegalTransitionPolicy = 'throw' | 'log';

/** Called by the engine on every status change, before it is made. */
export function checkTransition(
  executionId: string,
  from: ExecutionStatus,
  to: ExecutionStatus,
  policy: IllegalTransitionPolicy,
  log: (msg: string) => void,
): void {
  if (canTransition(from, to)) return;
  const err = new IllegalTransition(executionId, from, to);
  if (policy === 'throw') throw err;
  log(`${err.message} (made anyway; please report it)`);
}
