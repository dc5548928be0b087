import assert from 'node:assert/strict';
import { inputKeys } from '../../server/flowInputs';
import { loadEngines } from './helpers';

async function keysOf(text: string) {
  const { parser } = await loadEngines();
  const tree = parser.parse(text);
  try {
    return inputKeys(tree);
  } finally {
    tree.delete();
  }
}

describe('language server: the inputs a flow reads (input prompt prefill)', () => {
  it('reads the third parameter: subscripts are required, .get() optional', async () => {
    const text = `import flow_api

def handler(system: flow_api.System, this: flow_api.Execution, inputs):
    who = inputs['who']
    times = inputs.get('times', 1)
    again = inputs['who']
    return this.success(who * times)
`;
    assert.deepEqual(await keysOf(text), [
      { name: 'who', required: true },
      { name: 'times', required: false },
    ]);
  });

  it('follows this.get("input_value"), directly and through the names it is assigned to', async () => {
    const text = `def handler(system, this):
    region = this.get('input_value')['region']
    data = (this.get('input_value') or {})
    limit = data.get('limit')
    alias = data
    return alias['order_id'], this.get('output_value')['nope'], other['nope'], data[f'x{1}']
`;
    assert.deepEqual(await keysOf(text), [
      { name: 'region', required: true },
      { name: 'limit', required: false },
      { name: 'order_id', required: true },
    ]);
  });

  it('finds nothing in a flow that reads no input, or in a file without a handler', async () => {
    assert.deepEqual(await keysOf('def handler(system, this):\n    return this.success(1)\n'), []);
    assert.deepEqual(await keysOf("def other(system, this, inputs):\n    return inputs['x']\n"), []);
    assert.deepEqual(await keysOf('def handler(system, this, inputs):\n    inputs[\n'), []);
  });
});
