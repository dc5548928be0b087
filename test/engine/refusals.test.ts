/**
 * The error kinds (engine/errors.ts), each translated once: to an HTTP answer
 * (http/refusals.ts) and to a worker reply's code (workerCalls.ts).
 */
import assert from 'node:assert/strict';
import { Conflict, Invalid, NotFound, TimedOut, Unavailable } from '../../runner/src/engine/errors';
import { replyError } from '../../runner/src/engine/workerCalls';
import { refusalAnswer } from '../../runner/src/http/refusals';
import { InvalidCursorError } from '../../runner/src/store/store';

const http = (err: unknown) => {
  const a = refusalAnswer(err);
  return a && { status: a.status, body: a.body };
};

describe('engine: refusals and where they map', () => {
  it('answers each kind with its status and error code, the message as it is', () => {
    assert.deepEqual(http(new NotFound('no run with uid u1')), {
      status: 404,
      body: { error: 'not_found', message: 'no run with uid u1' },
    });
    assert.deepEqual(http(new Conflict('run u1 is RUNNING')), {
      status: 409,
      body: { error: 'conflict', message: 'run u1 is RUNNING' },
    });
    assert.deepEqual(http(new Invalid('bad')), {
      status: 400,
      body: { error: 'invalid_request', message: 'bad' },
    });
    assert.deepEqual(http(new Unavailable('stopping')), {
      status: 503,
      body: { error: 'unavailable', message: 'stopping' },
    });
  });

  it('names the field of a refusal that has one, as a rejected body does', () => {
    assert.deepEqual(http(new Invalid("flow 'x' not found", 'flow_name')), {
      status: 400,
      body: {
        error: 'invalid_request',
        message: "flow_name: flow 'x' not found",
        issues: [{ path: 'flow_name', message: "flow 'x' not found" }],
      },
    });
    assert.deepEqual(http(new Conflict('a webhook named w exists', 'name')), {
      status: 409,
      body: {
        error: 'conflict',
        message: 'name: a webhook named w exists',
        issues: [{ path: 'name', message: 'a webhook named w exists' }],
      },
    });
    assert.deepEqual(http(new InvalidCursorError('not a cursor of this list')), {
      status: 400,
      body: {
        error: 'invalid_request',
        message: 'after: not a cursor of this list',
        issues: [{ path: 'after', message: 'not a cursor of this list' }],
      },
    });
  });

  it('leaves anything else to be answered as the bug it is', () => {
    assert.equal(refusalAnswer(new Error('boom')), undefined);
    assert.equal(refusalAnswer(new TimedOut('execution.wait timed out after 1 s', 'executions')), undefined);
    assert.equal(refusalAnswer('a string'), undefined);
  });

  it('gives a flow the code of the kind, so it raises the matching exception', () => {
    assert.deepEqual(replyError(new NotFound("execution 'x' does not exist")), {
      message: "execution 'x' does not exist",
      code: 'not_found',
    });
    assert.deepEqual(replyError(new Invalid('bad')), { message: 'bad', code: 'invalid' });
    assert.deepEqual(replyError(new TimedOut('lock', 'lock')), { message: 'lock', code: 'lock_timeout' });
    assert.deepEqual(replyError(new TimedOut('wait', 'message')), { message: 'wait', code: 'timeout' });
    assert.deepEqual(replyError(new Conflict('ended')), { message: 'ended' });
    assert.deepEqual(replyError(new Error('boom')), { message: 'boom' });
  });
});
