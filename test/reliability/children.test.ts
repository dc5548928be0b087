/**
 * this.children() pages through every child (it used to stop silently at 1,000), on a real runner.
 */
import assert from 'node:assert/strict';
import { flowsFolder, startTestRunner, type TestRunner } from '../runner/harness';

const FLOWS: Record<string, string> = {
  'many-children.py': `
def handler(system, this, inputs):
    for i in range(inputs['count']):
        this.flow('quick', run=False, name=f'child {i}')
    names = [c.get('name') for c in this.children()]
    return {'count': len(names), 'first': names[0], 'last': names[-1], 'unique': len(set(names))}
`,
  'quick.py': 'def handler(system, this):\n    return 1\n',
};

describe('reliability: children', function () {
  this.timeout(180_000);
  let t: TestRunner;
  before(async () => {
    t = await startTestRunner({ flowsDir: flowsFolder(FLOWS, 'flows-children-') });
  });
  after(() => t?.stop());

  it('this.children() returns all 1,100 children, oldest first, each once', async () => {
    const rec = await t.run({ flow_name: 'many-children', input_value: { count: 1100 } });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.deepEqual(rec.output_value, { count: 1100, first: 'child 0', last: 'child 1099', unique: 1100 });
  });
});
