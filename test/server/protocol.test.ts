// The bundled server (dist/server.js --stdio) driven by a real LSP client connection.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CodeActionRequest,
  CompletionRequest,
  CompletionResolveRequest,
  DefinitionRequest,
  DidChangeWatchedFilesNotification,
  DocumentSymbolRequest,
  FileChangeType,
  HoverRequest,
  SignatureHelpRequest,
  WorkspaceSymbolRequest,
  type CompletionItem,
  type CompletionList,
  type DocumentSymbol,
  type Location,
  type MarkupContent,
  type Position,
} from 'vscode-languageserver-protocol/node';
import { INPUT_KEYS_REQUEST } from '../../protocol/languageServer';
import { ensureServerBuilt, fileUri, LspClient, REPO, SERVER_JS } from './lspClient';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'server', 'flows');

function labels(result: CompletionItem[] | CompletionList | null): string[] {
  const items = Array.isArray(result) ? result : (result?.items ?? []);
  return items.map((i) => i.label);
}

describe('language server over stdio (dist/server.js)', function () {
  this.timeout(60_000);
  let root: string;
  let client: LspClient;
  let mainUri: string;
  let mainText: string;

  before(async () => {
    ensureServerBuilt();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-ls-'));
    fs.cpSync(FIXTURES, root, { recursive: true });
    client = await LspClient.start({ command: process.execPath, args: [SERVER_JS, '--stdio'], root });
    mainUri = fileUri(path.join(root, 'order-pipeline.py'));
    mainText = fs.readFileSync(path.join(root, 'order-pipeline.py'), 'utf8');
    await client.open(mainUri, mainText);
  });

  after(async () => {
    await client?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const complete = (uri: string, position: Position) =>
    client.connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position });
  const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle));

  /** Opens a scratch flow and returns its uri. */
  async function openFlow(name: string, text: string): Promise<string> {
    const uri = fileUri(path.join(root, name));
    await client.open(uri, text);
    return uri;
  }

  it('answers flows/inputKeys with the keys a flow reads, and [] for a bad request', async () => {
    const text = "def handler(system, this, inputs):\n    return inputs['who'] * inputs.get('times', 1)\n";
    assert.deepEqual(await client.connection.sendRequest(INPUT_KEYS_REQUEST, { text }), [
      { name: 'who', required: true },
      { name: 'times', required: false },
    ]);
    assert.deepEqual(await client.connection.sendRequest(INPUT_KEYS_REQUEST, { text: 42 }), []);
  });

  it('publishes no diagnostics for a correct flow', async () => {
    assert.deepEqual(await client.diagnosticsFor(mainUri, 1), []);
  });

  it('completes after `this.` typed into a fixture flow, answering at once', async () => {
    const line = lineOf(mainText, 'report.run_async()') + 1;
    await client.change(mainUri, [
      { range: { start: { line, character: 0 }, end: { line, character: 0 } }, text: '    child.\n' },
    ]);
    const items = await complete(mainUri, { line, character: 10 });
    assert.ok(labels(items).includes('wait_for'));
    assert.ok(labels(items).includes('sleep_until'));
    const diagnostics = await client.diagnosticsFor(mainUri, 2);
    assert.deepEqual(
      diagnostics.map((d) => [d.range.start.line, d.range.start.character, d.code]),
      [[line, 9, 'syntax']],
    );
    await client.change(mainUri, [
      { range: { start: { line, character: 0 }, end: { line: line + 1, character: 0 } }, text: '' },
    ]);
    assert.deepEqual(await client.diagnosticsFor(mainUri, 3), []);
  });

  it('follows broken code keystroke by keystroke: members, keywords, strings, signature', async () => {
    const uri = await openFlow('typing.py', 'import flow_api\n\ndef handler(system, this):\n    \n');
    await client.diagnosticsFor(uri, 1);
    const typed = "this.flow('reports/daily', pri";
    let character = 4;
    const seen: Record<string, string[]> = {};
    for (const ch of typed) {
      await client.change(uri, [
        { range: { start: { line: 3, character }, end: { line: 3, character } }, text: ch },
      ]);
      character++;
      seen[typed.slice(0, character - 4)] = labels(await complete(uri, { line: 3, character }));
    }
    assert.ok(seen['this.'].includes('flow'));
    assert.deepEqual(seen["this.flow('"], ['child', 'not_a_flow', 'order-pipeline', 'reports/daily']);
    assert.deepEqual(seen["this.flow('rep"], seen["this.flow('"]);
    assert.ok(seen["this.flow('reports/daily', pri"].includes('priority='));
    assert.ok(!seen["this.flow('reports/daily', pri"].includes('flow_name='));
    const help = await client.connection.sendRequest(SignatureHelpRequest.type, {
      textDocument: { uri },
      position: { line: 3, character },
    });
    assert.ok(help);
    const param = help.signatures[0].parameters![help.activeParameter!];
    const [a, b] = param.label as [number, number];
    assert.equal(help.signatures[0].label.slice(a, b), 'priority=…');
    const diagnostics = await client.diagnosticsFor(uri, character - 3);
    assert.equal(diagnostics[0]?.code, 'syntax');
  });

  it('hovers API methods with the catalogue docs', async () => {
    const line = lineOf(mainText, "this.flow('child'");
    const hover = await client.connection.sendRequest(HoverRequest.type, {
      textDocument: { uri: mainUri },
      position: { line, character: mainText.split('\n')[line].indexOf('flow(') + 1 },
    });
    assert.match((hover?.contents as MarkupContent).value, /\(method\) Execution\.flow\(flow_name: str/);
  });

  it('reports unknown methods and offers the quick fix', async () => {
    const uri = await openFlow(
      'typo.py',
      'import flow_api\n\ndef handler(system, this):\n    this.sleep_untill(3)\n    return this.success()\n',
    );
    const [d] = await client.diagnosticsFor(uri, 1);
    assert.equal(d.message, '`Execution` has no attribute `sleep_untill`. Did you mean `sleep_until`?');
    assert.deepEqual(d.range, { start: { line: 3, character: 9 }, end: { line: 3, character: 21 } });
    const actions = await client.connection.sendRequest(CodeActionRequest.type, {
      textDocument: { uri },
      range: d.range,
      context: { diagnostics: [d] },
    });
    const action = actions?.[0];
    assert.ok(action && 'edit' in action);
    assert.equal(action.title, 'Change to `sleep_until`');
    assert.deepEqual(action.edit?.changes?.[uri], [{ range: d.range, newText: 'sleep_until' }]);
  });

  it('goes to the child flow file, at its handler', async () => {
    const line = lineOf(mainText, "this.flow('reports/daily'");
    const location = (await client.connection.sendRequest(DefinitionRequest.type, {
      textDocument: { uri: mainUri },
      position: { line, character: mainText.split('\n')[line].indexOf('reports/daily') + 3 },
    })) as Location;
    assert.equal(location.uri, fileUri(path.join(root, 'reports', 'daily.py')));
    assert.deepEqual(location.range.start, { line: 3, character: 4 });
  });

  it('describes a child flow on hover and in completion: its file, docstring and inputs', async () => {
    fs.writeFileSync(
      path.join(root, 'greet.py'),
      '"""Greets someone, a few times.\n\nLonger notes."""\n\ndef handler(system, this, inputs):\n' +
        "    return inputs['who'] * inputs.get('times', 1)\n",
    );
    await client.connection.sendNotification(DidChangeWatchedFilesNotification.type, {
      changes: [{ uri: fileUri(path.join(root, 'greet.py')), type: FileChangeType.Created }],
    });
    const text = "def handler(system, this):\n    this.flow('greet', who='Ada')\n    this.flow('gr')\n";
    const uri = await openFlow('caller.py', text);
    const hover = await client.connection.sendRequest(HoverRequest.type, {
      textDocument: { uri },
      position: { line: 1, character: text.split('\n')[1].indexOf('greet') + 2 },
    });
    const shown = (hover?.contents as MarkupContent).value;
    assert.match(shown, /\*\*flow\*\* `greet` — \[greet\.py\]\(file:\/\/\/.*greet\.py\)/);
    assert.match(shown, /Greets someone, a few times\./);
    assert.doesNotMatch(shown, /Longer notes/);
    assert.match(shown, /Inputs it reads: `who`, `times` \(optional\)/);
    const list = await complete(uri, { line: 2, character: text.split('\n')[2].indexOf('gr') + 2 });
    const items = Array.isArray(list) ? list : (list?.items ?? []);
    const item = items.find((i) => i.label === 'greet');
    assert.ok(item, `greet is offered: ${labels(list).join(', ')}`);
    const resolved = await client.connection.sendRequest(CompletionResolveRequest.type, item);
    assert.match((resolved.documentation as MarkupContent).value, /Inputs it reads: `who`/);
  });

  it('goes to an API member in the shipped stubs (F12 on this.log)', async () => {
    const text = "def handler(system, this):\n    this.log('hi')\n";
    const uri = await openFlow('f12.py', text);
    const location = (await client.connection.sendRequest(DefinitionRequest.type, {
      textDocument: { uri },
      position: { line: 1, character: text.split('\n')[1].indexOf('log') + 1 },
    })) as Location;
    assert.match(location.uri, /\/stubs\/flow_api\/__init__\.pyi$/);
    const stub = fs.readFileSync(new URL(location.uri), 'utf8').split('\n')[location.range.start.line];
    assert.match(stub, /^\s+def log\(/);
    assert.equal(stub.slice(location.range.start.character, location.range.end.character), 'log');
  });

  it('lists document and workspace symbols', async () => {
    const symbols = (await client.connection.sendRequest(DocumentSymbolRequest.type, {
      textDocument: { uri: mainUri },
    })) as DocumentSymbol[];
    assert.deepEqual(
      symbols.map((s) => s.name),
      ['fetch_order', 'handler'],
    );
    const flows = await client.connection.sendRequest(WorkspaceSymbolRequest.type, { query: 'daily' });
    assert.deepEqual(
      flows?.map((f) => f.name),
      ['reports/daily'],
    );
  });

  it('warns about a missing child flow until its file is created', async () => {
    const uri = await openFlow(
      'parent.py',
      "import flow_api\n\ndef handler(system, this):\n    this.flow('later')\n",
    );
    const [d] = await client.diagnosticsFor(uri, 1);
    assert.equal(d.code, 'unknown-flow');
    fs.writeFileSync(path.join(root, 'later.py'), 'def handler(system, this):\n    pass\n');
    await client.connection.sendNotification(DidChangeWatchedFilesNotification.type, {
      changes: [{ uri: fileUri(path.join(root, 'later.py')), type: FileChangeType.Created }],
    });
    const cleared = await new Promise<boolean>((resolve) => {
      const poll = setInterval(() => {
        if (client.lastDiagnostics(uri)?.length === 0) {
          clearInterval(poll);
          resolve(true);
        }
      }, 10);
    });
    assert.equal(cleared, true);
  });

  it('stays silent on Python files that are not flows', async () => {
    const uri = fileUri(path.join(root, 'not_a_flow.py'));
    await client.open(uri, fs.readFileSync(path.join(root, 'not_a_flow.py'), 'utf8'));
    assert.equal(await complete(uri, { line: 8, character: 16 }), null);
    assert.equal(
      await client.connection.sendRequest(HoverRequest.type, {
        textDocument: { uri },
        position: { line: 8, character: 16 },
      }),
      null,
    );
    // a later flow's diagnostics arrive after anything this file would have had
    const flowUri = await openFlow('barrier.py', 'import flow_api\n\ndef handler(system, this):\n    pass\n');
    await client.diagnosticsFor(flowUri, 1);
    assert.equal(client.lastDiagnostics(uri), undefined);
  });
});

