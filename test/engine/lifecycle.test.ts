/** The execution lifecycle as a table (runner/src/engine/lifecycle.ts), alone. */
import assert from 'node:assert/strict';
import { EXECUTION_STATUSES, isEnded, type ExecutionStatus } from '../../protocol';
import {
  canTransition,
  checkTransition,
  IllegalTransition,
  nextStatuses,
} from '../../runner/src/engine/lifecycle';

const ENDED = EXECUTION_STATUSES.filter(isEnded);
const OPEN = EXECUTION_STATUSES.filter((s) => !isEnded(s));

describe('engine: lifecycle', () => {
  it('has a row for every status', () => {
    for (const s of EXECUTION_STATUSES) assert.ok(Array.isArray(nextStatuses(s)), s);
  });

  it('follows the path of a flow that runs: CREATED → QUEUED → RUNNING ⇄ BLOCKED → ended', () => {
    const path: ExecutionStatus[] = ['CREATED', 'QUEUED', 'RUNNING', 'BLOCKED', 'RUNNING', 'SUCCEEDED'];
    for (let i = 1; i < path.length; i++) assert.ok(canTransition(path[i - 1], path[i]), path.join(' → '));
  });

  it('holds an execution SCHEDULED until its time, then queues it', () => {
    assert.ok(canTransition('CREATED', 'SCHEDULED'));
    assert.ok(canTransition('SCHEDULED', 'QUEUED'));
  });

  it('lets every status that has not ended pause, resume where it was, and end', () => {
    for (const s of OPEN.filter((x) => x !== 'PAUSED')) {
      assert.ok(canTransition(s, 'PAUSED'), `${s} → PAUSED`);
      assert.ok(canTransition('PAUSED', s), `PAUSED → ${s}`);
    }
    for (const s of OPEN) for (const end of ENDED) assert.ok(canTransition(s, end), `${s} → ${end}`);
  });

  it('never leaves an end, except STOPPED → QUEUED (a stopped run resumed)', () => {
    for (const from of ENDED) {
      for (const to of EXECUTION_STATUSES) {
        assert.equal(canTransition(from, to), from === 'STOPPED' && to === 'QUEUED', `${from} → ${to}`);
      }
    }
  });

  it('refuses steps the engine never makes', () => {
    for (const [from, to] of [
      ['CREATED', 'RUNNING'],
      ['CREATED', 'BLOCKED'],
      ['QUEUED', 'CREATED'],
      ['RUNNING', 'QUEUED'],
      ['RUNNING', 'CREATED'],
      ['BLOCKED', 'QUEUED'],
      ['SCHEDULED', 'BLOCKED'],
    ] as Array<[ExecutionStatus, ExecutionStatus]>) {
      assert.equal(canTransition(from, to), false, `${from} → ${to}`);
    }
  });

  it('lets a status stay (a new message or output) until the end', () => {
    for (const s of OPEN) assert.ok(canTransition(s, s), s);
    for (const s of ENDED) assert.equal(canTransition(s, s), false, s);
  });

  it('throws an illegal transition under the throw policy, naming the execution and the step', () => {
    assert.throws(
      () => checkTransition('e1', 'SUCCEEDED', 'RUNNING', 'throw', () => assert.fail('not logged')),
      (err: unknown) =>
        err instanceof IllegalTransition &&
        err.from === 'SUCCEEDED' &&
        err.to === 'RUNNING' &&
        /execution e1: SUCCEEDED → RUNNING/.test(err.message),
    );
  });

  it('logs it under the log policy, and lets it be made', () => {
    const logged: string[] = [];
    checkTransition('e2', 'FAILED', 'QUEUED', 'log', (m) => logged.push(m));
    assert.equal(logged.length, 1);
    assert.match(logged[0], /execution e2: FAILED → QUEUED/);
    checkTransition('e3', 'QUEUED', 'RUNNING', 'log', (m) => logged.push(m));
    assert.equal(logged.length, 1);
  });
});
