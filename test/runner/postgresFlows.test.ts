/**
 * Flow records on several `flows serve` nodes of one PostgreSQL database, each with an empty
 * flows folder: a flow and its child deployed through node A only run on node B — started
 * through B, and claimed by B from A's queue — as deployed last, B fetching the sources from the
 * database into its own cache.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flowHash } from '../../runner-client/flowDeploy';
import { ownerOf, usePostgres } from '../support/postgres';
import { until } from '../support/until';
import { endServed, serveNode, tempDir, type ServedRunner } from './harness';

const PARENT =
  'def handler(system, this, inputs):\n' +
  "    child = this.flow('checks/double', n=inputs['n'])\n" +
  "    return {'child': child.get('output_value')}\n";
const double = (factor: number) => `def handler(system, this, inputs):\n    return inputs['n'] * ${factor}\n`;
const SLOW = 'import time\n\ndef handler(system, this, inputs):\n    time.sleep(inputs["seconds"])\n';

describe('flow records on several nodes of one PostgreSQL database', function () {
  this.timeout(240_000);
  const server = usePostgres();
  const started: ServedRunner[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => endServed(s, 'SIGKILL')));
  });

  async function node(url: string, data: string, concurrency: number): Promise<ServedRunner> {
    const flows = tempDir('flows-empty-');
    const s = await serveNode({ url, flows, data, concurrency });
    started.push(s);
    return s;
  }
  const create = async (s: ServedRunner, flow_name: string, input_value: unknown) => {
    const res = await s.api('POST', '/api/latest/execution', { flow_name, input_value });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const ended = (s: ServedRunner, id: string) =>
    until(
      async () => (await s.api('GET', `/api/latest/execution/${id}`)).body,
      (e) => ['SUCCEEDED', 'FAILED', 'INVALID', 'STOPPED'].includes(e.status),
      `${id} to end`,
    );

  it('runs on node B what was deployed through node A only: started through B, and claimed by B', async () => {
    const url = await server().createDatabase();
    const dataA = tempDir();
    const dataB = tempDir();
    const a = await node(url, dataA, 1);
    const b = await node(url, dataB, 4);
    const deployed = await a.api('POST', '/api/latest/flows/deploy', {
      flows: [
        { name: 'parent', source: PARENT },
        { name: 'checks/double', source: double(2) },
        { name: 'slow', source: SLOW },
      ],
    });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));

    // Started through B: B has neither file; it fetches both from the database.
    const first = await ended(b, await create(b, 'parent', { n: 21 }));
    assert.equal(first.status, 'SUCCEEDED', first.message);
    assert.deepEqual(first.output_value, { child: 42 });
    const cached = path.join(dataB, 'flow-cache', flowHash(double(2)), 'checks', 'double.py');
    assert.equal(fs.readFileSync(cached, 'utf8'), double(2), 'B ran its own copy from the database');

    // Deployed again through A, run at once through B: B sees the new child before it starts.
    await a.api('PUT', '/api/latest/flow/checks/double', { source: double(3) });
    const second = await ended(b, await create(b, 'parent', { n: 21 }));
    assert.deepEqual(second.output_value, { child: 63 });

    // Queued on A behind a long run; A stops, and B claims the queued one and runs it.
    const running = await create(a, 'slow', { seconds: 120 });
    await until(
      async () => (await a.api('GET', `/api/latest/execution/${running}`)).body,
      (e) => e.status === 'RUNNING',
      'the slow flow to run on A',
    );
    const queued = await create(a, 'parent', { n: 5 });
    assert.equal((await a.api('GET', `/api/latest/execution/${queued}`)).body.status, 'QUEUED');
    await endServed(a, 'SIGTERM');
    const claimed = await ended(b, queued);
    assert.equal(claimed.status, 'SUCCEEDED', claimed.message);
    assert.deepEqual(claimed.output_value, { child: 15 });
    assert.equal(await ownerOf(url, queued), `${os.hostname()}:${path.resolve(dataB)}`, 'B ran it');
  });
});
