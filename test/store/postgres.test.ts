/**
 * The PostgreSQL store: the Store contract (storeContract.ts) on a throwaway server
 * (test/support/postgres.ts), then what only a shared database needs: migrations under a lock
 * when nodes start together, commits that survive a dropped connection, clear errors for a
 * database that cannot be used.
 */
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { PG_MIGRATIONS } from '../../runner/src/store/postgresMigrations';
import { COUNT_LIMIT } from '../../runner/src/store/listCursor';
import { PostgresOpenError } from '../../runner/src/store/postgresConnection';
import { PostgresStore } from '../../runner/src/store/postgresStore';
import { usePostgres } from '../support/postgres';
import { exec, storeContract, ts } from './storeContract';

describe('PostgresStore', function () {
  this.timeout(120_000);
  const server = usePostgres();

  storeContract(
    'PostgresStore',
    async () => {
      const url = await server().createDatabase();
      const store = await PostgresStore.open(url);
      return {
        store,
        reopen: async () => {
          await store.close();
          return PostgresStore.open(url);
        },
      };
    },
    { countLimit: COUNT_LIMIT, restarts: true },
  );

  describe('on a shared server', () => {
    const sql = async (url: string, text: string, values: unknown[] = []) => {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query(text, values)).rows as Array<Record<string, unknown>>;
      } finally {
        await c.end();
      }
    };

    it('migrates once when several nodes open a new database at the same time', async () => {
      const url = await server().createDatabase();
      const stores = await Promise.all([1, 2, 3, 4].map((n) => PostgresStore.open(url, { node: `n${n}` })));
      try {
        assert.deepEqual(await sql(url, 'SELECT version FROM flows_schema'), [
          { version: PG_MIGRATIONS.length },
        ]);
        stores[0].putExecution(exec('a'));
        await stores[0].durable();
        assert.equal((await stores[3].getExecution('a'))?.id, 'a', 'one database behind every node');
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('refuses a database written by a newer runner', async () => {
      const url = await server().createDatabase();
      await (await PostgresStore.open(url)).close();
      await sql(url, 'UPDATE flows_schema SET version = version + 1');
      await assert.rejects(PostgresStore.open(url), (err: Error) => {
        assert.ok(err instanceof PostgresOpenError);
        assert.match(err.message, /newer version of Flows/);
        return true;
      });
    });

    it('says clearly when the URL is wrong or the server cannot be reached', async () => {
      await assert.rejects(PostgresStore.open('mysql://x@localhost/db'), /must start with postgres:\/\//);
      await assert.rejects(PostgresStore.open('not a url'), /is not a URL/);
      // A port where nothing listens (the test server's port + 1 is free or not PostgreSQL).
      const port = Number(new URL(server().url).port);
      const url = `postgres://flows:secret@127.0.0.1:${port === 65535 ? 1 : port + 1}/db`;
      await assert.rejects(PostgresStore.open(url), (err: Error) => {
        assert.ok(err instanceof PostgresOpenError, String(err));
        assert.match(
          err.message,
          /^cannot connect to PostgreSQL at postgres:\/\/flows:\*\*\*@127\.0\.0\.1:\d+\/db: /,
        );
        assert.doesNotMatch(err.message, /secret/);
        return true;
      });
    });

    it('commits again on a new connection when the server drops the writer, losing nothing', async () => {
      const url = await server().createDatabase();
      const logs: string[] = [];
      const store = await PostgresStore.open(url, { log: (m) => logs.push(m) });
      try {
        store.putExecution(exec('before'));
        await store.durable();
        // An administrator (or a failover) ends the writer's session.
        await sql(
          url,
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'flows runner (writes)'`,
        );
        store.putExecution(exec('after', { message: 'nul \0 kept as U+FFFD' }));
        store.appendLog({ execution_id: 'after', seq: 1, ts: ts(1), stream: 'stdout', text: 'a\0b' });
        await store.durable();
        assert.equal((await store.getExecution('after'))?.message, 'nul \uFFFD kept as U+FFFD');
        assert.equal((await store.getLog('after', 0, 10))[0].text, 'a\uFFFDb');
        assert.ok(
          logs.some((m) => /trying again/.test(m)),
          logs.join('\n'),
        );
      } finally {
        await store.close();
      }
    });
  });
});
