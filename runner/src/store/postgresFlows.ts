/**
 * Flow records in PostgreSQL (store.ts StoredFlow): a deploy is one transaction of its own on a
 * pooled connection, apart from the group commits, so that it is all or nothing and committed
 * when it is answered. `flows_version` counts the changes, one row that every deploy that
 * writes moves: other nodes compare it instead of reading every flow (flows/deployedFlows.ts).
 */
import type pg from 'pg';
import type { FlowSummary, StoredFlow } from './store';

type Row = Record<string, unknown>;

/** A deadlock or a serialization failure: another node's deploy of the same names; try again. */
const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 3;

async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      if (attempt >= ATTEMPTS || !RETRYABLE.has((err as { code?: string }).code ?? '')) throw err;
    } finally {
      c.release();
    }
  }
}

export function putFlows(pool: pg.Pool, flows: readonly StoredFlow[]): Promise<string[]> {
  if (flows.length === 0) return Promise.resolve([]);
  // In name order, the rows locked in the same order by every deploy: two nodes deploying the
  // same flows wait for each other instead of deadlocking.
  const sorted = [...flows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return inTransaction(pool, async (c) => {
    const stored = await c.query<{ name: string; hash: string }>(
      'SELECT name, hash FROM flows WHERE name = ANY($1) ORDER BY name FOR UPDATE',
      [sorted.map((f) => f.name)],
    );
    const have = new Map(stored.rows.map((r) => [r.name, r.hash]));
    const changed = sorted.filter((f) => have.get(f.name) !== f.hash);
    if (changed.length === 0) return [];
    await c.query(
      `INSERT INTO flows (name, source, hash, size, updated_at, deployed_by)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])
       ON CONFLICT (name) DO UPDATE SET source = excluded.source, hash = excluded.hash, size = excluded.size,
         updated_at = excluded.updated_at, deployed_by = excluded.deployed_by`,
      [
        changed.map((f) => f.name),
        changed.map((f) => f.source),
        changed.map((f) => f.hash),
        changed.map((f) => Buffer.byteLength(f.source, 'utf8')),
        changed.map((f) => f.updated_at),
        changed.map((f) => f.deployed_by),
      ],
    );
    await c.query('UPDATE flows_version SET version = version + 1');
    // As given, not as sorted.
    const names = new Set(changed.map((f) => f.name));
    return flows.filter((f) => names.has(f.name)).map((f) => f.name);
  });
}

export async function getFlow(pool: pg.Pool, name: string): Promise<StoredFlow | undefined> {
  const { rows } = await pool.query<Row>(
    'SELECT name, source, hash, updated_at, deployed_by FROM flows WHERE name = $1',
    [name],
  );
  return rows[0] as unknown as StoredFlow | undefined;
}

export async function listFlows(pool: pg.Pool): Promise<FlowSummary[]> {
  const { rows } = await pool.query<Row>(
    'SELECT name, hash, size, updated_at, deployed_by FROM flows ORDER BY name',
  );
  return rows.map((r) => ({ ...(r as unknown as FlowSummary), size: Number(r.size) }));
}

export function deleteFlow(pool: pg.Pool, name: string): Promise<boolean> {
  return inTransaction(pool, async (c) => {
    const res = await c.query('DELETE FROM flows WHERE name = $1', [name]);
    if ((res.rowCount ?? 0) === 0) return false;
    await c.query('UPDATE flows_version SET version = version + 1');
    return true;
  });
}

export async function flowsVersion(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ version: string | number }>('SELECT version FROM flows_version');
  return Number(rows[0]?.version ?? 0);
}
