/**
 * Several runner nodes on one PostgreSQL database: who owns which execution, and what happens to
 * the executions of a node that dies.
 *
 * - Every node has a row in `nodes` (name = `hostname:dataDir`, stable across its restarts; a new
 *   `instance` id per process start; `heartbeat_at` renewed every HEARTBEAT_MS by the database's
 *   clock, so clocks of the machines do not matter).
 * - An execution belongs to the node in its `owner` column. The column, not a leases table: the
 *   owner goes in the same row (and so the same statement and commit) as the status change that
 *   takes the execution on, restores need no join, and a lease is renewed per node (one row
 *   every 2 s), not per execution. Ended rows keep their owner: which node ran them.
 * - Every group commit of a node first takes a key-share lock on its own `nodes` row and checks that
 *   it is still this instance and not lost (fence()). The reaper takes that row FOR UPDATE SKIP
 *   LOCKED, so a node is never declared lost in the middle of a commit, and a node that was
 *   (it stalled longer than the lease) can commit nothing more: no write of a lost node lands
 *   after its executions were failed or handed to others.
 * - reapLostNodes(): a node whose heartbeat is older than LEASE_MS is lost. In one transaction
 *   (its row locked FOR UPDATE SKIP LOCKED: one reaper per lost node, others skip it) an async
 *   run it was still storing the inputs of fails (as at its own restart), the executions it may
 *   have started end FAILED "node <name> lost" — at most once: an execution that may have
 *   started is never run again — queued children of those end STOPPED, and what never started
 *   (queued, scheduled, created, paused before starting) and virtual executions (schedules,
 *   async runs: no process) are released (owner NULL) as they are, for any node to claim.
 */
import crypto from 'node:crypto';
import type { ClientBase } from 'pg';
import { ENDED_STATUSES } from '@flows/protocol';
import { EXECUTION_SELECT, rowToExecution, type Row } from './postgresQueries';
import { failBulkInserts } from './postgresWrites';
import type { StoredExecution } from './store';

/** How often a node renews its heartbeat. */
export const HEARTBEAT_MS = 2_000;
/** A node whose heartbeat is older than this is lost (five heartbeats missed). */
export const LEASE_MS = 10_000;
/** How often a node looks for lost nodes (and, with free slots, claims queued work). */
export const REAP_MS = 2_000;

const ENDED = [...ENDED_STATUSES];
/**
 * `status NOT IN (…ended)` as literal SQL (our own constants), so the planner can use the partial
 * index executions_owner_unfinished, which a parameter would hide from it.
 */
const UNFINISHED = `status NOT IN (${ENDED.map((s) => `'${s}'`).join(', ')})`;

/** This node's commits are refused: another node declared it lost (it stalled past the lease). */
export class NodeLostError extends Error {}

export function newInstanceId(): string {
  return crypto.randomUUID();
}

/** Registers this process as the node `name` (a restart of a node takes its row over). */
export async function registerNode(client: ClientBase, name: string, instance: string): Promise<void> {
  await client.query(
    `INSERT INTO nodes (name, instance, started_at, heartbeat_at, lost_at)
     VALUES ($1, $2, clock_timestamp(), clock_timestamp(), NULL)
     ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, started_at = excluded.started_at,
       heartbeat_at = excluded.heartbeat_at, lost_at = NULL`,
    [name, instance],
  );
}

/** Renews the heartbeat; false when this instance is no longer the node (declared lost, or replaced). */
export async function heartbeat(client: ClientBase, name: string, instance: string): Promise<boolean> {
  const res = await client.query(
    `UPDATE nodes SET heartbeat_at = clock_timestamp()
     WHERE name = $1 AND instance = $2 AND lost_at IS NULL`,
    [name, instance],
  );
  return (res.rowCount ?? 0) === 1;
}

/**
 * Inside a commit's transaction, before its writes: holds this node's row (FOR KEY SHARE: the heartbeat's update does not wait for it) to the end
 * of the transaction, so no reaper can declare it lost meanwhile, and throws NodeLostError if one
 * already did.
 */
export async function fence(client: ClientBase, name: string, instance: string): Promise<void> {
  const res = await client.query(
    'SELECT 1 FROM nodes WHERE name = $1 AND instance = $2 AND lost_at IS NULL FOR KEY SHARE',
    [name, instance],
  );
  if (res.rowCount !== 1) {
    throw new NodeLostError(
      `this runner node (${name}) was declared lost by another node (no heartbeat for ${LEASE_MS / 1000} s): its writes are refused`,
    );
  }
}

/** A graceful stop: the heartbeat is made old, so another node releases what is left at once. */
export async function leaveCluster(client: ClientBase, name: string, instance: string): Promise<void> {
  await client.query(`UPDATE nodes SET heartbeat_at = '-infinity' WHERE name = $1 AND instance = $2`, [
    name,
    instance,
  ]);
}

/**
 * The unfinished executions this node may restore at start, claimed in one statement: its own
 * (from its previous life) and unowned ones, never those of another node. Oldest first (parents
 * before children: see PostgresStore.listUnfinished).
 */
