/**
 * `flows serve --database postgres://…` as a user starts it: a real runner process on a
 * throwaway PostgreSQL server runs a flow with children and a schedule, stops, and a runner
 * started afresh on the same database (with an empty data folder: nothing of it lives there)
 * finds everything and goes on.
 */
import assert from 'node:assert/strict';
import { usePostgres } from '../support/postgres';
import { until } from '../support/until';
import { FIXTURE_FLOWS, serveRunner, tempDir, type ServedRunner } from './harness';

async function stop(s: ServedRunner): Promise<void> {
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

describe('flows serve --database (PostgreSQL)', function () {
  this.timeout(180_000);
  const server = usePostgres();

  it('runs a flow with children and a schedule, restarts on the same database, loses nothing', async () => {
    const url = await server().createDatabase();
    const s1 = await serveRunner(['--flows', FIXTURE_FLOWS, '--data', tempDir(), '--database', url]);
    let s2: ServedRunner | undefined;
    try {
      const created = await s1.api('POST', '/api/latest/execution', { flow_name: 'parent-async' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const parentId: string = created.body.id;
      const parent = await until(
        async () => (await s1.api('GET', `/api/latest/execution/${parentId}`)).body,
        (e) => e.status === 'SUCCEEDED' || e.status === 'FAILED',
        'the parent to end',
      );
      assert.equal(parent.status, 'SUCCEEDED', parent.message);
      assert.deepEqual(parent.output_value, {
        results: [0, 1, 2].map((n) => ({ n, double: 2 * n })),
      });

      // A schedule every second, twice: it fires once here and once after the restart.
      const sched = await s1.api('POST', '/api/latest/schedule', {
        flow_name: 'child-echo',
        kind: 'interval',
        interval: 1,
        unit: 'seconds',
        input_value: { n: 7 },
        max_iterations: 2,
      });
      assert.equal(sched.status, 201, JSON.stringify(sched.body));
      const scheduleExecution: string = sched.body.execution_id;
      const firings = (s: ServedRunner) => async () =>
        (await s.api('GET', `/api/latest/execution?parent_execution_id=${scheduleExecution}&limit=100`)).body;
      await until(
        firings(s1),
        (p) => p.items.some((e: { status: string }) => e.status === 'SUCCEEDED'),
        'the first firing',
      );
      const before = (await s1.api('GET', '/api/latest/execution?limit=1000')).body;
      await stop(s1);

      // Another node, as it were: a new data folder, the same database.
      s2 = await serveRunner(['--flows', FIXTURE_FLOWS, '--data', tempDir(), '--database', url]);
      const again = (await s2.api('GET', `/api/latest/execution/${parentId}`)).body;
      assert.deepEqual(again, parent);
      const kids = (await s2.api('GET', `/api/latest/execution?parent_execution_id=${parentId}&limit=10`))
        .body;
      const outputs = kids.items
        .map((e: { status: string; output_value: { n: number } }) => [e.status, e.output_value])
        .sort((a: [string, { n: number }], b: [string, { n: number }]) => a[1].n - b[1].n);
      assert.deepEqual(
        outputs,
        [0, 1, 2].map((n) => ['SUCCEEDED', { n, double: 2 * n }]),
      );
      const log = (await s2.api('GET', `/api/latest/execution/${parentId}/log`)).body;
      assert.ok(Array.isArray(log.items));

      // The schedule goes on from where it was, fires its second time, and ends.
      const done = await until(
        async () => (await s2!.api('GET', `/api/latest/execution/${scheduleExecution}`)).body,
        (e) => e.status === 'SUCCEEDED',
        'the schedule to complete',
      );
      assert.equal(done.message, 'ran 2 times (max_iterations)');
      const fired = await firings(s2)();
      assert.equal(fired.total, 2, 'each firing once');
      for (const e of fired.items) {
        assert.equal(e.status, 'SUCCEEDED');
        assert.deepEqual(e.output_value, { n: 7, double: 14 });
      }
      const after = (await s2.api('GET', '/api/latest/execution?limit=1000')).body;
      const ids = after.items.map((e: { id: string }) => e.id);
      assert.equal(new Set(ids).size, ids.length, 'nothing twice');
      for (const e of before.items) assert.ok(ids.includes(e.id), `${e.id} survived the restart`);
    } finally {
      if (s1.child.exitCode === null) await stop(s1);
      if (s2) await stop(s2);
    }
  });

  it('refuses to start on a database it cannot reach, naming the option, without a stack', async () => {
    const port = Number(new URL(server().url).port);
    await assert.rejects(
      serveRunner([
        '--flows',
        FIXTURE_FLOWS,
        '--data',
        tempDir(),
        '--database',
        `postgres://flows:hunter2@127.0.0.1:${port === 65535 ? 1 : port + 1}/nowhere`,
      ]),
      (err: Error) => {
        assert.match(
          err.message,
          /flows: --database: cannot connect to PostgreSQL at postgres:\/\/flows:\*\*\*@/,
        );
        assert.doesNotMatch(err.message, /hunter2|\n\s+at /);
        return true;
      },
    );
  });
});
