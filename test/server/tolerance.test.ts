// Error tolerance of the analysis and the diagnostics: a broken line is reported where it is
// broken, and never hides the handler, the calls or the names around it.
import assert from 'node:assert/strict';
import type { Diagnostic } from 'vscode-languageserver';
import { diagnostics } from '../../server/diagnostics';
import type { Engines } from '../../server/document';
import { FlowDocument } from '../../server/document';
import { logicalLines, maskBroken } from '../../server/tolerant';
import { docAt, fakeFlows, loadEngines, URI } from './helpers';

const flows = fakeFlows(['child', 'reports/daily']);

describe('error tolerance (analysis and diagnostics)', () => {
  let e: Engines;
  before(async () => {
    e = await loadEngines();
  });
  const check = (text: string) => diagnostics(docAt(e, text + '|').doc, flows);
  const brief = (list: Diagnostic[]) =>
    list.map((d) => `${d.range.start.line}:${d.range.start.character}-${d.range.end.character} ${d.code}`);

  it('puts an unclosed paren on the line where it opens, not on the next valid line', () => {
    const list = check("def handler(system, this):\n    x = foo(1,\n    this.log('a')\n    return 1\n");
    assert.deepEqual(brief(list), ['1:11-12 syntax']);
    assert.match(list[0].message as string, /`\(` is never closed — add `\)`/);
  });

  it('finds the handler below a helper with an unclosed call, with or without import flow_api', () => {
    const helper = 'def helper(x):\n    y = foo(1,\n\ndef handler(s, e):\n    e.flow("chlid")\n';
    for (const text of [helper, 'import flow_api\n\n' + helper]) {
      const { doc } = docAt(e, text + '|');
      assert.equal(doc.analysis.isFlow, true);
      assert.equal(doc.analysis.handler?.name, 'handler');
      const codes = diagnostics(doc, flows).map((d) => d.code);
      assert.ok(!codes.includes('missing-handler'), codes.join());
      assert.ok(codes.includes('unknown-flow'), codes.join()); // the call below is still read
    }
  });

  it('reads the call below an unfinished `this.` (no `this.this.flow`)', () => {
    const list = check('def handler(system, this):\n    this.\n    this.flow("chlid")\n');
    assert.deepEqual(brief(list), ['1:8-9 syntax', '2:15-20 unknown-flow']);
  });

  it('says an unclosed string is never closed, on its line', () => {
    const list = check("def handler(system, this):\n    s = 'abc\n    this.log(s)\n");
    assert.deepEqual(brief(list), ['1:8-12 syntax']);
    assert.match(list[0].message as string, /string is never closed/);
  });

  it('says a header misses its colon, at the end of the header', () => {
    const list = check('def handler(system, this):\n    if x\n        this.lg(1)\n');
    assert.deepEqual(brief(list), ['1:8-8 syntax', '2:13-15 unknown-member']);
  });

  it('keeps a valid continuation without indentation (no tree error, nothing masked)', () => {
    const text = 'x = [\n1, 2,\n]\ny = f(a,\n      b)\nz = 1.\n';
    const lines = logicalLines(text);
    assert.equal(lines.length, 3);
    assert.equal(maskBroken(text, lines), text);
    assert.deepEqual(check('def handler(system, this):\n    x = [\n    1,\n    ]\n'), []);
  });

  it('masks broken lines without moving any offset', () => {
    const text = "def f(a, b\n    return 1\nx = this.\ns = 'abc\nfoo(1,\ny = 2\n";
    const masked = maskBroken(text, logicalLines(text));
    assert.equal(masked.length, text.length);
    assert.equal(masked, 'def f(a): \n    return 1\nx = this \ns = 0   \n0     \ny = 2\n');
  });

  it('follows fixes incrementally: the masked tree is reparsed, the diagnostics move', () => {
    const text = 'def handler(system, this):\n    x = foo(1,\n    this.flow("chlid")\n';
    const doc = new FlowDocument(URI, 1, text, e);
    try {
      assert.deepEqual(brief(diagnostics(doc, flows)), ['1:11-12 syntax', '2:15-20 unknown-flow']);
      const at = doc.positionAt(text.indexOf('1,') + 2);
      doc.update([{ range: { start: at, end: at }, text: ')' }], 2);
      doc.reparse();
      assert.deepEqual(brief(diagnostics(doc, flows)), ['2:15-20 unknown-flow']);
      const open = doc.positionAt(doc.text.indexOf('foo(') + 3);
      doc.update([{ range: { start: open, end: open }, text: '(' }], 3); // foo((1,)
      doc.reparse();
      assert.deepEqual(brief(diagnostics(doc, flows)), ['1:11-12 syntax', '2:15-20 unknown-flow']);
    } finally {
      doc.dispose();
    }
  });
});
