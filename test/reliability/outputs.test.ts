/** A flow's output_value is bounded (protocol/limits.ts MAX_OUTPUT_BYTES), with a clear failure. */
import assert from 'node:assert/strict';
import { MAX_OUTPUT_BYTES } from '../../protocol';
import { flowsFolder, startTestRunner, type TestRunner } from '../runner/harness';

const FLOWS: Record<string, string> = {
  'big-return.py': `
def handler(system, this, inputs):
    return 'x' * inputs['size']
`,
  'big-save.py': `
import flow_api


def handler(system, this, inputs):
    try:
        this.save(output_value='x' * inputs['size'])
    except flow_api.FlowApiError as err:
        return {'refused': str(err)}
    return {'saved': True}
`,
};

describe('reliability: output size', function () {
  this.timeout(120_000);
  let t: TestRunner;
  before(async () => {
    t = await startTestRunner({ flowsDir: flowsFolder(FLOWS, 'flows-outputs-') });
  });
  after(() => t?.stop());

  it('ends FAILED, naming the size and the limit, when a returned output is too large', async () => {
    const rec = await t.run({ flow_name: 'big-return', input_value: { size: MAX_OUTPUT_BYTES + 1 } });
    assert.equal(rec.status, 'FAILED');
    assert.match(
      rec.message ?? '',
      /output_value is 4\.0 MB of JSON; the limit is 4 MB; the output is not saved/,
    );
    assert.equal(rec.output_value, null);
  });

  it('keeps an output just under the limit', async () => {
    const rec = await t.run({ flow_name: 'big-return', input_value: { size: MAX_OUTPUT_BYTES - 100 } });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.equal((rec.output_value as string).length, MAX_OUTPUT_BYTES - 100);
  });

  it('refuses this.save() of a too large output with an error the flow can catch', async () => {
    const rec = await t.run({ flow_name: 'big-save', input_value: { size: 5 * 1024 * 1024 } });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.match(
      (rec.output_value as { refused: string }).refused,
      /output_value is 5\.0 MB of JSON; the limit is 4 MB/,
    );
  });
});
