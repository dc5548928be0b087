/**
 * Team mode in PostgreSQL beyond executions: users' API tokens, schedule firings, and a lost
 * node's schedules taken over. Plain statements, each committed on its own (not part of the
 * group commits), so that every node sees a revoked token or a claimed slot at its next lookup.
 * The token statements serve PostgresStore (on its read pool) and `flows token` (on a connection
 * of its own, which is not a runner node: it registers nothing and owns nothing).
 */
import type { ClientBase, Pool } from 'pg';
import { ENDED_STATUSES } from '@flows/protocol';
import type { StoredExecution, StoredUserToken, UserTokenInfo } from './store';
import { EXECUTION_SELECT, rowToExecution, type Row } from './postgresQueries';

type Queryable = Pick<ClientBase | Pool, 'query'>;

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export async function createUserToken(
  db: Queryable,
  t: Omit<StoredUserToken, 'last_used_at'>,
): Promise<boolean> {
  const res = await db.query(
    'INSERT INTO user_tokens (name, hash, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [t.name, t.hash, t.created_at],
  );
  return (res.rowCount ?? 0) > 0;
}

export async function revokeUserToken(db: Queryable, name: string): Promise<boolean> {
  const res = await db.query('DELETE FROM user_tokens WHERE name = $1', [name]);
  return (res.rowCount ?? 0) > 0;
}

export async function listUserTokens(db: Queryable): Promise<UserTokenInfo[]> {
  const rows = (await db.query('SELECT name, created_at, last_used_at FROM user_tokens ORDER BY name'))
    .rows as Row[];
  return rows.map((r) => ({
    name: String(r.name),
    created_at: String(r.created_at),
    last_used_at: str(r.last_used_at),
  }));
}

export async function findUserToken(db: Queryable, hash: string): Promise<StoredUserToken | undefined> {
  const r = (await db.query('SELECT * FROM user_tokens WHERE hash = $1', [hash])).rows[0] as Row | undefined;
  return r
    ? {
        name: String(r.name),
        hash: String(r.hash),
        created_at: String(r.created_at),
        last_used_at: str(r.last_used_at),
      }
    : undefined;
}

export async function touchUserToken(db: Queryable, name: string, at: string): Promise<void> {
  await db.query('UPDATE user_tokens SET last_used_at = $2 WHERE name = $1', [name, at]);
}

/**
 * Moves the schedule's high-water mark to `slot` if it is below: true for the one node whose
 * statement moved it. Concurrent claims of one slot serialize on the row (an insert on its
 * unique key, an update on its row lock) and the WHERE is checked again on the row as the
 * winner left it, so the others see `slot` taken and change nothing.
 */
export async function claimFiring(
  db: Queryable,
  scheduleId: string,
  slot: number,
  node: string | null,
): Promise<boolean> {
  const res = await db.query(
    `INSERT INTO schedule_firings (schedule_id, slot, node, fired_at) VALUES ($1, $2, $3, clock_timestamp())
     ON CONFLICT (schedule_id) DO UPDATE SET slot = excluded.slot, node = excluded.node, fired_at = excluded.fired_at
     WHERE schedule_firings.slot < excluded.slot`,
    [scheduleId, slot, node],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * Of the SCHEDULE executions `ids`: those no node holds (their node was lost, or stopped), now
 * this node's, with their unfinished children that no node holds either (a firing the lost node
 * had queued), parents first; and the ids that another node holds. Ended or missing ids are in
 * neither. Inside the caller's transaction (fenced: a node declared lost claims nothing, or
 * what it claimed would be held by a node nobody reaps again).
 */
export async function claimSchedules(
  client: ClientBase,
  node: string,
  ids: readonly string[],
): Promise<{ claimed: StoredExecution[]; held: string[] }> {
  const ended = [...ENDED_STATUSES];
  const parents = (
    await client.query(
      `UPDATE executions SET owner = $1
       WHERE id = ANY($2) AND owner IS NULL AND virtual AND status <> ALL($3)
       RETURNING ${EXECUTION_SELECT}`,
      [node, ids, ended],
    )
  ).rows as Row[];
  const children = parents.length
    ? ((
        await client.query(
          `UPDATE executions SET owner = $1
           WHERE parent_execution_id = ANY($2) AND owner IS NULL AND status <> ALL($3)
           RETURNING created_at AS claim_created, seq AS claim_seq, ${EXECUTION_SELECT}`,
          [node, parents.map((r) => r.id), ended],
        )
      ).rows as Row[])
    : [];
  children.sort(
    (a, b) =>
      String(a.claim_created).localeCompare(String(b.claim_created)) ||
      Number(a.claim_seq) - Number(b.claim_seq),
  );
  const held = (
    await client.query(
      'SELECT id FROM executions WHERE id = ANY($1) AND owner IS DISTINCT FROM $2 AND status <> ALL($3)',
      [ids, node, ended],
    )
  ).rows.map((r: Row) => String(r.id));
  return { claimed: [...parents, ...children].map(rowToExecution), held };
}
