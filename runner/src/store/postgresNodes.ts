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
import { ENDED_STATUSES, isEnded, type ExecutionStatus } from '@flows/protocol';
import type { ControlOp, ControlOutcome } from '../engine/executions';
import { notifyChanges, type ExecutionChange } from './postgresNotify';
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
export const UNFINISHED = `status NOT IN (${ENDED.map((s) => `'${s}'`).join(', ')})`;

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
  return oldestFirst(rows);
}

/**
 * Claimed rows (RETURNING claim_created and claim_seq) oldest first: parents before their
 * children, as a restore takes them up.
 */
function oldestFirst(rows: Row[]): StoredExecution[] {
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
  const failed = await client.query<{ id: string; status: string }>(
    `UPDATE executions SET status = 'FAILED', message = $2, ended_at = $3, updated_at = $3, paused_from = NULL
     WHERE owner = $1 AND ${UNFINISHED} AND NOT virtual
       AND (status IN ('RUNNING', 'BLOCKED')
         OR (status = 'PAUSED' AND paused_from IN ('RUNNING', 'BLOCKED')))
     RETURNING id, status`,
    [name, `node ${name} lost`, ts],
  );
  // Not started children of what just failed: their parent will never wait for them again.
  const stopped = await client.query<{ id: string; status: string }>(
    `UPDATE executions SET status = 'STOPPED', message = $2, ended_at = $3, updated_at = $3, paused_from = NULL,
       owner = NULL
     WHERE owner = $1 AND ${UNFINISHED} AND parent_execution_id = ANY($4)
     RETURNING id, status`,
    [name, `its parent ended: node ${name} lost`, ts, failed.rows.map((r) => r.id)],
  );
  // No engine announces these ends: every node does (its WebSocket clients, and waits on them
  // in other nodes' flows).
  await notifyChanges(
    client,
    '',
    [...failed.rows, ...stopped.rows].map((r) => ({ id: r.id, status: r.status, created: false })),
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

/**
 * Trees of executions no node owns that claimQueued leaves (released by reapNode): an async run
 * with its children, and single ones that are not plainly queued (scheduled, created, paused
 * before starting). A tree goes whole to one node: the node of a parent holds its children, so
 * that cancel and pause cascade there. A schedule's tree is its scheduler's, taken up by a node's
 * start (claimUnfinished). Up to `maxTrees` trees, each in a transaction of its own that holds
 * the row of the tree's top (two nodes never split a tree) and is fenced as a commit is (a node
 * declared lost claims nothing).
 */
export async function claimReleasedTrees(
  client: ClientBase,
  name: string,
  instance: string,
  maxTrees: number,
): Promise<StoredExecution[]> {
  const out: StoredExecution[] = [];
  const skipped: string[] = [];
  for (let n = 0; n < maxTrees; n++) {
    const top = (
      await client.query<{ top: string }>(
        `SELECT e.top_execution_id AS top FROM executions e
         WHERE e.owner IS NULL AND e.${UNFINISHED}
           AND NOT (e.status = 'QUEUED' AND e.parent_execution_id IS NULL AND NOT e.virtual)
           AND e.top_execution_id <> ALL($1)
           AND NOT EXISTS (SELECT 1 FROM executions t WHERE t.id = e.top_execution_id AND t.type = 'SCHEDULE')
         LIMIT 1`,
        [skipped],
      )
    ).rows[0]?.top;
    if (!top) break;
    await client.query('BEGIN');
    try {
      await fence(client, name, instance);
      const locked = await client.query('SELECT 1 FROM executions WHERE id = $1 FOR UPDATE SKIP LOCKED', [
        top,
      ]);
      if (locked.rowCount !== 1) {
        // Another node is claiming it.
        skipped.push(top);
        await client.query('COMMIT');
        continue;
      }
      const rows = (
        await client.query(
          `UPDATE executions SET owner = $1
           WHERE top_execution_id = $2 AND owner IS NULL AND ${UNFINISHED}
           RETURNING created_at AS claim_created, seq AS claim_seq, ${EXECUTION_SELECT}`,
          [name, top],
        )
      ).rows as Row[];
      await client.query('COMMIT');
      out.push(...oldestFirst(rows));
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
  return out;
}

/** The execution `$1` and every execution below it, with its depth (0 for `$1`). */
const TREE = `WITH RECURSIVE tree(id, depth) AS (
    SELECT id, 0 FROM executions WHERE id = $1
    UNION ALL SELECT e.id, tree.depth + 1 FROM executions e JOIN tree ON e.parent_execution_id = tree.id)`;

/**
 * `op` on an execution no node owns (a lost node's, released and not yet claimed), done in the
 * database as its engine would have done it (control.ts): cancel and pause cascade to the unowned
 * executions below it, resume brings each back to where it was paused from, start queues a
 * created one (the node that claims it holds it until its scheduled_for). Its row is locked
 * first, so no node claims it meanwhile; the changes are announced to every node, this one
 * included (no engine announced them). Undefined when a node owns it after all (ask that node).
 */
export async function actUnowned(
  client: ClientBase,
  op: ControlOp,
  id: string,
  reason = 'cancelled',
): Promise<ControlOutcome | undefined> {
  await client.query('BEGIN');
  try {
    const row = (
      await client.query<{ owner: string | null; status: ExecutionStatus }>(
        'SELECT owner, status FROM executions WHERE id = $1 FOR UPDATE',
        [id],
      )
    ).rows[0];
    let out: ControlOutcome | undefined;
    if (!row || isEnded(row.status)) out = { here: true };
    else if (row.owner !== null) out = undefined;
    else if (op === 'start' && row.status !== 'CREATED')
      out = { refused: 'conflict', message: `execution ${id} is ${row.status}, not CREATED` };
    else {
      const ts = new Date().toISOString();
      const changed = (
        await client.query<ExecutionChange>(
          op === 'start'
            ? `UPDATE executions x SET status = 'QUEUED', updated_at = $2 WHERE id = $1
               RETURNING x.id, x.status, false AS created`
            : `${TREE} UPDATE executions x SET ${UNOWNED_SET[op]}
               FROM tree WHERE x.id = tree.id AND x.owner IS NULL AND x.${UNFINISHED} ${UNOWNED_WHERE[op]}
               RETURNING x.id, x.status, false AS created`,
          op === 'cancel'
            ? [id, ts, reason, reason === 'cancelled' ? 'parent cancelled' : 'parent stopped']
            : [id, ts],
        )
      ).rows;
      await notifyChanges(client, '', changed);
      const rec = (await client.query(`SELECT ${EXECUTION_SELECT} FROM executions WHERE id = $1`, [id]))
        .rows[0] as Row;
      out = { done: rowToExecution(rec) };
    }
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** What actUnowned sets, as Control's stopTree, pauseTree and resumeTree do ($2: now). */
const UNOWNED_SET: Record<Exclude<ControlOp, 'start'>, string> = {
  cancel: `status = 'STOPPED', ended_at = $2, updated_at = $2, paused_from = NULL,
    message = CASE tree.depth WHEN 0 THEN $3 WHEN 1 THEN $4 ELSE 'parent stopped' END`,
  pause: `paused_from = x.status, status = 'PAUSED', updated_at = $2`,
  resume: `status = coalesce(x.paused_from, CASE WHEN x.virtual THEN 'RUNNING' ELSE 'QUEUED' END),
    paused_from = NULL, updated_at = $2`,
};
const UNOWNED_WHERE: Record<Exclude<ControlOp, 'start'>, string> = {
  cancel: '',
  pause: `AND x.status <> 'PAUSED'`,
  resume: `AND x.status = 'PAUSED'`,
};
