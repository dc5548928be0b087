/** The data folder inside a workspace stays out of version control. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { flowsFolder, startTestRunner } from './harness';

describe('runner: the data folder in a workspace', function () {
  this.timeout(60_000);

  it('writes a .gitignore into .flows, so git add . commits neither the database nor the token', async () => {
    const flowsDir = flowsFolder({ 'hello.py': 'def handler(system, this):\n    return 1\n' }, 'flows-git-');
    execFileSync('git', ['init', '-q'], { cwd: flowsDir });
    const dataDir = path.join(flowsDir, '.flows');
    const t = await startTestRunner({ flowsDir, dataDir });
    try {
      const rec = await t.run({ flow_name: 'hello' });
      assert.equal(rec.status, 'SUCCEEDED');
      assert.ok(fs.existsSync(path.join(dataDir, 'flows.db')));
      execFileSync('git', ['add', '.'], { cwd: flowsDir });
      const staged = execFileSync('git', ['diff', '--cached', '--name-only'], {
        cwd: flowsDir,
        encoding: 'utf8',
      });
      assert.deepEqual(staged.trim().split('\n'), ['hello.py']);
    } finally {
      await t.stop();
    }
  });

  it('keeps a .gitignore the user wrote there', async () => {
    const flowsDir = flowsFolder({}, 'flows-git-');
    const dataDir = path.join(flowsDir, '.flows');
    fs.mkdirSync(dataDir);
    fs.writeFileSync(path.join(dataDir, '.gitignore'), 'flows.db\n');
    const t = await startTestRunner({ flowsDir, dataDir });
    await t.stop();
    assert.equal(fs.readFileSync(path.join(dataDir, '.gitignore'), 'utf8'), 'flows.db\n');
  });
});
