/**
 * Waiting executions keep their process (a Python process is the flow's state), so the runner
 * bounds how many such processes live: `maxWaiting` beyond the `concurrency` slots, and a nesting
 * depth (MAX_EXECUTION_DEPTH) for flows that call flows. What a waiting flow waits for still
 * starts past the bound, so a tree never deadlocks on it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { MAX_EXECUTION_DEPTH } from '../../runner/src/engine/engine';
import { flowsFolder, startTestRunner, type TestRunner } from '../runner/harness';

const FLOWS: Record<string, string> = {
  'sleeper.py': `
def handler(system, this):
    this.sleep(0.5)
    return 'rested'
`,
  'recurse.py': `
import flow_api


def handler(system, this, inputs):
    level = inputs.get('level', 1)
    try:
        child = this.flow('recurse', level=level + 1)
    except flow_api.FlowApiError as err:
        return {'deepest': level, 'error': str(err)}
    return child.get('output_value')
`,
};

/** Live processes whose parent is `ppid` (from /proc; the workers are the fork server's). */
function childrenOf(ppid: number): number {
  let n = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(parent) === ppid && state !== 'Z') n++;
    } catch {
      // ended meanwhile
    }
  }
  return n;
}

const CONCURRENCY = 2;
const MAX_WAITING = 3;

(fs.existsSync('/proc/self/stat') ? describe : describe.skip)(
  'reliability: waiting executions and their processes',
  function () {
    this.timeout(120_000);
    let t: TestRunner;
    before(async () => {
      t = await startTestRunner({
        flowsDir: flowsFolder(FLOWS, 'flows-waiting-'),
        concurrency: CONCURRENCY,
        maxWaiting: MAX_WAITING,
      });
    });
    after(() => t?.stop());

    it(`keeps at most concurrency + maxWaiting processes for sleeping executions, and runs them all`, async () => {
      const forkServer = t.runner.engine.opts.workers.forkServerPid!;
      let peak = 0;
      const sample = () => (peak = Math.max(peak, childrenOf(forkServer)));
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await t.api('POST', '/api/latest/execution', { flow_name: 'sleeper' });
        assert.equal(res.status, 201);
        ids.push(res.body.id);
      }
      // Processes come and go between the events a test can await: count them every 10 ms.
      const sampling = setInterval(sample, 10);
      try {
        for (const id of ids) {
          const rec = await t.waitForStatus(id, 'ENDED');
          sample();
          assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
        }
      } finally {
        clearInterval(sampling);
      }
      assert.ok(peak <= CONCURRENCY + MAX_WAITING, `${peak} worker processes lived at once`);
      assert.equal(peak, CONCURRENCY + MAX_WAITING, 'the bound was reached (else this proves nothing)');
    });

    it(`refuses a child beyond ${MAX_EXECUTION_DEPTH} levels with an error the flow can catch, without deadlock`, async () => {
      const rec = await t.run({ flow_name: 'recurse', input_value: {} });
      assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
      const out = rec.output_value as { deepest: number; error: string };
      assert.equal(out.deepest, MAX_EXECUTION_DEPTH);
      assert.match(out.error, new RegExp(`at most ${MAX_EXECUTION_DEPTH} levels deep`));
    });
  },
);
