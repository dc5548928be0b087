/**
 * runner-client/flowDeploy.ts at its own boundary: which flows of a folder a deploy sends (by
 * hash), what it refuses before sending, how it reports, and which files of a folder are flows.
 * The editor's "Deploy Folder to Team Runner", Run/Try on a team runner and `flows deploy` all
 * deploy through it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { MAX_DEPLOY_FLOWS, type DeployResult, type FlowInfo } from '../../protocol';
import {
  changedFlows,
  checkFlows,
  checkRequest,
  DeployError,
  deployFlows,
  deploySummary,
  flowHash,
  readFlowFolder,
  type LocalFlow,
} from '../../runner-client/flowDeploy';
import type { RunnerApi } from '../../runner-client/runnerApi';
import { tempDir } from '../runner/harness';

const info = (name: string, source: string): FlowInfo => ({
  name,
  hash: flowHash(source),
  size: source.length,
  updated_at: '2026-01-01T00:00:00.000Z',
  deployed_by: null,
});

/** A runner that has `have` deployed and answers a deploy as the real one would. */
function fakeApi(have: FlowInfo[]) {
  const sent: Array<Array<{ name: string; source: string }>> = [];
  const api = {
    listFlows: async () => have,
    deployFlows: async (flows: Array<{ name: string; source: string }>): Promise<DeployResult> => {
      sent.push(flows);
      const known = new Map(have.map((f) => [f.name, f.hash]));
      return {
        deployed: flows.filter((f) => known.get(f.name) !== flowHash(f.source)).map((f) => f.name),
        unchanged: flows.filter((f) => known.get(f.name) === flowHash(f.source)).map((f) => f.name),
      };
    },
  };
  return { api: api as unknown as RunnerApi, sent };
}

describe('runner-client: deploying a folder’s flows', () => {
  const local: LocalFlow[] = [
    { name: 'a', source: 'def handler(system, this): return 1\n' },
    { name: 'checks/b', source: 'def handler(system, this): return 2\n' },
    { name: 'c', source: 'def handler(system, this): return 3\n' },
  ];

  it('hashes a source as the runner does: SHA-256 of its UTF-8 bytes', () => {
    assert.equal(flowHash(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(flowHash('é'), flowHash(Buffer.from('é', 'utf8').toString()));
    assert.notEqual(flowHash('é'), flowHash('e\u0301'), 'no normalization: the bytes as written');
  });

  it('sends the flows the runner has not got, or has with another source', async () => {
    const { api, sent } = fakeApi([info('a', local[0].source), info('checks/b', 'old'), info('gone', 'x')]);
    assert.deepEqual(
      changedFlows(local, await api.listFlows()).map((f) => f.name),
      ['checks/b', 'c'],
    );
    const result = await deployFlows(api, local);
    assert.deepEqual(
      sent.map((s) => s.map((f) => f.name)),
      [['checks/b', 'c']],
    );
    assert.deepEqual(result, { deployed: ['checks/b', 'c'], unchanged: ['a'] });
    assert.equal(deploySummary(result), 'Deployed 2 flows (1 unchanged)');
  });

  it('sends nothing when the runner has every flow as it is', async () => {
    const { api, sent } = fakeApi(local.map((f) => info(f.name, f.source)));
    const result = await deployFlows(api, local);
    assert.deepEqual(sent, []);
    assert.deepEqual(result, { deployed: [], unchanged: ['a', 'c', 'checks/b'] });
    assert.equal(deploySummary({ deployed: ['x'], unchanged: [] }), 'Deployed 1 flow (0 unchanged)');
  });

  it('refuses, before sending, a flow the runner would refuse, naming its file', async () => {
    const { api, sent } = fakeApi([]);
    await assert.rejects(
      deployFlows(api, [...local, { name: 'bad:name', source: 'x' }]),
      (err: Error) =>
        err instanceof DeployError && /^bad:name\.py cannot be deployed: its flow name/.test(err.message),
    );
    assert.throws(
      () => checkFlows([{ name: 'nul', source: 'a\0b' }]),
      (err: Error) =>
        err instanceof DeployError && /^nul\.py .*its source must not contain NUL/.test(err.message),
    );
    assert.throws(
      () =>
        checkRequest(
          Array.from({ length: MAX_DEPLOY_FLOWS + 1 }, (_, i) => ({ name: `f${i}`, source: 'x' })),
        ),
      /flows to deploy; one deploy takes at most/,
    );
    assert.deepEqual(sent, []);
  });

  it('finds the flows of a folder as the editor does: .py files with def handler, by path', () => {
    const dir = tempDir('flows-deploy-folder-');
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    write('top.py', 'def handler(system, this):\n    pass\n');
    write('checks/fraud-score.py', 'async def handler(system, this, inputs):\n    pass\n');
    write('checks/helpers.py', 'X = 1\n'); // a module, not a flow
    write('notes.txt', 'def handler(system, this):\n');
    for (const skipped of ['.flows', '.git', 'node_modules', '.venv', 'venv', '__pycache__'])
      write(`${skipped}/x.py`, 'def handler(system, this):\n    pass\n');
    write('deep/er/leaf.py', 'def handler(system, this):\n    return "leaf"\n');
    assert.deepEqual(
      readFlowFolder(dir).map((f) => f.name),
      ['checks/fraud-score', 'deep/er/leaf', 'top'],
    );
    assert.equal(readFlowFolder(dir)[1].source, 'def handler(system, this):\n    return "leaf"\n');
  });
});