describe('language server: the flows.flowsFolder setting', function () {
  this.timeout(60_000);
  let root: string;
  let client: LspClient;

  before(async () => {
    ensureServerBuilt();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-ls-folder-'));
    fs.mkdirSync(path.join(root, 'automation', 'billing'), { recursive: true });
    fs.writeFileSync(path.join(root, 'automation', 'main.py'), 'def handler(system, this):\n    pass\n');
    fs.writeFileSync(
      path.join(root, 'automation', 'billing', 'invoice.py'),
      'def handler(system, this):\n    pass\n',
    );
    fs.writeFileSync(path.join(root, 'setup.py'), 'print(1)\n');
    client = await LspClient.start({
      command: process.execPath,
      args: [SERVER_JS, '--stdio'],
      root,
      settings: { 'flows.flowsFolder': 'automation' },
    });
  });

  after(async () => {
    await client?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('names flows relative to the configured folder', async () => {
    const uri = fileUri(path.join(root, 'automation', 'main.py'));
    await client.open(
      uri,
      "import flow_api\n\ndef handler(system, this):\n    this.flow('billing/invoice')\n",
    );
    await client.diagnosticsFor(uri, 1);
    // the folder scan may finish after the first diagnostics; symbols come from the same index
    for (
      let i = 0;
      i < 100 && !(await client.connection.sendRequest(WorkspaceSymbolRequest.type, { query: '' }))?.length;
      i++
    )
      await new Promise((r) => setTimeout(r, 20));
    const symbols = await client.connection.sendRequest(WorkspaceSymbolRequest.type, { query: '' });
    assert.deepEqual(symbols?.map((s) => s.name).sort(), ['billing/invoice', 'main']);
    const items = await client.connection.sendRequest(CompletionRequest.type, {
      textDocument: { uri },
      position: { line: 3, character: 15 },
    });
    assert.deepEqual(labels(items), ['billing/invoice']);
    assert.deepEqual(client.lastDiagnostics(uri), []);
  });
});
