// The editor's catalogue, the stubs and the status list are generated from the Python package
// (runner/python/tools/gen_api.py). They must be up to date, and the catalogue must give every
// class all of its members, inherited ones included.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { CLASSES, fieldsOf, findAttribute, findMethod, memberNames, valuesOf } from '../server/catalogue';
import { EXECUTION_STATUSES } from '../protocol/records';

const REPO = path.join(__dirname, '..');
const GENERATOR = path.join(REPO, 'runner', 'python', 'tools', 'gen_api.py');

describe('generated flow_api catalogue (runner/python/tools/gen_api.py)', () => {
  it('is up to date with runner/python/flow_api (gen_api.py --check)', function () {
    this.timeout(30_000);
    const run = spawnSync('python3', [GENERATOR, '--check'], { cwd: REPO, encoding: 'utf8' });
    if (run.error) {
      console.log(`    (skipped: python3 cannot run: ${run.error.message})`);
      this.skip();
    }
    assert.equal(
      run.status,
      0,
      `generated files are stale, run \`npm run generate\`:\n${run.stdout}${run.stderr}`,
    );
  });

  it('lists inherited methods in every record class', () => {
    for (const name of ['Setting', 'File', 'Flow', 'Message', 'User', 'Client', 'Connection', 'Execution']) {
      for (const method of ['get', 'load', 'save', 'exists', 'delete', 'archive'])
        assert.ok(findMethod(name, method), `${name}.${method}`);
      assert.ok(findAttribute(name, 'FIELDS'), `${name}.FIELDS`);
    }
    assert.ok(findMethod('Setting', 'acquire'));
    assert.equal(findMethod('Setting', 'get')?.from, 'Record');
    assert.equal(findMethod('File', 'save')?.from, 'File');
  });

  it('has attributes, enum members and record fields', () => {
    assert.equal(findAttribute('System', 'return_when')?.type, 'type[ReturnWhen]');
    assert.deepEqual(
      CLASSES.ReturnWhen.attributes.filter((a) => a.value !== undefined).map((a) => a.name),
      ['ALL_ENDED', 'ALL_SUCCEEDED', 'FIRST_ENDED', 'FIRST_SUCCEEDED'],
    );
    assert.equal(findAttribute('DependencyFailedError', 'execution')?.type, 'Execution | None');
    assert.ok(fieldsOf('Setting').some((f) => f.name === 'value'));
    assert.ok(memberNames('Execution').includes('RESOURCE'));
  });

  it('derives string values and record-field keywords from parameter names', () => {
    const flow = findMethod('Execution', 'flow')!;
    assert.equal(flow.params[0].values, 'flows');
    assert.ok(flow.params.some((p) => p.name === 'priority' && p.field));
    assert.equal(findMethod('Execution', 'task')?.params[0].values, 'connectorTypes');
    assert.equal(findMethod('Setting', 'get')?.params[0].values, 'fields:Setting');
    assert.ok(valuesOf('fields:Setting').some((f) => f.name === 'value'));
    assert.deepEqual(
      valuesOf('connectorTypes').map((f) => f.name),
      ['REST', 'SQLITE', 'SHELL'],
    );
    assert.ok(findMethod('System', 'setting')?.params.some((p) => p.name === 'value' && p.field));
  });

  it('gives the protocol the status list of flow_api/statuses.py', () => {
    assert.ok(EXECUTION_STATUSES.includes('SUCCEEDED'));
    assert.ok(EXECUTION_STATUSES.includes('PARTIAL_SUCCEEDED'));
  });
});
