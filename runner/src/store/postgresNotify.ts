/**
 * What the nodes of a cluster tell each other through PostgreSQL's NOTIFY, as it goes on the
 * wire (postgresCluster.ts listens and acts on it).
 *
 * - Channel `flows_executions`: which executions a transaction changed. Sent inside that
 *   transaction, so it arrives once, at its commit, and never for a commit that failed. One
 *   notification holds as many changes as fit under MAX_PAYLOAD_BYTES (PostgreSQL refuses a
 *   payload of 8000 bytes), all sent by one statement: a commit of 2,000 rows is about 20
 *   notifications and one round trip, not 2,000. Ids and statuses only, never the records:
 *   a record may be megabytes, and a node that needs them reads the rows, in batches.
 * - Channel `flows_control`: a request to the node that owns an execution, and its answer.
 */
import type { ClientBase } from 'pg';
import type { ControlOp, RefusalKind } from '../engine/executions';

export const EXECUTIONS_CHANNEL = 'flows_executions';
export const CONTROL_CHANNEL = 'flows_control';

/** PostgreSQL refuses a payload of 8000 bytes or more (its default build); this leaves room. */
export const MAX_PAYLOAD_BYTES = 7_800;

/** An execution a transaction wrote: its status after it, and whether it inserted the row. */
export interface ExecutionChange {
  id: string;
  status: string;
  created: boolean;
}

/**
 * A notification of `flows_executions`: `n` the instance of the node whose engine made the
 * changes (it announced them itself, and skips them), '' for changes made in the database with
 * no engine behind them (a lost node's executions failed by the reaper, an unowned one
 * cancelled), which every node announces; `e` the changes as [id, status, 1 if created]; `m`
 * forms (messages) answered, whose flow may wait on another node.
 */
export interface ChangesPayload {
  n: string;
  e?: Array<[id: string, status: string, created: 0 | 1]>;
  m?: string[];
}

/** The payloads that carry `changes` and `answered`, each under MAX_PAYLOAD_BYTES. */
export function changePayloads(
  sender: string,
  changes: readonly ExecutionChange[],
  answered: readonly string[] = [],
): string[] {
  const out: string[] = [];
  const pack = (key: 'e' | 'm', items: readonly string[]) => {
    const head = `{"n":${JSON.stringify(sender)},"${key}":[`;
    let part: string[] = [];
    let bytes = head.length + 2;
    for (const item of items) {
      const size = Buffer.byteLength(item) + 1;
      if (part.length > 0 && bytes + size > MAX_PAYLOAD_BYTES) {
        out.push(`${head}${part.join(',')}]}`);
        part = [];
        bytes = head.length + 2;
      }
      // Ids are the runner's own (UUIDs): one item never comes near the limit alone.
      part.push(item);
      bytes += size;
    }
    if (part.length) out.push(`${head}${part.join(',')}]}`);
  };
  pack(
    'e',
    changes.map((c) => JSON.stringify([c.id, c.status, c.created ? 1 : 0])),
  );
  pack(
    'm',
    answered.map((id) => JSON.stringify(id)),
  );
  return out;
}

/** Inside the caller's transaction: tells every listening node of the changes at its commit. */
export async function notifyChanges(
  client: ClientBase,
  sender: string,
  changes: readonly ExecutionChange[],
  answered: readonly string[] = [],
): Promise<void> {
  if (changes.length === 0 && answered.length === 0) return;
  await client.query(`SELECT pg_notify('${EXECUTIONS_CHANNEL}', p) FROM unnest($1::text[]) AS p`, [
    changePayloads(sender, changes, answered),
  ]);
}

/** A request of `flows_control`: `op` on execution `id`, for the node named `to`. */
export interface ControlRequest {
  to: string;
  op: ControlOp;
  id: string;
  /** The request's own id, which the answer names. */
  req: string;
  reason?: string;
}

/** The answer of `flows_control` to request `re`: done (no `refused`), or refused. */
export interface ControlAnswer {
  re: string;
  refused?: RefusalKind;
  message?: string;
}
