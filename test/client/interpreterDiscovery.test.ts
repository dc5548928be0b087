import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { candidates, discover, probe } from '../../client/runner/interpreterDiscovery';

/** An executable that answers the version probe like a Python of `version` would. */
function fakePython(file: string, version: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
  return file;
}

describe('client interpreter discovery (Select Python Interpreter)', function () {
  // Each candidate is started once to ask its version; the machine may be busy.
  this.timeout(30_000);
  if (process.platform === 'win32') return;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-pythons-'));
  const workspace = path.join(root, 'ws');
  const venv = fakePython(path.join(workspace, '.venv', 'bin', 'python'), '3.12.1');
  const old = fakePython(path.join(root, 'bin', 'python3'), '3.6.9');
  const pyenv = fakePython(path.join(root, 'pyenv', 'versions', '3.10.4', 'bin', 'python3'), '3.10.4');
  const env = { PATH: path.join(root, 'bin'), PYENV_ROOT: path.join(root, 'pyenv') };

  it('finds virtual environments of the folder, PATH and pyenv', () => {
    assert.deepEqual(candidates([workspace], env, root), [
      { path: venv, source: 'virtual environment' },
      { path: old, source: 'PATH' },
      { path: pyenv, source: 'pyenv' },
    ]);
  });

  it('checks that a path runs Python 3.8 or newer, and says why not', async () => {
    assert.deepEqual(await probe(venv), { version: '3.12.1' });
    assert.deepEqual(await probe(old), { error: `${old} is Python 3.6.9; flows need 3.8 or newer` });
    assert.deepEqual(await probe(path.join(root, 'nope')), {
      error: `${path.join(root, 'nope')} does not exist`,
    });
    const text = path.join(root, 'notes.txt');
    fs.writeFileSync(text, 'hello', { mode: 0o644 });
    assert.deepEqual(await probe(text), { error: `${text} cannot be run (no permission)` });
  });

  it('lists the real Python of this machine, once per file', async () => {
    const found = await discover([]);
    assert.ok(found.length > 0, 'python3 is on PATH here');
    assert.ok(found.every((f) => /^3\.\d+\.\d+$/.test(f.version)));
    const real = found.map((f) => fs.realpathSync(f.path));
    assert.equal(new Set(real).size, real.length);
  });
});