export async function claimUnfinished(client: ClientBase, name: string): Promise<StoredExecution[]> {
  const rows = (
    await client.query(
      `UPDATE executions e SET owner = $1
       WHERE e.seq IN (
         SELECT seq FROM executions
         WHERE ${UNFINISHED} AND (owner = $1 OR owner IS NULL)
         FOR UPDATE SKIP LOCKED)
       RETURNING e.created_at AS claim_created, e.seq AS claim_seq, ${EXECUTION_SELECT}`,
      [name],
    )
  ).rows as Row[];
  rows.sort(
    (a, b) =>
      String(a.claim_created).localeCompare(String(b.claim_created)) ||
      Number(a.claim_seq) - Number(b.claim_seq),
  );
  return rows.map(rowToExecution);
}

/**
 * Up to `limit` queued, unowned top-level executions for a node with free slots: highest
 * priority first, then oldest; rows another node is claiming are skipped, not waited for.
 * Children stay for the node of their parent's tree (their parent waits on that node).
 */
export async function claimQueued(
  client: ClientBase,
  name: string,
  limit: number,
): Promise<StoredExecution[]> {
  if (limit <= 0) return [];
  const rows = (
    await client.query(
      `UPDATE executions e SET owner = $1
       FROM (
         SELECT seq FROM executions
         WHERE status = 'QUEUED' AND owner IS NULL AND parent_execution_id IS NULL AND NOT virtual
         ORDER BY priority DESC, created_at, seq
         LIMIT $2
         FOR UPDATE SKIP LOCKED) c
       WHERE e.seq = c.seq
       RETURNING e.priority AS claim_priority, e.created_at AS claim_created, e.seq AS claim_seq, ${EXECUTION_SELECT}`,
      [name, limit],
    )
  ).rows as Row[];
  rows.sort(
    (a, b) =>
      Number(b.claim_priority) - Number(a.claim_priority) ||
      String(a.claim_created).localeCompare(String(b.claim_created)) ||
      Number(a.claim_seq) - Number(b.claim_seq),
  );
  return rows.map(rowToExecution);
}

export interface ReapedNode {
  name: string;
  failed: number;
  released: number;
  stopped: number;
}

/**
 * Finds nodes (other than `self`) whose heartbeat is older than `leaseMs` and ends what they
 * held (see the top of this file), each in one transaction. Returns what it did, per node.
 */
export async function reapLostNodes(
  client: ClientBase,
  self: string,
  leaseMs = LEASE_MS,
): Promise<ReapedNode[]> {
  const out: ReapedNode[] = [];
  for (;;) {
    await client.query('BEGIN');
    try {
      const lost = (
        await client.query<{ name: string }>(
          `SELECT name FROM nodes
           WHERE name <> $1 AND lost_at IS NULL
             AND heartbeat_at < clock_timestamp() - make_interval(secs => $2::float8 / 1000)
           ORDER BY heartbeat_at LIMIT 1
           FOR UPDATE SKIP LOCKED`,
          [self, leaseMs],
        )
      ).rows[0];
      if (!lost) {
        await client.query('COMMIT');
        return out;
      }
      out.push(await reapNode(client, lost.name));
      await client.query('UPDATE nodes SET lost_at = clock_timestamp() WHERE name = $1', [lost.name]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}

async function reapNode(client: ClientBase, name: string): Promise<ReapedNode> {
  // An async run it was still storing the inputs of was never accepted: as at its own restart.
  await failBulkInserts(client, name);
  const ts = new Date().toISOString();
  // Started (or may have started): RUNNING, BLOCKED, and PAUSED from one of them. At most once.
  const failed = await client.query<{ id: string }>(
    `UPDATE executions SET status = 'FAILED', message = $2, ended_at = $3, updated_at = $3, paused_from = NULL
     WHERE owner = $1 AND ${UNFINISHED} AND NOT virtual
       AND (status IN ('RUNNING', 'BLOCKED')
         OR (status = 'PAUSED' AND paused_from IN ('RUNNING', 'BLOCKED')))
     RETURNING id`,
    [name, `node ${name} lost`, ts],
  );
  // Not started children of what just failed: their parent will never wait for them again.
  const stopped = await client.query(
    `UPDATE executions SET status = 'STOPPED', message = $2, ended_at = $3, updated_at = $3, paused_from = NULL,
       owner = NULL
     WHERE owner = $1 AND ${UNFINISHED} AND parent_execution_id = ANY($4)`,
    [name, `its parent ended: node ${name} lost`, ts, failed.rows.map((r) => r.id)],
  );
  // Never started (queued, scheduled, created, paused before starting) and virtual ones: any
  // node may take them on.
  const released = await client.query(
    `UPDATE executions SET owner = NULL WHERE owner = $1 AND ${UNFINISHED}`,
    [name],
  );
  return {
    name,
    failed: failed.rowCount ?? 0,
    stopped: stopped.rowCount ?? 0,
    released: released.rowCount ?? 0,
  };
}
