import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToUri, WorkspaceFlows } from '../../server/workspaceFlows';

describe('workspace flows index', () => {
  let root: string;
  const write = (rel: string, text = 'def handler(system, this):\n    pass\n') => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-index-'));
    write('main.py');
    write('reports/daily.py');
    write('.venv/lib/site.py');
    write('node_modules/x/y.py');
    write('__pycache__/main.cpython-311.py');
    write('notes.txt', 'not python');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('names flows by their path in the flows folder, skipping hidden and tool folders', async () => {
    const flows = new WorkspaceFlows();
    await flows.setFolders([root]);
    const from = pathToUri(path.join(root, 'main.py'));
    assert.deepEqual(flows.names(from).sort(), ['reports/daily']);
    assert.deepEqual(flows.resolve('reports/daily', from), {
      known: true,
      uri: pathToUri(path.join(root, 'reports', 'daily.py')),
    });
    assert.deepEqual(flows.resolve('missing', from), { known: true, uri: undefined });
    assert.deepEqual(
      flows.all().map((f) => f.name),
      ['main', 'reports/daily'].sort(),
    );
  });

  it('follows created and deleted files', async () => {
    const flows = new WorkspaceFlows();
    await flows.setFolders([root]);
    const from = pathToUri(path.join(root, 'main.py'));
    write('later.py');
    assert.equal(flows.fileChanged(pathToUri(path.join(root, 'later.py')), true), true);
    assert.ok(flows.names(from).includes('later'));
    assert.equal(flows.fileChanged(pathToUri(path.join(root, 'later.py')), true), false, 'already known');
    assert.equal(flows.fileChanged(pathToUri(path.join(root, 'later.py')), false), true);
    assert.ok(!flows.names(from).includes('later'));
    assert.equal(flows.fileChanged(pathToUri(path.join(os.tmpdir(), 'elsewhere.py')), true), false);
  });

  it('knows nothing without a folder, so no flow is reported missing', () => {
    assert.deepEqual(new WorkspaceFlows().resolve('x', 'file:///a.py'), { known: false });
  });
});
