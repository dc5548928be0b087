// The inputs of child flows: read from the child's file (what it reads, or its input_schema),
// offered as keyword arguments of `this.flow('child', …)` and `template.clone(…)` and as keys of
// `inputs={…}`, and checked: a required one missing is a warning, an unknown one a hint.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { CompletionItem, Diagnostic } from 'vscode-languageserver';
import { DiagnosticSeverity } from 'vscode-languageserver';
import { completions } from '../../server/completion';
import { diagnostics } from '../../server/diagnostics';
import type { Engines } from '../../server/document';
import { readInputs } from '../../server/flowInputs';
import type { WorkspaceFlows } from '../../server/workspaceFlows';
import { CHILD_FLOWS, docAt, flowsFolder, loadEngines } from './helpers';

describe('child flow inputs', () => {
  let e: Engines;
  let root: string;
  let flows: WorkspaceFlows;
  let mainUri: string;
  before(async () => {
    e = await loadEngines();
    ({ root, flows, mainUri } = await flowsFolder(e, CHILD_FLOWS));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const complete = (text: string) => {
    const { doc, offset } = docAt(e, text, mainUri);
    return completions(doc, offset, { parser: e.parser, flows });
  };
  const check = (text: string) => diagnostics(docAt(e, text + '|', mainUri).doc, flows);
  const labels = (items: CompletionItem[]) => items.map((i) => i.label);
  const brief = (list: Diagnostic[]) =>
    list.map((d) => `${d.range.start.line}:${d.range.start.character}-${d.range.end.character} ${d.code}`);
  const H = 'def handler(system, this):\n';

  it('reads what a flow reads, with types, and its input_schema', async () => {
    const parse = (text: string) => {
      const tree = e.parser.parse(text);
      try {
        return readInputs(tree);
      } finally {
        tree.delete();
      }
    };
    assert.deepEqual(parse(CHILD_FLOWS['child.py']), {
      inputs: [
        { name: 'count', required: true, type: 'int' },
        { name: 'region', required: true, type: undefined },
        { name: 'verbose', required: false, type: 'bool' },
      ],
      complete: true,
    });
    assert.deepEqual(parse(CHILD_FLOWS['orders.py']), {
      inputs: [
        { name: 'order_id', required: true, type: 'int' },
        { name: 'note', required: false, type: 'str' },
      ],
      complete: true,
    });
    assert.equal(parse(CHILD_FLOWS['open.py']).complete, false);
  });

  it("offers the child's inputs as keyword arguments, required first, then the call's keywords", () => {
    const items = complete(H + "    this.flow('child', |)\n");
    assert.deepEqual(labels(items).slice(0, 3), ['count=', 'region=', 'verbose=']);
    assert.ok(labels(items).includes('priority='));
    assert.equal(items[0].detail, 'input of child: int (required)');
    const sorted = [...items].sort((a, b) => (a.sortText ?? '').localeCompare(b.sortText ?? ''));
    assert.equal(sorted[0].label, 'count=');
    // given ones are left out, also while typing a keyword
    assert.deepEqual(labels(complete(H + "    this.flow('child', count=1, reg|)\n")).slice(0, 2), [
      'region=',
      'verbose=',
    ]);
  });

  it('offers them with an unfinished this. above, and for clone() of a template', () => {
    assert.ok(labels(complete(H + "    this.\n    this.flow('child', |")).includes('count='));
    assert.ok(
      labels(complete(H + "    t = this.flow('orders', run=False)\n    t.clone(|)\n")).includes('order_id='),
    );
  });

  it('offers them as keys of inputs={…}', () => {
    assert.deepEqual(labels(complete(H + "    this.flow('child', inputs={'|})\n")), [
      'count',
      'region',
      'verbose',
    ]);
    assert.deepEqual(labels(complete(H + "    this.flow('orders', inputs={'order_id': 1, '|': 2})\n")), [
      'order_id',
      'note',
    ]);
  });

  it('warns about a required input not passed, hints at an unknown one with a fix', () => {
    const list = check(H + "    this.flow('child', count=1, verbos=True)\n");
    assert.deepEqual(brief(list), ['1:15-20 missing-input', '1:32-38 unknown-input']);
    assert.equal(list[0].severity, DiagnosticSeverity.Warning);
    assert.match(list[0].message as string, /needs the input `region`/);
    assert.equal(list[1].severity, DiagnosticSeverity.Hint);
    assert.match(list[1].message as string, /Did you mean `verbose`\?/);
    assert.deepEqual(brief(check(H + "    this.flow('child', count=1, inputs={'region': 'eu', 'x': 1})\n")), [
      '1:57-58 unknown-input',
    ]);
    assert.deepEqual(check(H + "    this.flow('child', count=1, region='eu')\n"), []);
  });

  it('stays quiet when it cannot tell: **kwargs, inputs=data, a child that hands its input on', () => {
    assert.deepEqual(check(H + "    kw = {}\n    this.flow('child', **kw)\n"), []);
    assert.deepEqual(check(H + "    data = {}\n    this.flow('child', inputs=data)\n"), []);
    assert.deepEqual(brief(check(H + "    this.flow('open', a=1, b=2)\n")), []);
    assert.deepEqual(brief(check(H + "    this.flow('open', b=2)\n")), ['1:15-19 missing-input']);
  });
});
