import assert from 'node:assert/strict';
import type { ExecutionRecord } from '../../protocol';
import { ExecutionModel } from '../../client/executions/executionModel';
import { ExpandedRows } from '../../client/executions/expandedRows';
import { executionRecord } from '../support/records';

const rec = (id: string, fields: Partial<ExecutionRecord> = {}) =>
  executionRecord({ id, name: id, flow_name: id, ...fields });

describe('client ExpandedRows (an expanded row reads its children once more)', () => {
  it('reads the children of an expanded row again, once, and redraws the row', async () => {
    const model = new ExecutionModel();
    model.reset({ items: [rec('run')], total: 1 });
    // VS Code's first answer for the row, read when the run had just started: no children.
    model.setChildren('run', { items: [], total: 0 });
    const loads: string[] = [];
    const redrawn: string[] = [];
    const rows = new ExpandedRows(
      model,
      async (id) => {
        loads.push(id);
        model.setChildren(id, { items: [rec('child', { parent_execution_id: id })], total: 1 });
      },
      (id) => redrawn.push(id),
    );
    await rows.expanded('run');
    assert.deepEqual(loads, ['run']);
    assert.deepEqual(redrawn, ['run'], 'redrawn, so VS Code asks for its children again');
    assert.deepEqual(model.childrenOf('run')!.ids, ['child']);
    // Once: collapsing and expanding again asks VS Code only.
    await rows.expanded('run');
    assert.deepEqual(loads, ['run']);
    // After a reload of the view, once more.
    rows.reset();
    await rows.expanded('run');
    assert.deepEqual(loads, ['run', 'run']);
  });

  it('leaves alone rows that are no execution or cannot have children, and retries after a failed read', async () => {
    const model = new ExecutionModel();
    model.reset({
      items: [rec('leaf', { status: 'SUCCEEDED', has_children: false }), rec('run')],
      total: 2,
    });
    const loads: string[] = [];
    let fail = true;
    const rows = new ExpandedRows(
      model,
      async (id) => {
        loads.push(id);
        if (fail) throw new Error('runner gone');
      },
      () => undefined,
    );
    await rows.expanded('more:');
    await rows.expanded('leaf');
    assert.deepEqual(loads, []);
    await rows.expanded('run');
    fail = false;
    await rows.expanded('run');
    assert.deepEqual(loads, ['run', 'run']);
  });
});
