/**
 * Team mode: what the engine asks of the cluster its runner is a node of (several `flows serve`
 * on one PostgreSQL database: store/postgresNotify.ts), and what the cluster asks of it. Without
 * a cluster (SQLite, the memory store) the engine is a single node: every execution it can act
 * on or wait for is in its own table, and none of this is used.
 *
 * An execution that has not ended is held by exactly one node (its owner), and only that node
 * changes it: its process, slot and timers are there. So a wait on an execution of another node
 * hears of its end through the cluster, and cancel / pause / resume / start of one are asked of
 * its owner, which acts as if asked directly.
 */
import type { MessageRecord } from '@flows/protocol';
import type { StoredExecution } from '../store/store';
import { Conflict, Invalid, NotFound, Unavailable, type Refusal } from './errors';

export type ControlOp = 'cancel' | 'pause' | 'resume' | 'start';

/** The kinds of refusal (errors.ts) a node can send back to another: by name, not by class. */
export type RefusalKind = 'not_found' | 'conflict' | 'invalid' | 'unavailable';

export interface Refused {
  refused: RefusalKind;
  message: string;
}

/** What came of `op` on an execution this node does not hold. */
export type ControlOutcome =
  /** Done, by its owner or (nobody's) in the database: its record now. */
  | { done: StoredExecution }
  | Refused
  /** No other node holds it (it has ended, or is this node's): act here. */
  | { here: true };

export interface Cluster {
  /** Resolves with the record once `id`, which this node does not hold, has ended. */
  waitForEnd(id: string): Promise<StoredExecution>;
  /**
   * Resolves with the message once it is answered, on any node (a flow of this node waits for
   * an answer a user may give through another).
   */
  waitForAnswer(id: string): Promise<MessageRecord>;
  /** Has `op` done on `id` by the node that holds it (see ControlOutcome). */
  control(op: ControlOp, id: string, reason?: string): Promise<ControlOutcome>;
}

const KINDS: ReadonlyArray<[RefusalKind, new (message: string) => Refusal]> = [
  ['not_found', NotFound],
  ['conflict', Conflict],
  ['invalid', Invalid],
  ['unavailable', Unavailable],
];

/** A refusal to send to the node that asked; anything else (a bug) is sent as unavailable. */
export function refusedOf(err: unknown): Refused {
  const message = err instanceof Error ? err.message : String(err);
  const kind = KINDS.find(([, cls]) => err instanceof cls)?.[0];
  return { refused: kind ?? 'unavailable', message };
}

/** The refusal another node sent back, as the error this node's callers know. */
export function refusalOf(r: Refused): Refusal {
  const cls = KINDS.find(([kind]) => kind === r.refused)?.[1] ?? Unavailable;
  return new cls(r.message);
}
