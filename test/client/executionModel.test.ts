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
    const g = rec('g', { parent_execution_id: 'c1', status: 'SUCCEEDED' });
    const running = rec('r', { parent_execution_id: 'top' });
    m.setTree('top', [top, c1, c2, g, running]);
    assert.deepEqual(m.childrenOf('top')!.ids, ['c1', 'c2', 'r']);
    assert.deepEqual(m.childrenOf('c1')!.ids, ['g']);
    assert.equal(m.mayHaveChildren('c2'), false);
    assert.equal(m.mayHaveChildren('g'), false);
    // Still running, it may start children yet: its row stays expandable.
    assert.equal(m.mayHaveChildren('r'), true);
    // The first child of a row known to have none redraws the whole view (see ExecutionModel.apply).
    assert.deepEqual(m.apply(rec('g2', { parent_execution_id: 'g' })), [ROOT]);
    assert.deepEqual(m.apply(rec('g3', { parent_execution_id: 'g' })), ['g']);
    assert.equal(m.mayHaveChildren('g'), true);
  });

  it('keeps children in order while they arrive live: later ones wait behind "Load more"', () => {
    const m = new ExecutionModel();
    m.reset({ items: [rec('top')], total: 1 });
    const kid = (n: number) => rec(`c${n}`, { parent_execution_id: 'top' });
    // The first page: 2 of the 5 that exist when it is read.
    m.setChildren('top', { items: [kid(0), kid(1)], total: 5 });
    // c3 existed already (the total counts it): it starts, and is neither shown nor counted again.
    assert.deepEqual(m.apply(kid(3)), []);
    assert.deepEqual(m.apply({ ...kid(3), status: 'SUCCEEDED' }), []);
    assert.deepEqual(m.childrenOf('top'), { ids: ['c0', 'c1'], more: 3 });
    // Four more start: more exist than the page said, and the count says so.
    for (const n of [5, 6, 7, 8]) m.apply(kid(n));
    assert.deepEqual(m.childrenOf('top'), { ids: ['c0', 'c1'], more: 5 });
    // "Load more" brings the next ones in their place.
    m.setChildren('top', { items: [kid(2), kid(3), kid(4)], total: 9 }, true);
    assert.deepEqual(m.childrenOf('top'), { ids: ['c0', 'c1', 'c2', 'c3', 'c4'], more: 4 });
    m.setChildren('top', { items: [5, 6, 7, 8].map(kid), total: 9 }, true);
    assert.deepEqual(m.childrenOf('top'), {
      ids: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'],
      more: 0,
    });
    // All shown: the next one is appended at once, after the others.
    assert.deepEqual(m.apply(kid(9)), ['top']);
    assert.deepEqual(m.childrenOf('top')!.ids.slice(-2), ['c8', 'c9']);
  });

  it('draws no expand arrow on a listed row that has no children, until one starts', () => {
    const m = new ExecutionModel();
    m.reset({
      items: [
        rec('leaf', { status: 'SUCCEEDED', has_children: false }),
        rec('parent', { status: 'SUCCEEDED', has_children: true }),
        rec('busy', { has_children: false }),
      ],
      total: 3,
    });
    assert.equal(m.mayHaveChildren('leaf'), false);
    assert.equal(m.mayHaveChildren('parent'), true);
    // Still running: children may come.
    assert.equal(m.mayHaveChildren('busy'), true);
    m.apply(rec('kid', { parent_execution_id: 'busy' }));
    assert.deepEqual(m.childrenOf('busy')!.ids, ['kid']);
  });

  it('drops the expand arrow of a row whose end event says it has no children', () => {
    const m = new ExecutionModel();
    m.reset({ items: [rec('run'), rec('open')], total: 2 });
    assert.equal(m.mayHaveChildren('run'), true, 'running: children may come');
    assert.deepEqual(m.apply(rec('run', { status: 'SUCCEEDED', has_children: false })), ['run']);
    assert.equal(m.mayHaveChildren('run'), false);
    // An expanded row that showed no children: nothing to read again.
    m.setChildren('open', { items: [], total: 0 });
    assert.deepEqual(m.apply(rec('open', { status: 'FAILED', has_children: false })), ['open']);
    assert.equal(m.mayHaveChildren('open'), false);
    assert.deepEqual(m.childrenOf('open'), { ids: [], more: 0 });
  });

  it('reads the children of a row again when it ends without any having been seen', () => {
    const m = new ExecutionModel();
    m.reset({ items: [rec('run')], total: 1 });
    m.setChildren('run', { items: [], total: 0 });
    assert.deepEqual(m.childrenOf('run'), { ids: [], more: 0 });
    assert.deepEqual(m.apply(rec('run', { status: 'SUCCEEDED' })), [ROOT]);
    assert.equal(m.childrenOf('run'), undefined, 'to be loaded again when shown');
    assert.equal(m.mayHaveChildren('run'), true);
    // Once: ended rows that had children, or whose children were read again, are left alone.
    m.setChildren('run', { items: [], total: 0 });
    assert.deepEqual(m.apply(rec('run', { status: 'SUCCEEDED' })), ['run']);
  });

  it('marks a parent whose children were never loaded when a child appears', () => {
    const m = new ExecutionModel();
    m.reset({ items: [rec('p', { type: 'SCHEDULE' })], total: 1 });
    assert.deepEqual(m.apply(rec('k', { parent_execution_id: 'p' })), ['p']);
    assert.deepEqual(m.apply(rec('k2', { parent_execution_id: 'p' })), []);
  });

  it('knows whether a run has a child yet (Run expands it at its first child, not before)', () => {
    const m = new ExecutionModel();
    m.reset({ items: [], total: 0 });
    m.apply(rec('run', { status: 'RUNNING' }));
    assert.equal(m.knownToHaveChildren('run'), false);
    // Its children were never loaded: an event is enough to know.
    m.apply(rec('c1', { parent_execution_id: 'run', status: 'RUNNING' }));
    assert.equal(m.knownToHaveChildren('run'), true);
    // Loaded and empty, then one arrives.
    m.apply(rec('run2', { status: 'RUNNING' }));
    m.setChildren('run2', { items: [], total: 0 });
    assert.equal(m.knownToHaveChildren('run2'), false);
    m.apply(rec('c2', { parent_execution_id: 'run2', status: 'RUNNING' }));
    assert.equal(m.knownToHaveChildren('run2'), true);
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

describe('client ExecutionModel: order and parentage while runs arrive (issue 14.2)', () => {
  /** Every row the view can show, with the row it is listed under; each at most once. */
  function shown(m: ExecutionModel): Map<string, string | undefined> {
    const where = new Map<string, string | undefined>();
    const visit = (ids: readonly string[], parent: string | undefined) => {
      for (const id of ids) {
        assert.ok(!where.has(id), `${id} is listed twice (under ${where.get(id)} and ${parent})`);
        where.set(id, parent);
        const kids = m.childrenOf(id);
        if (kids) visit(kids.ids, id);
      }
    };
    visit(m.topLevel().ids, undefined);
    return where;
  }

  function check(m: ExecutionModel): void {
    const top = m.topLevel().ids;
    const created = top.map((id) => m.get(id)!.created_at);
    assert.deepEqual(created, [...created].sort().reverse(), 'top-level rows newest first');
    for (const [id, parent] of shown(m)) {
      // getParent (reveal) says what the list says: a top-level row is never under another.
      assert.equal(m.parentOf(id), parent, `${id} is listed under ${parent} but says ${m.parentOf(id)}`);
      assert.equal(m.get(id)!.parent_execution_id ?? undefined, parent);
    }
  }

  it('keeps older top-level runs at the top level while new runs arrive with a run expanded', () => {
    const m = new ExecutionModel();
    const first = rec('run1');
    m.reset({ items: [first], total: 1 });
    // Run 1 expanded: its tree was loaded, and children keep arriving.
    m.setTree('run1', [first, rec('run1.a', { parent_execution_id: 'run1', top_execution_id: 'run1' })]);
    m.apply(rec('run1.b', { parent_execution_id: 'run1', top_execution_id: 'run1' }));
    // A new run arrives and Run reveals and expands it before its first child.
    assert.deepEqual(m.apply(rec('run2')), [ROOT]);
    m.setTree('run2', [m.get('run2')!]);
    assert.deepEqual(m.childrenOf('run2'), { ids: [], more: 0 });
    // Its first child: the whole view is redrawn (see apply), and it lands under run2 only.
    assert.deepEqual(m.apply(rec('run2.a', { parent_execution_id: 'run2', top_execution_id: 'run2' })), [
      ROOT,
    ]);
    assert.deepEqual(m.apply(rec('run3')), [ROOT]);
    assert.deepEqual(m.topLevel().ids, ['run3', 'run2', 'run1']);
    assert.deepEqual(m.childrenOf('run2')!.ids, ['run2.a']);
    assert.deepEqual(m.childrenOf('run1')!.ids, ['run1.a', 'run1.b']);
    assert.equal(m.childrenOf('run3'), undefined, 'not loaded until expanded');
    check(m);
    // An event for a run already listed (an update) moves nothing.
    assert.deepEqual(
      m.apply({ ...m.get('run1')!, status: 'SUCCEEDED', updated_at: '2030-01-01T00:00:00Z' }),
      ['run1'],
    );
    assert.deepEqual(m.topLevel().ids, ['run3', 'run2', 'run1']);
    check(m);
  });

  it('after a reload, the page and the events that came while it loaded give the same order', () => {
    const m = new ExecutionModel();
    const runs = [rec('r1'), rec('r2'), rec('r3'), rec('r4')];
    // The page (newest first) was read before r4 started; r4's event came while it loaded, and
    // r3's (already in the page) came again with a newer state.
    m.reset({ items: [runs[2], runs[1], runs[0]], total: 3 });
    m.apply(runs[3]);
    m.apply({ ...runs[2], status: 'SUCCEEDED', updated_at: '2030-01-01T00:00:00Z' });
    assert.deepEqual(m.topLevel(), { ids: ['r4', 'r3', 'r2', 'r1'], more: 0 });
    check(m);
  });

  it('holds order and parentage through many runs and children arriving in any order', () => {
    let seed = 14;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 20; round++) {
      const m = new ExecutionModel();
      m.reset({ items: [], total: 0 });
      const runs: ExecutionRecord[] = [];
      const pending: ExecutionRecord[] = [];
      for (let step = 0; step < 80; step++) {
        const r = random();
        if (r < 0.3 || runs.length === 0) {
          const run = rec(`run${round}.${step}`);
          runs.push(run);
          // Events may overtake one another: some wait and come later.
          if (random() < 0.2) pending.push(run);
          else m.apply(run);
        } else if (r < 0.7) {
          const parent = runs[Math.floor(random() * runs.length)];
          m.apply(
            rec(`${parent.id}.c${step}`, { parent_execution_id: parent.id, top_execution_id: parent.id }),
          );
        } else if (r < 0.85) {
          // The user expands a run: its children are read (none, or the ones seen so far).
          const run = runs[Math.floor(random() * runs.length)];
          if (m.get(run.id) && !m.childrenOf(run.id)) m.setTree(run.id, [run]);
        } else if (pending.length) {
          m.apply(pending.shift()!);
        }
        check(m);
      }
    }
  });
});
