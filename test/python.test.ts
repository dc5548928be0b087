/** Runs the Python side's own unit tests (runner/python/tests) as part of `npm test`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

describe('python: flow_api and worker unit tests', function () {
  this.timeout(120_000);
  it('pass under python3 -m unittest', () => {
    const root = path.resolve(__dirname, '../runner/python');
    const r = spawnSync(
      process.env.FLOWS_PYTHON ?? 'python3',
      ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    const summary = r.stderr.trim().split('\n').slice(-3).join('\n');
    assert.equal(r.status, 0, `Python tests failed:\n${r.stderr.slice(-4000)}`);
    assert.match(summary, /^OK/m);
    assert.doesNotMatch(r.stderr, /Ran 0 tests/);
  });
});
