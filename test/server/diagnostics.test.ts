import assert from 'node:assert/strict';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver';
import { quickFixes } from '../../server/codeActions';
import { diagnostics } from '../../server/diagnostics';
import type { Engines } from '../../server/document';
import { docAt, fakeFlows, loadEngines, URI } from './helpers';
import { PLATFORM_FLOW } from './platformFlow';

const flows = fakeFlows(['child', 'reports/daily']);

describe('diagnostics (provider)', () => {
  let e: Engines;
  before(async () => {
    e = await loadEngines();
  });
  const check = (text: string) => diagnostics(docAt(e, text + '|').doc, flows);
  const brief = (list: Diagnostic[]) =>
    list.map((d) => `${d.range.start.line}:${d.range.start.character}-${d.range.end.character} ${d.code}`);
  const handler = (body: string) => `import flow_api\n\ndef handler(system, this):\n${body}\n`;

  it('accepts a correct flow', () => {
    assert.deepEqual(
      check(
        handler(
          "    c = this.flow('child', priority=3, order=1, inputs={'a': 1})\n    this.connect('db', connector_type='REST', url='u')\n    this.save(output_value=c.get('output_value'), message='m')\n    system.message('s', message_type='POPUP').wait(timeout=3).get('response')\n    return this.success('done')",
        ),
      ),
      [],
    );
  });

  it('reports unknown methods with a did-you-mean quick fix', () => {
    const list = check(
      handler("    this.sleeep(3)\n    s = system.setting('x')\n    s.lod()\n    flow_api.Executon"),
    );
    assert.deepEqual(brief(list), [
      '3:9-15 unknown-member',
      '5:6-9 unknown-member',
      '6:13-21 unknown-member',
    ]);
    assert.equal(list[0].message, '`Execution` has no attribute `sleeep`. Did you mean `sleep`?');
    assert.equal(list[1].message, '`Setting` has no attribute `lod`. Did you mean `load`?');
    assert.equal(list[2].message, '`flow_api` has no member `Executon`. Did you mean `Execution`?');
    const fixes = quickFixes(URI, [list[0]]);
    assert.equal(fixes[0].title, 'Change to `sleep`');
    assert.deepEqual(fixes[0].edit?.changes?.[URI], [{ range: list[0].range, newText: 'sleep' }]);
    assert.equal(fixes[0].isPreferred, true);
  });

  it('points record fields read as attributes to get()', () => {
    const [d] = check(handler('    x = this.input_value'));
    assert.equal(
      d.message,
      "`input_value` is a field of the execution record, not an attribute: read it with `.get('input_value')`.",
    );
    assert.equal(quickFixes(URI, [d])[0].edit?.changes?.[URI][0].newText, "get('input_value')");
    const [v] = check(handler("    x = system.setting('a').value"));
    assert.match(String(v.message), /^`value` is a field of the setting record/);
  });

  it('finds nothing wrong in a realistic platform flow', () => {
    assert.deepEqual(check(PLATFORM_FLOW), []);
  });

  it('knows every real member: attributes, inherited methods, submodules, enum members', () => {
    assert.deepEqual(
      check(
        handler(
          "    system.return_when.ALL_ENDED\n    system.setting('a').archive()\n    system.setting('a').FIELDS\n    flow_api.exceptions.DependencyFailedError\n    flow_api.CloudomationException\n    this.RESOURCE\n    this._record\n    system.return_when.ALL_ENDED.lower()",
        ),
      ),
      [],
    );
    const [d] = check(handler('    flow_api.exceptions.DependencyFailed'));
    assert.equal(
      d.message,
      '`flow_api.exceptions` has no member `DependencyFailed`. Did you mean `DependencyFailedError`?',
    );
  });

  it('never reports keywords of a method that takes **kwargs', () => {
    assert.deepEqual(
      check(
        handler(
          "    this.log(response=1)\n    this.set_output(a=1)\n    this.save(outptu_value=1)\n    system.setting(name='x', value=1)\n    this.connect('REST', anything=1)",
        ),
      ),
      [],
    );
  });

  it('suggests sleep_until for a misspelt sleep_until', () => {
    const [d] = check(handler("    this.sleep_untill('2030-01-01')"));
    assert.equal(d.message, '`Execution` has no attribute `sleep_untill`. Did you mean `sleep_until`?');
  });

  it('checks keyword and positional arguments against the catalogue', () => {
    const list = check(
      handler(
        "    this.sleep(secnds=1)\n    this.sleep()\n    this.set_output('a', 1, 2)\n    this.flow(flow_name='child')\n    this.webhook_json_response({}, status=201)",
      ),
    );
    assert.deepEqual(brief(list), [
      '3:15-21 unknown-keyword',
      '3:9-14 missing-argument',
      '4:9-14 missing-argument',
      '5:28-29 too-many-arguments',
      '7:35-41 unknown-keyword',
    ]);
    assert.equal(list[0].message, '`this.sleep()` has no keyword argument `secnds`. Did you mean `seconds`?');
    assert.match(String(list[2].message), /^`this\.sleep\(\)` needs `seconds`/);
    assert.match(String(list[3].message), /takes 2 positional arguments \(key, value\)/);
    assert.match(String(list[4].message), /Did you mean `status_code`\?/);
  });

  it('leaves calls with *args / **kwargs and free keyword inputs alone', () => {
    assert.deepEqual(
      check(handler("    kw = {}\n    this.save(**kw)\n    this.flow('child', *[], anything=1)")),
      [],
    );
  });

  it('warns about flows that do not exist', () => {
    const list = check(
      handler("    this.flow('chld')\n    this.flow('reports/daily')\n    system.flow('nothing').exists()"),
    );
    assert.deepEqual(brief(list), ['3:15-19 unknown-flow']);
    assert.equal(list[0].severity, DiagnosticSeverity.Warning);
    assert.equal(
      list[0].message,
      'No flow `chld` in the flows folder (expected `chld.py`). Did you mean `child`?',
    );
    assert.equal(quickFixes(URI, list)[0].edit?.changes?.[URI][0].newText, 'child');
  });

  it('reports syntax errors with precise ranges, also mid-typing', () => {
    const dangling = check(handler("    child = this.flow('child')\n    child.\n    this.log(1)"));
    assert.deepEqual(brief(dangling), ['4:9-10 syntax']);
    assert.match(String(dangling[0].message), /a name must follow `\.`/);
    const unclosed = check(handler("    this.flow('child',\n    return this.success()"));
    assert.equal(unclosed.length > 0, true);
    assert.equal(unclosed[0].code, 'syntax');
    assert.deepEqual(
      check(handler('    x = [1, 2\n')).map((d) => d.code),
      ['syntax'],
    );
  });

  it('checks the handler', () => {
    const missing = check('import flow_api\n\ndef main(system, this):\n    pass\n');
    assert.deepEqual(brief(missing), ['0:0-15 missing-handler']);
    assert.match(
      quickFixes(URI, missing)[0].edit?.changes?.[URI][0].newText ?? '',
      /def handler\(system, this\):/,
    );
    const wrong = check('import flow_api\n\ndef handler(this):\n    pass\n');
    assert.deepEqual(brief(wrong), ['2:11-17 handler-signature']);
    assert.equal(
      wrong[0].message,
      '`handler` must take `(system, this)` or `(system, this, inputs)`; found (this).',
    );
    assert.equal(quickFixes(URI, wrong)[0].edit?.changes?.[URI][0].newText, '(system, this)');
    const swapped = check(
      'import flow_api\n\ndef handler(this: flow_api.Execution, system: flow_api.System):\n    pass\n',
    );
    assert.match(String(swapped[0].message), /first parameter of `handler` receives a `flow_api.System`/);
    assert.deepEqual(check('import flow_api\n\ndef handler(system, this, inputs):\n    pass\n'), []);
  });

  it('is silent on Python files that are not flows', () => {
    assert.deepEqual(check('import json\n\ndef run(this):\n    this.flw(\n'), []);
  });
});
