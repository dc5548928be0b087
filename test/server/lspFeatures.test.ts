// The features of issue 16 over stdio (dist/server.js): capabilities, child inputs in completion
// and diagnostics, semantic tokens, inlay hints, references, rename, willRenameFiles and the
// record names the client sends. The providers are tested one by one in the other files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CompletionRequest,
  InlayHintRequest,
  PrepareRenameRequest,
  ReferencesRequest,
  RenameRequest,
  SemanticTokensRequest,
  WillRenameFilesRequest,
  type CompletionItem,
  type CompletionList,
  type InlayHint,
  type Location,
  type WorkspaceEdit,
} from 'vscode-languageserver-protocol/node';
import { RECORD_NAMES_NOTIFICATION } from '../../protocol/languageServer';
import { inlayHints, semanticTokens } from '../../server/semantic';
import type { Engines } from '../../server/document';
import { docAt, loadEngines } from './helpers';
import { ensureServerBuilt, fileUri, LspClient, SERVER_JS } from './lspClient';

const CHILD =
  "def handler(system, this, inputs):\n    return this.success(int(inputs['count']) + len(inputs.get('tags', [])))\n";
const PARENT = `def handler(system, this):
    c = this.flow('child', count=2, inputs={'tags': ['a']})
    system.setting('api-key')
    return this.success('ok')
`;
const labels = (r: CompletionItem[] | CompletionList | null) =>
  (Array.isArray(r) ? r : (r?.items ?? [])).map((i) => i.label);

