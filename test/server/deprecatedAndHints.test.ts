// Issue 16's last two points, as a user sees them:
// - deprecated platform API (flow_api's `@deprecated`, read into the catalogue by gen_api.py):
//   the call struck through (a hint tagged Deprecated, which VS Code draws struck through, and
//   the `deprecated` semantic token modifier), the replacement named in the hover and the
//   diagnostic, a quick fix that calls it, and the completion item struck through too;
// - inlay hints for a child's inputs passed positionally (the input each value stands for, with
//   its type; double-click writes the keyword) or by `inputs=` (the type after each key; no name
//   hint where the key is written).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  CompletionItemTag,
  DiagnosticSeverity,
  DiagnosticTag,
  InlayHintKind,
  type InlayHint,
  type MarkupContent,
  type TextEdit,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { CLASSES } from '../../server/catalogue';
import { quickFixes } from '../../server/codeActions';
import { completions } from '../../server/completion';
import { diagnostics } from '../../server/diagnostics';
import type { Engines } from '../../server/document';
import { hover } from '../../server/hover';
import { inlayHints, LEGEND, semanticTokens } from '../../server/semantic';
import { signatureHelp } from '../../server/signatureHelp';
import type { WorkspaceFlows } from '../../server/workspaceFlows';
import { CHILD_FLOWS, docAt, flowsFolder, loadEngines } from './helpers';

const H = 'def handler(system, this):\n';

/** Semantic tokens decoded to `[line, col, text, type, modifiers]`. */
function decode(text: string, data: number[]): [number, number, string, string, string[]][] {
  const lines = text.split('\n');
  const out: [number, number, string, string, string[]][] = [];
  let line = 0;
  let col = 0;
  for (let i = 0; i < data.length; i += 5) {
    const [dl, dc, len, type, mods] = data.slice(i, i + 5);
    line += dl;
    col = dl ? dc : col + dc;
    const modifiers = LEGEND.tokenModifiers.filter((_, bit) => mods & (1 << bit));
    out.push([line, col, lines[line].slice(col, col + len), LEGEND.tokenTypes[type], modifiers]);
  }
  return out;
}

function applyEdits(text: string, edits: TextEdit[]): string {
  return TextDocument.applyEdits(TextDocument.create('file:///x.py', 'python', 1, text), edits);
}

