import assert from 'node:assert/strict';
import type { MarkupContent } from 'vscode-languageserver';
import { definition } from '../../server/definition';
import type { Engines } from '../../server/document';
import { hover } from '../../server/hover';
import { signatureHelp } from '../../server/signatureHelp';
import { documentSymbols, workspaceSymbols } from '../../server/symbols';
import { docAt, fakeFlows, loadEngines, typedAt } from './helpers';

const flows = fakeFlows(['child', 'reports/daily']);

describe('signature help, hover, definition, symbols (providers)', () => {
  let e: Engines;
  before(async () => {
    e = await loadEngines();
  });

  describe('signature help', () => {
    const help = (text: string, typed?: string) => {
      const { doc, offset } = typed === undefined ? docAt(e, text) : typedAt(e, text, typed);
      return signatureHelp(doc, offset, e.parser);
    };
    const activeName = (text: string, typed?: string) => {
      const h = help(text, typed);
      assert.ok(h, 'signature help expected');
      const p = h.signatures[0].parameters?.[h.activeParameter ?? -1];
      if (!p) return undefined;
      const [a, b] = p.label as [number, number];
      return h.signatures[0].label.slice(a, b).split(/[:=]/)[0];
    };
    const base = 'def handler(system, this):\n    ';

    it('shows the catalogue signature and tracks the active parameter', () => {
      const h = help(base + "this.flow('child', |)");
      assert.ok(h);
      assert.match(h.signatures[0].label, /^flow\(flow_name: str, \*, run: bool = True/);
      assert.match((h.signatures[0].documentation as MarkupContent).value, /as a child execution/);
      assert.equal(activeName(base + "this.flow('ch|')"), 'flow_name');
      assert.equal(activeName(base + "this.flow('child', priority=|)"), 'priority');
      assert.equal(activeName(base + "this.flow('child', order=|)"), '**inputs_and_fields');
      assert.equal(activeName(base + '|', "this.flow('child', max_r"), 'max_runtime_minutes');
      assert.equal(activeName(base + "system.message('subject', |)"), 'message');
      assert.equal(activeName(base + "this.get('a', 'b', |)"), '*fields');
    });

    it('works mid-typing in a multi-line call and on chained receivers', () => {
      assert.equal(activeName(base + 'x = this.connect(\n        "db",\n|\n', '        wait='), 'wait');
      assert.equal(activeName(base + "this.task('REST').run().get(|)"), '*fields');
      assert.equal(help(base + 'print(|)'), null);
    });
  });

  describe('hover', () => {
    const hoverAt = (text: string) => {
      const { doc, offset } = docAt(e, text);
      const h = hover(doc, offset, flows);
      return h ? (h.contents as MarkupContent).value : undefined;
    };
    const base = 'import flow_api\n\ndef handler(system, this):\n    ';

    it('describes API methods, module members, keywords and API variables', () => {
      assert.match(
        String(hoverAt(base + 'this.sle|ep(3)')),
        /\(method\) Execution\.sleep\(seconds: float\) -> None[\s\S]*Let the running flow wait/,
      );
      assert.match(String(hoverAt(base + 'x = flow_api.STA|TUSES')), /\(constant\) flow_api\.STATUSES/);
      assert.match(
        String(hoverAt(base + "this.flow('child', prio|rity=3)")),
        /\(field of the child execution\) priority=…[\s\S]*higher runs first/,
      );
      assert.match(String(hoverAt(base + "this.flow('child', ord|er=3)")), /input of the child flow/);
      assert.match(String(hoverAt(base + "c = this.flow('child')\n    c|.log(1)")), /c: flow_api\.Execution/);
      assert.match(String(hoverAt(base + 'th|is.log(1)')), /this: flow_api\.Execution/);
      assert.equal(hoverAt(base + 'pri|nt(1)'), undefined);
    });

    it('describes this.connect, attributes, enum members, exceptions and record fields', () => {
      const connect = String(hoverAt(base + "this.con|nect('REST', url='u')"));
      assert.match(
        connect,
        /\(method\) Execution\.connect\(connector_name: str \| None = None, \*, connector_type/,
      );
      assert.match(connect, /-> Execution/);
      assert.match(connect, /Run a connection as a child execution of type CONNECTION/);
      assert.match(
        String(hoverAt(base + 'system.return_wh|en')),
        /\(attribute\) System\.return_when: type\[ReturnWhen\][\s\S]*ALL_ENDED/,
      );
      assert.match(
        String(hoverAt(base + 'system.return_when.ALL_EN|DED')),
        /\(enum member\) ReturnWhen\.ALL_ENDED = 'ALL_ENDED'[\s\S]*does not raise/,
      );
      assert.match(
        String(hoverAt(base + 'flow_api.exceptions.DependencyFail|edError')),
        /class flow_api\.DependencyFailedError\(EngineException\)/,
      );
      assert.match(String(hoverAt(base + 'flow_api.excep|tions')), /\(module\) flow_api\.exceptions/);
      assert.match(
        String(hoverAt(base + "system.setting('x').get('val|ue')")),
        /\*\*value\*\* — field of the setting record/,
      );
      assert.match(String(hoverAt(base + "system.setting('x').acq|uire()")), /\(method\) Setting\.acquire/);
    });

    it('describes string arguments: flows, fields, connector types, statuses', () => {
      assert.match(
        String(hoverAt(base + "this.flow('chi|ld')")),
        // The file, docstring and inputs come from the index's describe() (test/server/protocol.test.ts).
        /^\*\*flow\*\* `child`$/,
      );
      assert.match(String(hoverAt(base + "this.flow('nope|')")), /No flow `nope`/);
      assert.match(String(hoverAt(base + "this.get('input_va|lue')")), /\*\*input_value\*\* — field/);
      assert.match(String(hoverAt(base + "this.connect(connector_type='RE|ST')")), /connector type/);
      assert.match(
        String(hoverAt(base + "if this.get('status') == 'FAI|LED':\n        pass")),
        /\*\*FAILED\*\* — execution status/,
      );
    });
  });

  it('goes to the child flow of this.flow / system.flow', () => {
    const env = { parser: e.parser, flows, openDocument: () => undefined };
    const at = (text: string) => {
      const { doc, offset } = docAt(e, text);
      return definition(doc, offset, env);
    };
    assert.equal(
      at("def handler(system, this):\n    this.flow('reports/da|ily')")?.uri,
      'file:///flows/reports/daily.py',
    );
    assert.equal(
      at("def handler(system, this):\n    system.flow('ch|ild').exists()")?.uri,
      'file:///flows/child.py',
    );
    assert.equal(at("def handler(system, this):\n    this.log('ch|ild')"), null);
    assert.equal(at("def handler(system, this):\n    this.flow('nop|e')"), null);
  });

  it('lists the handler, helpers and classes as document symbols, flows as workspace symbols', () => {
    const { doc } = docAt(
      e,
      'import flow_api\n\ndef helper(this):\n    def inner():\n        pass\n\nclass C:\n    def m(self):\n        pass\n\ndef handler(system, this):\n    pass|\n',
    );
    const symbols = documentSymbols(doc);
    assert.deepEqual(
      symbols.map((s) => [s.name, s.children?.map((c) => c.name)]),
      [
        ['helper', ['inner']],
        ['C', ['m']],
        ['handler', []],
      ],
    );
    assert.deepEqual(symbols[2].selectionRange, {
      start: { line: 10, character: 4 },
      end: { line: 10, character: 11 },
    });
    assert.deepEqual(
      workspaceSymbols('rda', flows).map((s) => s.name),
      ['reports/daily'],
    );
  });
});