describe('language server over stdio: child inputs, tokens, hints, references, rename', function () {
  this.timeout(60_000);
  let root: string;
  let client: LspClient;
  let parentUri: string;

  before(async () => {
    ensureServerBuilt();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-ls16-'));
    fs.writeFileSync(path.join(root, 'child.py'), CHILD);
    fs.writeFileSync(path.join(root, 'parent.py'), PARENT);
    client = await LspClient.start({ command: process.execPath, args: [SERVER_JS, '--stdio'], root });
    parentUri = fileUri(path.join(root, 'parent.py'));
    await client.open(parentUri, PARENT);
  });
  after(async () => {
    await client?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('declares references, rename, semantic tokens, inlay hints and willRenameFiles', () => {
    const caps = client.serverCapabilities;
    assert.equal(caps.referencesProvider, true);
    assert.deepEqual(caps.renameProvider, { prepareProvider: true });
    assert.ok(caps.semanticTokensProvider);
    assert.equal(caps.inlayHintProvider, true);
    assert.ok(caps.workspace?.fileOperations?.willRename?.filters.length);
  });

  it("offers the child's inputs below an unfinished this., and warns about a missing one", async () => {
    const v = await client.change(parentUri, [
      {
        range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } },
        text: "    this.\n    this.flow('child', )\n",
      },
    ]);
    const items = await client.connection.sendRequest(CompletionRequest.type, {
      textDocument: { uri: parentUri },
      position: { line: 4, character: 23 },
    });
    assert.deepEqual(labels(items).slice(0, 2), ['count=', 'tags=']);
    const diagnostics = await client.diagnosticsFor(parentUri, v);
    assert.deepEqual(
      diagnostics.map((d) => [d.range.start.line, d.code]),
      [
        [3, 'syntax'],
        [4, 'missing-input'],
      ],
    );
    const back = await client.change(parentUri, [
      { range: { start: { line: 3, character: 0 }, end: { line: 5, character: 0 } }, text: '' },
    ]);
    assert.deepEqual(await client.diagnosticsFor(parentUri, back), []);
  });

  it('offers setting names from the folder and from the store the client sends', async () => {
    await client.connection.sendNotification(RECORD_NAMES_NOTIFICATION, {
      kind: 'setting',
      names: ['from-store'],
    });
    const v = await client.change(parentUri, [
      {
        range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } },
        text: "    system.setting('\n",
      },
    ]);
    const items = await client.connection.sendRequest(CompletionRequest.type, {
      textDocument: { uri: parentUri },
      position: { line: 3, character: 20 },
    });
    assert.deepEqual(labels(items), ['from-store', 'api-key']);
    await client.diagnosticsFor(parentUri, v);
    const back = await client.change(parentUri, [
      { range: { start: { line: 3, character: 0 }, end: { line: 4, character: 0 } }, text: '' },
    ]);
    await client.diagnosticsFor(parentUri, back);
  });

  it('colours flow names and API calls, and hints the types of the inputs passed', async () => {
    const tokens = await client.connection.sendRequest(SemanticTokensRequest.type, {
      textDocument: { uri: parentUri },
    });
    // flow (method), child (namespace), setting (method), success (method)
    assert.deepEqual(tokens?.data, [1, 13, 4, 1, 1, 0, 6, 5, 0, 0, 1, 11, 7, 1, 1, 1, 16, 7, 1, 1]);
    const hints = (await client.connection.sendRequest(InlayHintRequest.type, {
      textDocument: { uri: parentUri },
      range: { start: { line: 0, character: 0 }, end: { line: 4, character: 0 } },
    })) as InlayHint[];
    assert.deepEqual(
      hints.map((h) => [h.position.line, h.position.character, h.label]),
      [
        [1, 32, ': int'],
        [1, 50, ': list'],
      ],
    );
  });

  it('strikes deprecated API through and names the inputs of positional values', async () => {
    const v = await client.change(parentUri, [
      {
        range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } },
        text: "    this.task('REST')\n    this.flow('child', 2)\n",
      },
    ]);
    const diagnostics = await client.diagnosticsFor(parentUri, v);
    assert.deepEqual(
      diagnostics.map((d) => [d.range.start.line, d.code, d.severity, d.tags]),
      [
        [3, 'deprecated', 4, [2]], // Hint, DiagnosticTag.Deprecated
        [4, 'too-many-arguments', 1, undefined],
        [4, 'missing-input', 2, undefined],
      ],
    );
    const tokens = await client.connection.sendRequest(SemanticTokensRequest.type, {
      textDocument: { uri: parentUri },
    });
    // line 3: task (method, defaultLibrary | deprecated)
    assert.deepEqual(tokens?.data.slice(15, 20), [1, 9, 4, 1, 3]);
    const hints = (await client.connection.sendRequest(InlayHintRequest.type, {
      textDocument: { uri: parentUri },
      range: { start: { line: 4, character: 0 }, end: { line: 5, character: 0 } },
    })) as InlayHint[];
    assert.deepEqual(
      hints.map((h) => [h.position.line, h.position.character, h.label, h.textEdits?.[0].newText]),
      [[4, 23, 'count: int=', 'count=']],
    );
    const back = await client.change(parentUri, [
      { range: { start: { line: 3, character: 0 }, end: { line: 5, character: 0 } }, text: '' },
    ]);
    assert.deepEqual(await client.diagnosticsFor(parentUri, back), []);
  });

  it('finds references and renames a flow with its callers, from a call or from the explorer', async () => {
    const at = { line: 1, character: 20 };
    const refs = (await client.connection.sendRequest(ReferencesRequest.type, {
      textDocument: { uri: parentUri },
      position: at,
      context: { includeDeclaration: false },
    })) as Location[];
    assert.deepEqual(
      refs.map((r) => [path.basename(r.uri), r.range.start.line, r.range.start.character]),
      [['parent.py', 1, 19]],
    );
    const prepared = await client.connection.sendRequest(PrepareRenameRequest.type, {
      textDocument: { uri: parentUri },
      position: at,
    });
    assert.deepEqual(prepared && 'placeholder' in prepared ? prepared.placeholder : undefined, 'child');
    const edit = (await client.connection.sendRequest(RenameRequest.type, {
      textDocument: { uri: parentUri },
      position: at,
      newName: 'kid',
    })) as WorkspaceEdit;
    // This client does not declare file renames: the callers only.
    assert.deepEqual(
      edit.changes?.[parentUri]?.map((e) => e.newText),
      ['kid'],
    );
    const moved = (await client.connection.sendRequest(WillRenameFilesRequest.type, {
      files: [
        {
          oldUri: fileUri(path.join(root, 'child.py')),
          newUri: fileUri(path.join(root, 'steps', 'count.py')),
        },
      ],
    })) as WorkspaceEdit;
    assert.deepEqual(
      moved.changes?.[parentUri]?.map((e) => e.newText),
      ['steps/count'],
    );
  });
});

describe('semantic tokens and inlay hints (providers)', () => {
  let e: Engines;
  before(async () => {
    e = await loadEngines();
  });

  it('encodes tokens relative to the one before, and skips what it cannot tell', () => {
    const { doc } = docAt(
      e,
      "def handler(system, this):\n    this.log('a'); this.flow(name)\n    x.flow('y')|\n",
    );
    // log, flow: methods of this; `x.flow('y')` is not API, `name` is not a flow name
    assert.deepEqual(semanticTokens(doc).data, [1, 9, 3, 1, 1, 0, 15, 4, 1, 1]);
    const flows = {
      names: () => ['c'],
      resolve: () => ({ known: true }),
      all: () => [],
      inputs: () => ({ inputs: [{ name: 'n', required: true, type: 'int' }], complete: true }),
    };
    const hinted = docAt(e, "def handler(system, this):\n    this.flow('c', n=1, m=2)|\n").doc;
    assert.deepEqual(
      inlayHints(hinted, { start: 0, end: hinted.text.length }, flows).map((h) => [h.position, h.label]),
      [[{ line: 1, character: 20 }, ': int']],
    );
  });
});
