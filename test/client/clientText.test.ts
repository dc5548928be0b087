import assert from 'node:assert/strict';
import { flowNameOf, handlerLine, readsInputs } from '../../client/flows/flowSource';
import { reasonFirst } from '../../client/executions/messageText';
import { formatLine, formatStatus } from '../../client/logs/logFormat';
import { executionRecord } from '../support/records';
import { parseAnswer, parseForm } from '../../client/messages/messageForm';
import {
  describeTiming,
  parseInterval,
  parseLater,
  parseTimeOfDay,
} from '../../client/schedules/scheduleTiming';

describe('client: flow files', () => {
  it('finds the handler line and whether the flow reads input', () => {
    const src = 'import flow_api\n\n\ndef handler(system, this):\n    x = this.get("input_value")\n';
    assert.equal(handlerLine(src), 3);
    assert.equal(readsInputs(src), true);
    assert.equal(readsInputs('def handler(system, this):\n    this.log(1)\n'), false);
    assert.equal(readsInputs('def handler(system, this, inputs: dict):\n    pass\n'), true);
    assert.equal(handlerLine('def helper():\n    pass\n'), -1);
  });

  it('names flows by their path in the flows folder', () => {
    assert.equal(flowNameOf('/w', '/w/checks/fraud-score.py'), 'checks/fraud-score');
    assert.equal(flowNameOf('/w', '/elsewhere/x.py'), undefined);
    assert.equal(flowNameOf('/w', '/w/notes.txt'), undefined);
  });
});

describe('client: system.message forms', () => {
  it('reads the simple field map and the JSON-Schema style body', () => {
    assert.deepEqual(
      parseForm({ ok: { type: 'boolean' } }).fields.map((f) => [f.name, f.kind]),
      [['ok', 'boolean']],
    );
    const form = parseForm({
      type: 'object',
      properties: {
        intro: { element: 'markdown', description: 'Deploy to production?' },
        env: { type: 'string', enum: ['staging', 'prod'], label: 'Where', order: 2 },
        count: { type: 'integer', order: 1 },
        submit: { element: 'submit', label: 'OK' },
      },
      required: ['env'],
    });
    assert.deepEqual(form.text, ['Deploy to production?']);
    assert.deepEqual(
      form.fields.map((f) => [f.name, f.kind, f.required]),
      [
        ['count', 'integer', false],
        ['env', 'choice', true],
      ],
    );
    assert.deepEqual(parseForm('Just so you know').text, ['Just so you know']);
  });

  it('checks typed answers', () => {
    const int = parseForm({ n: { type: 'integer', required: true } }).fields[0];
    assert.deepEqual(parseAnswer(int, '42'), { value: 42 });
    assert.ok('error' in parseAnswer(int, '4.2'));
    assert.ok('error' in parseAnswer(int, ''));
  });
});

describe('client: schedule timings', () => {
  it('reads intervals, times of day and later runs', () => {
    assert.deepEqual(parseInterval('5m'), { interval: 5, unit: 'minutes' });
    assert.deepEqual(parseInterval('every 30 seconds'), { interval: 30, unit: 'seconds' });
    assert.deepEqual(parseInterval('15'), { interval: 15, unit: 'minutes' });
    assert.ok('error' in parseInterval('5 parsecs'));
    assert.deepEqual(parseTimeOfDay('9:05'), { time: '09:05' });
    assert.ok('error' in parseTimeOfDay('25:00'));
    const now = new Date(2026, 0, 1, 12, 0);
    assert.deepEqual(parseLater('in 10m', now), { at: new Date(2026, 0, 1, 12, 10).toISOString() });
    // A time of day that has passed today is tomorrow.
    assert.deepEqual(parseLater('11:00', now), { at: new Date(2026, 0, 2, 11, 0).toISOString() });
    assert.ok('error' in parseLater('2020-01-01 09:00', now));
  });

  it('says a timing in words', () => {
    const base = { interval: null, unit: null, time: null, cron: null, timezone: 'UTC' } as const;
    assert.equal(
      describeTiming({ ...base, kind: 'interval', interval: 5, unit: 'minutes' }),
      'every 5 minutes',
    );
    assert.equal(describeTiming({ ...base, kind: 'interval', interval: 1, unit: 'hours' }), 'every hour');
    assert.equal(describeTiming({ ...base, kind: 'daily', time: '09:00' }), 'daily at 09:00 (UTC)');
  });
});

describe('client: log lines', () => {
  it('turns a [WARNING] prefix into the level and names the child that wrote it', () => {
    const line = formatLine(
      {
        execution_id: 'x',
        seq: 1,
        ts: '2026-01-01T10:00:00.000Z',
        stream: 'log',
        text: '[WARNING] low stock',
      },
      'checks/check-stock',
    );
    assert.match(line, /^\d{2}:\d{2}:\d{2}\.000 WARNING checks\/check-stock │ low stock$/);
  });
});

describe('client: messages that name executions', () => {
  const A = '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
  const B = '0193a1b2-c3d4-7e5f-8a9b-ffffffffffff';

  it('say the reason first and the execution id after it', () => {
    assert.equal(
      reasonFirst(`execution ${A}: RUNNING → CREATED is not a transition of the execution lifecycle`),
      `RUNNING → CREATED is not a transition of the execution lifecycle (execution ${A})`,
    );
    assert.equal(
      reasonFirst(`execution ${A} has ended and can no longer be changed`),
      `the execution has ended and can no longer be changed (execution ${A})`,
    );
    assert.equal(
      reasonFirst(`cannot cancel execution ${A}: it has ended or does not exist`),
      `cannot cancel the execution: it has ended or does not exist (execution ${A})`,
    );
    assert.equal(reasonFirst(`no execution ${A}`), `no such execution (execution ${A})`);
    assert.equal(
      reasonFirst(`Execution '${A}' does not exist`),
      `The execution does not exist (execution ${A})`,
    );
    assert.equal(reasonFirst(`${A}: timed out`), `timed out (execution ${A})`);
  });

  it('move ids named in passing to the end, once each, and leave other text alone', () => {
    const two =
      `DependencyFailedError: child flow 'a' (execution ${A}) ended ENDED_ERROR: boom; ` +
      `child flow 'b' (execution ${B}) ended ENDED_ERROR`;
    assert.equal(
      reasonFirst(two),
      "DependencyFailedError: child flow 'a' ended ENDED_ERROR: boom; child flow 'b' ended ENDED_ERROR" +
        ` (executions ${A}, ${B})`,
    );
    assert.equal(reasonFirst(reasonFirst(two)), reasonFirst(two), 'applying it twice changes nothing');
    const repr = `DependencyTimeoutError: timed out waiting for <Execution ${A} RUNNING>`;
    assert.equal(reasonFirst(repr), repr);
    assert.equal(reasonFirst('ZeroDivisionError: division by zero'), 'ZeroDivisionError: division by zero');
  });

  it('read that way in the log channel', () => {
    const rec = executionRecord({
      id: A,
      name: 'order',
      status: 'FAILED',
      message: `execution ${A} ended while waiting for lock 'db'`,
      started_at: '2026-01-01T10:00:00.000Z',
      updated_at: '2026-01-01T10:00:01.000Z',
    });
    assert.match(
      formatStatus(rec),
      new RegExp(
        `STATUS  order FAILED: the execution ended while waiting for lock 'db' \\(execution ${A}\\)$`,
      ),
    );
  });
});
