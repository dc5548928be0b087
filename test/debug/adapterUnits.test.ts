/** The adapter's pure parts: launch arguments, id mapping, breakpoints, threads of a tree. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionRecord } from '../../protocol';
import { Breakpoints } from '../../debug-adapter/breakpoints';
import { ExecutionThreads } from '../../debug-adapter/executionThreads';
import { IdMap } from '../../debug-adapter/idMap';
import {
  ConfigError,
  configurationAttributes,
  parseAttachArgs,
  parseLaunchArgs,
} from '../../debug-adapter/launchConfig';

describe('debug adapter: launch configuration', () => {
  it('keeps configurationAttributes.json (for package.json) in step with the zod schemas', () => {
    const file = path.resolve(__dirname, '../../debug-adapter/configurationAttributes.json');
    assert.deepEqual(
      JSON.parse(fs.readFileSync(file, 'utf8')),
      configurationAttributes(),
      `regenerate ${file} from configurationAttributes() in debug-adapter/launchConfig.ts`,
    );
  });

  it('parses launch arguments, with defaults', () => {
    const args = parseLaunchArgs({ type: 'flow', request: 'launch', name: 'Debug', program: 'x/y.py' });
    assert.equal(args.program, path.resolve('x/y.py'));
    assert.equal(args.stopOnEntry, false);
    assert.equal(args.runnerUrl, undefined);
  });

  it('takes the runner from the adapter options unless launch.json names one', () => {
    const defaults = { runnerUrl: 'http://127.0.0.1:1', runnerToken: 'a' };
    assert.equal(parseLaunchArgs({ program: 'a.py' }, defaults).runnerUrl, 'http://127.0.0.1:1');
    const own = parseLaunchArgs(
      { program: 'a.py', runnerUrl: 'http://127.0.0.1:2', runnerToken: 'b' },
      defaults,
    );
    assert.deepEqual([own.runnerUrl, own.runnerToken], ['http://127.0.0.1:2', 'b']);
  });

  it('names the attribute that is wrong', () => {
    const bad = (raw: unknown, re: RegExp) =>
      assert.throws(
        () => parseLaunchArgs(raw),
        (err: Error) => err instanceof ConfigError && re.test(err.message),
      );
    bad({}, /'program'/);
    bad({ program: 'a.txt' }, /'program'.*\.py/);
    bad({ program: 'a.py', input: [1] }, /'input'/);
    bad({ program: 'a.py', stopOnEntry: 'yes' }, /'stopOnEntry'/);
    bad({ program: 'a.py', runnerUrl: 'http://127.0.0.1:3' }, /'runnerToken'/);
    assert.throws(() => parseAttachArgs({ executionId: 'e' }), /'runnerUrl'/);
    assert.throws(() => parseAttachArgs({ runnerUrl: 'http://h:1', runnerToken: 't' }), /'executionId'/);
  });
});

describe('debug adapter: id mapping', () => {
  it('gives (execution, local id) pairs session-unique ids and forgets one execution’s', () => {
    const ids = new IdMap();
    const a1 = ids.session('a', 1);
    const b1 = ids.session('b', 1);
    assert.notEqual(a1, b1);
    assert.equal(ids.session('a', 1), a1);
    assert.equal(ids.session('a', 0), 0);
    assert.deepEqual(ids.local(b1), { executionId: 'b', local: 1 });
    ids.forget('a');
    assert.equal(ids.local(a1), undefined);
    assert.notEqual(ids.session('a', 1), a1, 'ids are never reused');
    assert.deepEqual(ids.local(b1), { executionId: 'b', local: 1 });
  });
});

describe('debug adapter: breakpoints', () => {
  it('keeps the conditions, numbers the breakpoints and matches moved lines', () => {
    const bps = new Breakpoints();
    const wanted = Breakpoints.fromDap({
      source: { path: '/f.py' },
      breakpoints: [
        { line: 3, condition: '' },
        { line: 8, hitCondition: '2' },
        { line: 12, logMessage: 'x {y}' },
      ],
    });
    assert.deepEqual(wanted, [
      { line: 3 },
      { line: 8, hitCondition: '2' },
      { line: 12, logMessage: 'x {y}' },
    ]);
    const placed = bps.set('/f.py', wanted, {
      breakpoints: [
        { verified: true, line: 4 },
        { verified: true, line: 8 },
        { verified: false, line: 12 },
      ],
    });
    assert.deepEqual(
      placed.map((b) => [b.line, b.verified]),
      [
        [4, true],
        [8, true],
        [12, false],
      ],
    );
    assert.deepEqual(bps.config(), { '/f.py': wanted });
    const moved = bps.changed({
      reason: 'changed',
      breakpoint: { verified: true, line: 10, source: { path: '/f.py' } },
    });
    assert.equal(moved?.id, placed[1].id, 'line 10 is the one asked for line 8');
    assert.equal(bps.changed({ breakpoint: { line: 1, source: { path: '/other.py' } } }), undefined);
  });
});

describe('debug adapter: threads of an execution tree', () => {
  const rec = (over: Partial<ExecutionRecord>): ExecutionRecord =>
    ({
      id: 'top',
      name: 'parent',
      type: 'FLOW',
      status: 'QUEUED',
      flow_name: 'parent',
      is_productive: false,
      top_execution_id: 'top',
      parent_execution_id: null,
      updated_at: '2025-01-01T00:00:00.000Z',
      ...over,
    }) as ExecutionRecord;

  it('starts a thread per running flow execution and ends the session with the top', () => {
    const tree = new ExecutionThreads('top');
    const [top] = tree.update(rec({}));
    assert.equal(top.kind, 'started');
    assert.deepEqual(tree.update(rec({ id: 'other', top_execution_id: 'other' })), []);
    const child = { id: 'kid', name: 'child', flow_name: 'child', parent_execution_id: 'top' };
    assert.deepEqual(tree.update(rec({ ...child, status: 'QUEUED' })), [], 'not running yet');
    const [started] = tree.update(
      rec({ ...child, status: 'RUNNING', updated_at: '2025-01-01T00:00:01.000Z' }),
    );
    assert.equal(started.kind, 'started');
    assert.deepEqual(
      tree.update(rec({ ...child, status: 'QUEUED' })),
      [],
      'an older snapshot changes nothing',
    );
    assert.deepEqual(
      tree.update(rec({ id: 'conn', type: 'CONNECTION', status: 'RUNNING' })),
      [],
      'connector calls are not threads',
    );
    const ended = tree.update(rec({ status: 'SUCCEEDED', updated_at: '2025-01-01T00:00:02.000Z' }));
    assert.deepEqual(
      ended.map((c) => c.kind),
      ['exited', 'topEnded'],
    );
    assert.deepEqual(
      tree.exitAll().map((th) => th.executionId),
      ['kid'],
    );
  });
});
