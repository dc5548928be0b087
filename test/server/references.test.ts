// References and rename of flows: callers across the folder (open documents from the editor,
// the others from disk), rename from a call site or from the flow's handler (callers rewritten,
// the file moved), and file or folder renames in the explorer (workspace/willRenameFiles).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TextDocumentEdit, WorkspaceEdit } from 'vscode-languageserver';
import type { Engines } from '../../server/document';
import { FlowDocument } from '../../server/document';
import {
  prepareRename,
  references,
  renameFlow,
  willRenameFiles,
  type ReferencesEnv,
} from '../../server/references';
import { pathToUri, WorkspaceFlows } from '../../server/workspaceFlows';
import { loadEngines } from './helpers';

const MAIN = `def handler(system, this):
    a = this.flow('child', count=1)
    b = this.flow("reports/daily")
    if system.flow('child').exists():
        this.log('child')
`;
const OTHER = `def handler(system, this):
    this.flow('child')
    this.flow('childish')
`;

describe('references and rename of flows', () => {
  let e: Engines;
  let root: string;
  let flows: WorkspaceFlows;
  let env: ReferencesEnv;
  const open = new Map<string, FlowDocument>();
  const uri = (rel: string) => pathToUri(path.join(root, rel));

  beforeEach(async () => {
    e = await loadEngines();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-refs-'));
    fs.mkdirSync(path.join(root, 'reports'));
    fs.writeFileSync(path.join(root, 'main.py'), MAIN);
    fs.writeFileSync(path.join(root, 'other.py'), OTHER);
    fs.writeFileSync(path.join(root, 'child.py'), 'def handler(system, this):\n    pass\n');
    fs.writeFileSync(path.join(root, 'childish.py'), 'def handler(system, this):\n    pass\n');
    fs.writeFileSync(path.join(root, 'reports', 'daily.py'), 'def handler(system, this):\n    pass\n');
    flows = new WorkspaceFlows();
    await flows.setFolders([root]);
    env = { parser: e.parser, analyzer: e.analyzer, flows, openDocument: (u) => open.get(u) };
    // main.py is open, with an unsaved edit that adds a caller
    const text = MAIN + "    this.flow('child')\n";
    open.set(uri('main.py'), new FlowDocument(uri('main.py'), 3, text, e));
  });
  afterEach(() => {
    for (const d of open.values()) d.dispose();
    open.clear();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const main = () => open.get(uri('main.py'))!;
  const at = (needle: string, delta = 2) => main().text.indexOf(needle) + delta;
  const brief = (list: { uri: string; range: { start: { line: number; character: number } } }[]) =>
    list.map(
      (l) =>
        `${path.relative(root, new URL(l.uri).pathname)}:${l.range.start.line}:${l.range.start.character}`,
    );

  it('finds every caller of a flow, in open and closed files, and only of that flow', () => {
    const refs = references(main(), at("'child'"), false, env)!;
    assert.deepEqual(brief(refs).sort(), ['main.py:1:19', 'main.py:3:20', 'main.py:5:15', 'other.py:1:15']);
    const withDeclaration = references(main(), at("'child'"), true, env)!;
    assert.equal(brief(withDeclaration)[0], 'child.py:0:0');
    assert.deepEqual(brief(references(main(), at('"reports/daily"'), false, env)!), ['main.py:2:19']);
    assert.equal(references(main(), at('this.log'), false, env), null);
  });

  it("finds a flow's callers from its own handler", () => {
    const child = new FlowDocument(uri('child.py'), 1, 'def handler(system, this):\n    pass\n', e);
    open.set(uri('child.py'), child);
    assert.equal(references(child, 5, false, env)!.length, 4);
  });

  it('renames a flow from a call site: every caller, and the file', () => {
    assert.deepEqual(prepareRename(main(), at("'child'"), flows)?.placeholder, 'child');
    const edit = renameFlow(main(), at("'child'"), 'kids/kid', env, {
      canRenameFiles: true,
    }) as WorkspaceEdit;
    const changes = edit.documentChanges!;
    const texts = changes
      .filter((c): c is TextDocumentEdit => 'edits' in c)
      .map((c) => [path.basename(c.textDocument.uri), c.textDocument.version, c.edits.length]);
    assert.deepEqual(texts.sort(), [
      ['main.py', 3, 3],
      ['other.py', null, 1],
    ]);
    assert.deepEqual(changes[changes.length - 1], {
      kind: 'rename',
      oldUri: uri('child.py'),
      newUri: uri('kids/kid.py'),
    });
    const plain = renameFlow(main(), at("'child'"), 'kid', env, { canRenameFiles: false }) as WorkspaceEdit;
    assert.deepEqual(
      Object.keys(plain.changes!)
        .map((u) => path.basename(u))
        .sort(),
      ['main.py', 'other.py'],
    );
    assert.match(
      String(renameFlow(main(), at("'child'"), 'childish', env, { canRenameFiles: true })),
      /exists/,
    );
    assert.match(
      String(renameFlow(main(), at("'child'"), 'a b', env, { canRenameFiles: true })),
      /not a flow name/,
    );
  });

  it('rewrites callers when a flow file or a folder of flows is renamed in the explorer', () => {
    const edit = willRenameFiles([{ oldUri: uri('child.py'), newUri: uri('sub/child2.py') }], env)!;
    const changes = edit.changes!;
    assert.deepEqual(changes[uri('other.py')], [
      {
        range: { start: { line: 1, character: 15 }, end: { line: 1, character: 20 } },
        newText: 'sub/child2',
      },
    ]);
    assert.equal(changes[uri('main.py')].length, 3);
    const folder = willRenameFiles([{ oldUri: uri('reports'), newUri: uri('summaries') }], env)!;
    assert.deepEqual(
      folder.changes![uri('main.py')].map((c) => c.newText),
      ['summaries/daily'],
    );
    assert.equal(willRenameFiles([{ oldUri: uri('notes.txt'), newUri: uri('notes2.txt') }], env), null);
  });
});
