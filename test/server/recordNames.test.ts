// Setting, connection and file names offered inside `system.setting('|')` and its kin: from the
// flows of the folder, the open document and the runner's store (sent by the client).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { completions } from '../../server/completion';
import type { Engines } from '../../server/document';
import { pathToUri } from '../../server/workspaceFlows';
import { namesInText, WorkspaceNames } from '../../server/workspaceNames';
import { docAt, fakeFlows, loadEngines } from './helpers';

const flows = fakeFlows(['child']);
const H = 'def handler(system, this):\n';

describe('record names (settings, connections, files)', () => {
  let e: Engines;
  let root: string;
  before(async () => {
    e = await loadEngines();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-names-'));
    fs.writeFileSync(
      path.join(root, 'a.py'),
      H +
        "    system.setting('api-key').get('value')\n    system.setting(name=\"region\")\n    this.connect('crm', connector_type='REST')\n",
    );
    fs.writeFileSync(
      path.join(root, 'b.py'),
      H + "    system.file('report.csv')\n    system.connection('warehouse')\n",
    );
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const uris = () => ['a.py', 'b.py'].map((f) => pathToUri(path.join(root, f)));
  const complete = (text: string, records: WorkspaceNames) => {
    const { doc, offset } = docAt(e, text);
    return completions(doc, offset, { parser: e.parser, flows, records }).map((i) => i.label);
  };

  it('reads the names a text uses', () => {
    assert.deepEqual(namesInText("system.setting('a'); x.setting(select='b'); this.connect(\"db\")"), {
      setting: ['a', 'b'],
      connection: ['db'],
      file: [],
    });
  });

  it('offers setting names from the folder, the store and the open document, not the one typed', () => {
    const records = new WorkspaceNames();
    records.refresh(uris());
    records.setStore('setting', ['from-store']);
    const text = H + "    system.setting('local')\n    s = system.setting('|')\n";
    assert.deepEqual(complete(text, records), ['from-store', 'api-key', 'region', 'local']);
    assert.deepEqual(complete(H + "    system.setting(name='|')\n", records), [
      'from-store',
      'api-key',
      'region',
    ]);
    assert.deepEqual(complete(H + "    system.setting('reg|')\n", records), [
      'from-store',
      'api-key',
      'region',
    ]);
    // with a broken line above, too
    assert.deepEqual(complete(H + "    x = this.\n    system.setting('|", records), [
      'from-store',
      'api-key',
      'region',
    ]);
  });

  it('offers connection and file names', () => {
    const records = new WorkspaceNames();
    records.refresh(uris());
    assert.deepEqual(complete(H + "    system.connection('|')\n", records), ['crm', 'warehouse']);
    assert.deepEqual(complete(H + "    system.file('|')\n", records), ['report.csv']);
  });

  it('follows changed and deleted files', () => {
    const records = new WorkspaceNames();
    records.refresh(uris());
    const file = path.join(root, 'b.py');
    fs.writeFileSync(file, H + "    system.setting('new-one')\n");
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    records.refresh(uris());
    assert.ok(records.names('setting').includes('new-one'));
    records.refresh([uris()[0]]);
    assert.ok(!records.names('setting').includes('new-one'));
  });
});