describe('deprecated platform API and inlay hints of child inputs', () => {
  let e: Engines;
  let root: string;
  let flows: WorkspaceFlows;
  let mainUri: string;
  before(async () => {
    e = await loadEngines();
    ({ root, flows, mainUri } = await flowsFolder(e, CHILD_FLOWS));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const doc = (text: string) => docAt(e, text.includes('|') ? text : text + '|', mainUri);

  describe('deprecated platform API', () => {
    it('comes from flow_api: Execution.task and Wrapped.task, replaced by connect', () => {
      const marked = Object.values(CLASSES).flatMap((c) =>
        c.methods.filter((m) => m.deprecated && m.from === c.name).map((m) => `${c.name}.${m.name}`),
      );
      assert.deepEqual(marked, ['Execution.task', 'Wrapped.task']);
      assert.deepEqual(CLASSES.Execution.methods.find((m) => m.name === 'task')?.deprecated, {
        message: 'task() is deprecated and will be removed: use connect(connector_type=...) instead',
        replacement: 'connect',
        usage: 'connect(connector_type=...)',
      });
    });

    it('marks the call with the deprecated token modifier, and only that call', () => {
      const text = `${H}    a = this.task('REST', url='http://x')\n    b = this.connect(connector_type='REST')\n    this.using('retry', max_tries=2).task('SHELL', command='true')\n`;
      const tokens = decode(text, semanticTokens(doc(text).doc).data);
      assert.deepEqual(tokens, [
        [1, 13, 'task', 'method', ['defaultLibrary', 'deprecated']],
        [2, 13, 'connect', 'method', ['defaultLibrary']],
        [3, 9, 'using', 'method', ['defaultLibrary']],
        [3, 37, 'task', 'method', ['defaultLibrary', 'deprecated']],
      ]);
    });

    it('is a hint tagged Deprecated (drawn struck through) naming the replacement, with a fix', () => {
      const text = `${H}    a = this.task('REST', url='http://x', wait=False)\n    this.using('retry').task('SHELL')\n    return this.success()\n`;
      const list = diagnostics(doc(text).doc, flows);
      assert.deepEqual(
        list.map((d) => [d.range.start.line, d.range.start.character, d.range.end.character, d.code]),
        [
          [1, 13, 17, 'deprecated'],
          [2, 24, 28, 'deprecated'],
        ],
      );
      const [first, second] = list;
      assert.equal(first.severity, DiagnosticSeverity.Hint);
      assert.deepEqual(first.tags, [DiagnosticTag.Deprecated]);
      assert.equal(
        first.message,
        '`this.task()` is deprecated and will be removed from the platform: use `this.connect(connector_type=...)` instead.',
      );
      const fixes = quickFixes(mainUri, [first]);
      assert.deepEqual(
        fixes.map((f) => f.title),
        ['Use `this.connect()`'],
      );
      const fixed = applyEdits(text, fixes[0].edit!.changes![mainUri]);
      assert.equal(
        fixed.split('\n')[1],
        "    a = this.connect(connector_type='REST', url='http://x', wait=False)",
      );
      const fixedAgain = applyEdits(text, quickFixes(mainUri, [second])[0].edit!.changes![mainUri]);
      assert.equal(fixedAgain.split('\n')[2], "    this.using('retry').connect(connector_type='SHELL')");
      // The fixed flow has nothing deprecated left.
      assert.equal(diagnostics(doc(fixed).doc, flows).filter((d) => d.code === 'deprecated').length, 1);
      assert.deepEqual(
        diagnostics(
          doc(applyEdits(fixed, quickFixes(mainUri, [second])[0].edit!.changes![mainUri])).doc,
          flows,
        ),
        [],
      );
    });

    it('keeps its fix right when the call was written by keyword, and offers none for *args', () => {
      const byKeyword = `${H}    this.task(connector_type='REST')\n`;
      const fix = quickFixes(mainUri, diagnostics(doc(byKeyword).doc, flows))[0];
      assert.equal(
        applyEdits(byKeyword, fix.edit!.changes![mainUri]).split('\n')[1],
        "    this.connect(connector_type='REST')",
      );
      const splat = diagnostics(doc(`${H}    this.task(*args)\n`).doc, flows);
      assert.deepEqual(
        splat.map((d) => [d.code, quickFixes(mainUri, [d]).length]),
        [['deprecated', 0]],
      );
    });

    it('names the replacement in the hover and signature help, and strikes the completion item through', () => {
      const { doc: d, offset } = doc(`${H}    this.ta|sk('REST')\n`);
      const value = (hover(d, offset, flows)?.contents as MarkupContent).value;
      assert.match(value, /^```python\n\(method\) Execution\.task\(connector_type: str, \*,/);
      assert.match(
        value,
        /\n\n\*\*Deprecated\*\*: use `connect\(connector_type=\.\.\.\)` instead of `task\(\)`; the platform will remove `task\(\)`\.\n\n/,
      );
      const typing = doc(`${H}    this.task(|)\n`);
      const help = signatureHelp(typing.doc, typing.offset, e.parser)?.signatures[0].documentation;
      assert.match(
        (help as MarkupContent).value,
        /^\*\*Deprecated\*\*: use `connect\(connector_type=\.\.\.\)` instead/,
      );
      const at = doc(`${H}    this.|\n`);
      const items = completions(at.doc, at.offset, { parser: e.parser, flows });
      assert.deepEqual(items.find((i) => i.label === 'task')?.tags, [CompletionItemTag.Deprecated]);
      assert.equal(items.find((i) => i.label === 'connect')?.tags, undefined);
    });
  });

  describe('inlay hints of a child flow’s inputs', () => {
    const hintsOf = (text: string): InlayHint[] => {
      const d = doc(text).doc;
      return inlayHints(d, { start: 0, end: d.text.length }, flows);
    };
    const brief = (hints: InlayHint[]) =>
      hints.map((h) => [h.position.line, h.position.character, h.label, h.kind]);

    it('names each positional value with the input it stands for and its type; double-click writes it', () => {
      const text = `${H}    this.flow('child', 3, 'eu')\n`;
      const hints = hintsOf(text);
      assert.deepEqual(brief(hints), [
        [1, 23, 'count: int=', InlayHintKind.Parameter],
        [1, 26, 'region=', InlayHintKind.Parameter],
      ]);
      assert.match(
        (hints[0].tooltip as MarkupContent).value,
        /^The input `count` of `child` \(used as `int`\), which it needs\. `flow\(\)` takes a child's inputs by keyword only: double-click to write `count=`\.$/,
      );
      const written = applyEdits(
        text,
        hints.flatMap((h) => h.textEdits ?? []),
      );
      assert.equal(written.split('\n')[1], "    this.flow('child', count=3, region='eu')");
      // Written out, the names are there: only the types are hinted, after the keywords.
      assert.deepEqual(brief(hintsOf(written)), [[1, 28, ': int', InlayHintKind.Type]]);
    });

    it('skips the inputs passed by name, and a value beyond the inputs the child reads', () => {
      assert.deepEqual(brief(hintsOf(`${H}    this.flow('child', 'eu', True, 1, count=3)\n`)), [
        [1, 23, 'region=', InlayHintKind.Parameter],
        [1, 29, 'verbose: bool=', InlayHintKind.Parameter],
        [1, 43, ': int', InlayHintKind.Type],
      ]);
      // The declared order of an input_schema.
      assert.deepEqual(brief(hintsOf(`${H}    this.using('retry').flow('orders', 7, 'rush')\n`)), [
        [1, 39, 'order_id: int=', InlayHintKind.Parameter],
        [1, 42, 'note: str=', InlayHintKind.Parameter],
      ]);
    });

    it('gives no positional hint where the child reads inputs it cannot list, or for system.flow', () => {
      assert.deepEqual(hintsOf(`${H}    this.flow('open', 1)\n`), []);
      assert.deepEqual(hintsOf(`${H}    this.flow('nowhere', 1)\n`), []);
      assert.deepEqual(hintsOf(`${H}    f = system.flow('child', 'name')\n`), []);
      assert.deepEqual(hintsOf(`${H}    this.flow('child', *values)\n`), []);
    });

    it('hints the type after each key of inputs= and input_value=, never the name it repeats', () => {
      const text = `${H}    this.flow('child', inputs={'count': 3, 'region': 'eu', 'other': 1})\n    this.flow('child', input_value={'count': 3})\n    this.flow('child', inputs=dict(count=3, verbose=True))\n    this.flow('orders', inputs=dict({'order_id': 1}, note='x'))\n`;
      assert.deepEqual(brief(hintsOf(text)), [
        [1, 38, ': int', InlayHintKind.Type],
        [2, 43, ': int', InlayHintKind.Type],
        [3, 40, ': int', InlayHintKind.Type],
        [3, 51, ': bool', InlayHintKind.Type],
        [4, 47, ': int', InlayHintKind.Type],
        [4, 57, ': str', InlayHintKind.Type],
      ]);
      // The keys written so are checked like keywords: `region` is missing from the dict() call.
      assert.deepEqual(
        diagnostics(doc(text).doc, flows).map((d) => [d.range.start.line, d.code]),
        [
          [1, 'unknown-input'],
          [2, 'missing-input'],
          [3, 'missing-input'],
        ],
      );
    });

    it('only answers for the range asked', () => {
      const text = `${H}    this.flow('child', 3)\n    x = 1\n    this.flow('orders', 7)\n`;
      const d = doc(text).doc;
      const line3 = d.offsetAt({ line: 3, character: 0 });
      assert.deepEqual(brief(inlayHints(d, { start: line3, end: d.text.length }, flows)), [
        [3, 24, 'order_id: int=', InlayHintKind.Parameter],
      ]);
    });
  });
});
