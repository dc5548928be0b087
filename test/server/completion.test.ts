import assert from 'node:assert/strict';
import type { CompletionItem, MarkupContent } from 'vscode-languageserver';
import { fieldsOf, memberNames, STATUS_VALUES } from '../../server/catalogue';
import { completions, resolveCompletion } from '../../server/completion';
import type { Engines } from '../../server/document';
import { docAt, fakeFlows, loadEngines, typedAt } from './helpers';

const flows = fakeFlows(['child', 'reports/daily']);
/** What an instance offers: its members, less class constants such as `FIELDS` or `WRAPPERS`. */
const methods = (cls: string) => memberNames(cls).filter((n) => n !== n.toUpperCase());
const labels = (items: CompletionItem[]) => items.map((i) => i.label);

describe('completion (provider)', () => {
  let e: Engines;
  before(async () => {
    e = await loadEngines();
  });
  const complete = (text: string) => {
    const { doc, offset } = docAt(e, text);
    return completions(doc, offset, { parser: e.parser, flows });
  };
  const completeTyped = (text: string, typed: string) => {
    const { doc, offset } = typedAt(e, text, typed);
    return completions(doc, offset, { parser: e.parser, flows });
  };

  it('completes Execution methods after `this.` in an annotated handler', () => {
    const items = complete(
      'import flow_api\n\ndef handler(system: flow_api.System, this: flow_api.Execution):\n    this.|\n',
    );
    assert.deepEqual(labels(items), methods('Execution'));
    assert.match(String(items.find((i) => i.label === 'flow')?.detail), /^flow\(flow_name: str, \*, run/);
  });

  it('adds the documentation on resolve, keeping the list light', () => {
    const items = complete('import flow_api\n\ndef handler(system, this):\n    this.|\n');
    const flow = items.find((i) => i.label === 'flow')!;
    assert.equal(flow.documentation, undefined);
    assert.match((resolveCompletion(flow).documentation as MarkupContent).value, /as a child execution/);
    const keyword = complete("def handler(system, this):\n    this.flow('child', |)\n").find(
      (i) => i.label === 'priority=',
    )!;
    assert.match(
      (resolveCompletion(keyword).documentation as MarkupContent).value,
      /\(field of the child execution\) priority=/,
    );
    const member = complete('import flow_api\ndef handler(system, this):\n    flow_api.|\n').find(
      (i) => i.label === 'STATUSES',
    )!;
    assert.match((resolveCompletion(member).documentation as MarkupContent).value, /lifecycle order/);
  });

  it('types handler parameters by position when unannotated, whatever their names', () => {
    assert.deepEqual(labels(complete('def handler(sys, ex, inputs):\n    ex.|\n')), methods('Execution'));
    assert.deepEqual(labels(complete('def handler(sys, ex, inputs):\n    sys.|\n')), methods('System'));
    assert.deepEqual(labels(complete('def handler(sys, ex, inputs):\n    inputs.|\n')), []);
  });

  it('types helpers by annotation, or by the conventional names this / system', () => {
    const text = 'import flow_api\ndef helper(x: flow_api.Execution, system):\n    x.|\n';
    assert.deepEqual(labels(complete(text)), methods('Execution'));
    assert.deepEqual(
      labels(complete('import flow_api\ndef helper(this):\n    this.|\n')),
      methods('Execution'),
    );
    assert.deepEqual(
      labels(complete('from flow_api import System\ndef helper(s: System):\n    s.|\n')),
      methods('System'),
    );
  });

  it('completes flow_api module members', () => {
    const items = complete('import flow_api\n\ndef handler(system, this):\n    flow_api.|\n');
    for (const name of [
      'Execution',
      'System',
      'DependencyFailedError',
      'FlowApiError',
      'STATUSES',
      'PLATFORM_STATUS',
    ])
      assert.ok(labels(items).includes(name), name);
    assert.deepEqual(
      labels(complete('import flow_api as fa\ndef handler(system, this):\n    fa.Ex|\n')).length,
      items.length,
    );
  });

  it('infers variables assigned from API calls, loops and chains', () => {
    const base = "def handler(system, this):\n    child = this.flow('x')\n    s = system.setting('k')\n";
    assert.deepEqual(labels(complete(base + '    child.|\n')), methods('Execution'));
    assert.deepEqual(labels(complete(base + '    s.|\n')), methods('Setting'));
    assert.deepEqual(
      labels(complete(base + '    for c in this.children():\n        c.|\n')),
      methods('Execution'),
    );
    assert.deepEqual(labels(complete(base + "    system.message('hi').wait().|\n")), methods('Message'));
    assert.deepEqual(labels(complete(base + "    this.task('REST', url=u).run().|\n")), methods('Execution'));
    assert.deepEqual(labels(complete(base + '    system.get_own_user().|\n')), methods('User'));
    assert.deepEqual(labels(complete(base + "    system.file('a').|\n")), methods('File'));
    assert.deepEqual(labels(complete(base + "    system.flow('a').|\n")), methods('Flow'));
    assert.deepEqual(labels(complete(base + '    child = 3\n    child.|\n')), []);
  });

  it('completes enum members after `system.return_when.`, with their docs', () => {
    const items = complete('def handler(system, this):\n    this.flow("x", wait=system.return_when.|)\n');
    assert.deepEqual(labels(items).slice(0, 4), [
      'ALL_ENDED',
      'ALL_SUCCEEDED',
      'FIRST_ENDED',
      'FIRST_SUCCEEDED',
    ]);
    const doc = (resolveCompletion(items[0]).documentation as MarkupContent).value;
    assert.match(doc, /\(enum member\) ReturnWhen\.ALL_ENDED/);
    assert.match(doc, /a failed child does not raise/);
  });

  it('completes record classes returned by system.<type>() and yielded by listings', () => {
    const base = 'def handler(system, this):\n';
    const setting = labels(complete(base + "    system.setting('x').|\n"));
    for (const name of ['get', 'load', 'save', 'acquire', 'release', 'exists', 'delete'])
      assert.ok(setting.includes(name), name);
    assert.ok(!setting.includes('FIELDS'), 'record metadata constants are not offered on instances');
    assert.deepEqual(
      labels(complete(base + "    for s in system.settings(filter={'field': 'name'}):\n        s.|\n")),
      methods('Setting'),
    );
    assert.deepEqual(labels(complete(base + '    for f in system.files():\n        f.|\n')), methods('File'));
    assert.deepEqual(labels(complete(base + "    this.using('retry').|\n")), methods('Wrapped'));
    assert.deepEqual(labels(complete(base + '    p = this.parent()\n    p.|\n')), methods('Execution'));
    assert.deepEqual(
      labels(complete(base + "    system.setting('x').get('|')\n")),
      fieldsOf('Setting').map((f) => f.name),
    );
    assert.deepEqual(labels(complete(base + "    this.using('|')\n")), ['retry', 'timeout']);
  });

  it('completes flow_api.exceptions and its members', () => {
    const base = 'import flow_api\n\ndef handler(system, this):\n';
    assert.ok(labels(complete(base + '    flow_api.|\n')).includes('exceptions'));
    const names = labels(complete(base + '    flow_api.exceptions.|\n'));
    for (const name of ['DependencyFailedError', 'EngineException', 'LockTimeoutError'])
      assert.ok(names.includes(name));
  });

  it('answers from the stale tree while the reparse is pending', () => {
    const text = "def handler(system, this):\n    child = this.flow('x')\n|\n    return this.success()\n";
    assert.deepEqual(labels(completeTyped(text, '    child.')), methods('Execution'));
    assert.deepEqual(labels(completeTyped(text, '    c = system.setting("a")\n    c.')), methods('Setting'));
    assert.deepEqual(labels(completeTyped(text, '    this.flow("x").par')), methods('Execution'));
  });

  it('offers keyword arguments not given yet, in single- and multi-line calls', () => {
    const items = complete("def handler(system, this):\n    this.flow('child', priority=3, |)\n");
    const names = labels(items);
    assert.ok(names.includes('max_runtime_minutes='));
    assert.ok(names.includes('run='));
    assert.ok(!names.includes('priority='));
    assert.ok(!names.includes('flow_name='), 'given by position already');
    const multi = labels(
      completeTyped("def handler(system, this):\n    x = this.connect(\n        'db',\n|\n", '        ru'),
    );
    assert.deepEqual(multi.slice(0, 5), ['connector_type=', 'run=', 'wait=', 'save=', 'name=']);
    assert.ok(!multi.includes('connector_name='));
  });

  it('completes flow names, connector types and fields inside strings', () => {
    const flowItems = completeTyped('def handler(system, this):\n    |\n', "this.flow('rep");
    assert.deepEqual(labels(flowItems), ['child', 'reports/daily']);
    assert.deepEqual(
      flowItems[0].textEdit && 'range' in flowItems[0].textEdit ? flowItems[0].textEdit.range : undefined,
      {
        start: { line: 1, character: 15 },
        end: { line: 1, character: 18 },
      },
    );
    assert.deepEqual(
      labels(completeTyped('def handler(system, this):\n    |\n', "this.connect(connector_type='")),
      ['REST', 'SQLITE', 'SHELL'],
    );
    assert.deepEqual(labels(complete("def handler(system, this):\n    this.task('|')\n")), [
      'REST',
      'SQLITE',
      'SHELL',
    ]);
    const fields = fieldsOf('Execution').map((f) => f.name);
    assert.deepEqual(
      labels(complete("def handler(system, this):\n    this.get('output_value', '|')\n")),
      fields,
    );
    assert.deepEqual(
      labels(completeTyped("def handler(system, this):\n    c = this.flow('x')\n    |\n", 'c.load("')),
      fields,
    );
    assert.deepEqual(labels(complete("def handler(system, this):\n    this.log('|')\n")), []);
  });

  it('completes status names compared with a status', () => {
    const statuses = STATUS_VALUES.map((s) => s.name);
    assert.deepEqual(
      labels(
        completeTyped(
          "def handler(system, this):\n    c = this.flow('x')\n    |\n",
          "if c.get('status') == '",
        ),
      ),
      statuses,
    );
    assert.deepEqual(
      labels(
        complete(
          "def handler(system, this):\n    if this.load('status') in ('FAILED', '|'):\n        pass\n",
        ),
      ),
      statuses,
    );
  });

  it('offers the handler snippet in an empty file and at the top level of a flow without handler', () => {
    const empty = complete('|');
    assert.equal(empty[0].label, 'handler');
    assert.match(
      String(empty[0].insertText),
      /^import flow_api\n\n\ndef handler\(system: flow_api.System, this: flow_api.Execution\):/,
    );
    assert.equal(complete('import flow_api\n\nhan|')[0].label, 'handler');
    assert.deepEqual(complete('import flow_api\n\ndef handler(system, this):\n    pass\n\nhan|'), []);
  });

  it('stays quiet on plain names, comments and unknown receivers', () => {
    assert.deepEqual(complete('def handler(system, this):\n    x|\n'), []);
    assert.deepEqual(complete('def handler(system, this):\n    # this.|\n'), []);
    assert.deepEqual(complete('def handler(system, this):\n    import os\n    os.|\n'), []);
  });
});
