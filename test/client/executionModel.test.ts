import assert from 'node:assert/strict';
import type { ExecutionRecord } from '../../protocol';
import { ExecutionModel, ROOT } from '../../client/executions/executionModel';
import { executionRecord } from '../support/records';

let clock = Date.parse('2026-01-01T10:00:00Z');
function rec(id: string, fields: Partial<ExecutionRecord> = {}): ExecutionRecord {
  const at = new Date((clock += 1000)).toISOString();
  return executionRecord({
    id,
    name: id,
    flow_name: id,
    is_productive: true,
    top_execution_id: fields.parent_execution_id ? 'top' : id,
    created_at: at,
    started_at: at,
    updated_at: at,
    ...fields,
  });
}

describe('client ExecutionModel (what the Executions view shows)', () => {
  it('puts new top-level executions first and counts what is not loaded', () => {
    const m = new ExecutionModel();
    const older = rec('a');
    m.reset({ items: [older], total: 3 });
    assert.deepEqual(m.topLevel(), { ids: ['a'], more: 2 });
    assert.deepEqual(m.apply(rec('b')), [ROOT]);
    assert.deepEqual(m.topLevel().ids, ['b', 'a']);
    assert.equal(m.topLevel().more, 2);
  });

  it('updates known rows and ignores children whose parent is not shown', () => {
    const m = new ExecutionModel();
    m.reset({ items: [rec('a')], total: 1 });
    assert.deepEqual(m.apply({ ...m.get('a')!, status: 'SUCCEEDED', updated_at: '2030-01-01T00:00:00Z' }), [
      'a',
    ]);
    assert.equal(m.get('a')!.status, 'SUCCEEDED');
    assert.deepEqual(m.apply(rec('x', { parent_execution_id: 'elsewhere' })), []);
    assert.equal(m.get('x'), undefined);
  });

  it('keeps the newer state when a list answer lags behind an event', () => {
    const m = new ExecutionModel();
    const old = rec('a');
    m.reset({ items: [old], total: 1 });
    m.apply({ ...old, status: 'SUCCEEDED', updated_at: '2030-01-01T00:00:00Z' });
    m.appendTop([old], 1);
    assert.equal(m.get('a')!.status, 'SUCCEEDED');
  });

  it('loads a whole tree so rows without children have no twistie, then follows new children', () => {
    const m = new ExecutionModel();
    const top = rec('top');
    m.reset({ items: [top], total: 1 });
    assert.equal(m.mayHaveChildren('top'), true);
    const c1 = rec('c1', { parent_execution_id: 'top' });
    const c2 = rec('c2', { parent_execution_id: 'top', type: 'CONNECTION' });
    const g = rec('g', { parent_execution_id: 'c1' });
    m.setTree('top', [top, c1, c2, g]);
    assert.deepEqual(m.childrenOf('top')!.ids, ['c1', 'c2']);
    assert.deepEqual(m.childrenOf('c1')!.ids, ['g']);
    assert.equal(m.mayHaveChildren('c2'), false);
    assert.equal(m.mayHaveChildren('g'), false);
    assert.deepEqual(m.apply(rec('g2', { parent_execution_id: 'g' })), ['g']);
    assert.equal(m.mayHaveChildren('g'), true);
  });

  it('marks a parent whose children were never loaded when a child appears', () => {
    const m = new ExecutionModel();
    m.reset({ items: [rec('p', { type: 'SCHEDULE' })], total: 1 });
    assert.deepEqual(m.apply(rec('k', { parent_execution_id: 'p' })), ['p']);
    assert.deepEqual(m.apply(rec('k2', { parent_execution_id: 'p' })), []);
  });

  it('applies the filter to new top-level executions and builds the runner query', () => {
    const m = new ExecutionModel();
    m.filter = { statuses: ['FAILED'], mode: 'try' };
    m.reset({ items: [], total: 0 });
    assert.deepEqual(m.apply(rec('ok', { is_productive: false })), []);
    assert.deepEqual(m.apply(rec('bad', { status: 'FAILED', is_productive: false })), [ROOT]);
    assert.deepEqual(m.topQuery(), {
      parent_execution_id: 'none',
      status: ['FAILED'],
      flow_name: undefined,
      is_productive: false,
    });
  });

  it('stays bounded when thousands of top-level executions arrive live', () => {
    const m = new ExecutionModel();
    m.reset({ items: [], total: 0 });
    for (let i = 0; i < 5000; i++) m.apply(rec(`e${i}`));
    assert.equal(m.topLevel().ids.length, 2000);
    assert.equal(m.topLevel().ids[0], 'e4999');
    assert.equal(m.topLevel().more, 3000);
    assert.ok(m.size <= 2000);
    assert.ok(m.activeIds(200).length === 200);
  });
});
