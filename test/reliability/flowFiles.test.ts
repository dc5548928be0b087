/** Flow names stay inside the flows folder, also through symbolic links (real files, real links). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { resolveFlow } from '../../runner/src/engine/flowFiles';
import { tempDir } from '../runner/harness';

describe('reliability: flow names and links', () => {
  const root = tempDir('flows-links-');
  const flows = path.join(root, 'flows');
  const outside = path.join(root, 'outside');
  before(() => {
    fs.mkdirSync(path.join(flows, 'inner'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'secret.py'), 'def handler(system, this):\n    return 1\n');
    fs.writeFileSync(path.join(flows, 'inner', 'real.py'), 'def handler(system, this):\n    return 1\n');
    fs.symlinkSync(path.join(outside, 'secret.py'), path.join(flows, 'leak.py'));
    fs.symlinkSync(outside, path.join(flows, 'elsewhere'));
    fs.symlinkSync(path.join(flows, 'inner', 'real.py'), path.join(flows, 'alias.py'));
  });

  it('refuses a link to a file, or through a folder, outside the flows folder', () => {
    for (const name of ['leak', 'elsewhere/secret']) {
      const found = resolveFlow(flows, name);
      assert.equal(found.ok, false, name);
      assert.match(!found.ok ? found.reason : '', /is a link to a file outside the flows folder/);
    }
  });

  it('still runs a link that stays inside, and refuses .. as before', () => {
    assert.deepEqual(resolveFlow(flows, 'alias'), { ok: true, path: path.join(flows, 'alias.py') });
    assert.equal(resolveFlow(flows, '../outside/secret').ok, false);
  });
});
