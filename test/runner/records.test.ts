/**
 * The record, lock and wait calls of docs/worker-protocol.md, made by real flows on a real
 * runner. The flows use only the raw call hook (`_rawcall.call(method, params)`), not flow_api's
 * classes, so these tests pin the runner's side of the protocol whatever the Python API does.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import type { ExecutionRecord } from '../../protocol';
import { MIGRATIONS } from '../../runner/src/store/migrations';
import { SqliteStore } from '../../runner/src/store/sqliteStore';
import { startTestRunner, tempDir, type TestRunner } from './harness';

const RAWCALL = `
from flow_api._context import call


def attempt(method, params):
    """The result, or the error text: a flow that goes on after a refused call."""
    try:
        return {'result': call(method, params)}
    except Exception as exc:
        return {'error': str(exc)}
`;

const FLOWS: Record<string, string> = {
  '_rawcall.py': RAWCALL,
  'records-crud.py': `
from _rawcall import call


def ref(key, by='name'):
    return {'type': 'setting', 'key': key, 'by': by}


def handler(system, this):
    out = {}
    a = call('record.save', {**ref('alpha'), 'fields': {'value': 1}})
    out['created'] = a
    out['got'] = call('record.get', ref('alpha'))
    out['by_id'] = call('record.get', ref(a['id'], 'id'))
    out['merged'] = call('record.save', {**ref('alpha'), 'fields': {'note': 'kept', 'value': {'n': 2}}})
    out['renamed'] = call('record.save', {**ref(a['id'], 'id'), 'fields': {'name': 'beta'}})
    out['alpha_exists'] = call('record.exists', ref('alpha'))
    out['keyless'] = call('record.save', {'type': 'setting', 'key': None, 'by': 'name',
                                          'fields': {'name': 'alpha', 'value': 3}})
    out['names'] = [r['name'] for r in call('record.list', {'type': 'setting'})['records']]
    out['archived'] = call('record.archive', ref('beta'))
    out['names_after_archive'] = [r['name'] for r in call('record.list', {'type': 'setting'})['records']]
    out['names_all'] = [r['name'] for r in
                        call('record.list', {'type': 'setting', 'include_archived': True})['records']]
    out['deleted'] = call('record.delete', ref('beta'))
    out['deleted_again'] = call('record.delete', ref('beta'))
    out['vault'] = call('record.save', {'type': 'vault_config', 'key': 'main', 'by': 'name',
                                        'fields': {'url': 'https://vault.example'}})
    return out
`,
  'records-missing.py': `
from _rawcall import attempt, call


def handler(system, this):
    out = {
        'taken': attempt('record.save', {'type': 'setting', 'key': None, 'by': 'name',
                                         'fields': {'name': 'dup', 'value': 1}}),
        'schedule_save': attempt('record.save', {'type': 'schedule', 'key': None, 'by': 'name',
                                                 'fields': {}}),
        'bad_type': attempt('record.get', {'type': 'Not A Type', 'key': 'x', 'by': 'name'}),
        'webhooks': call('record.list', {'type': 'webhook'})['records'],
    }
    print(repr(out))
    call('record.get', {'type': 'setting', 'key': 'nope', 'by': 'name'})
`,
  'lock-holder.py': `
from _rawcall import call


def handler(system, this, inputs):
    call('lock.acquire', {'name': inputs['lock']})
    m = call('message.create', {'subject': 'hold ' + inputs['lock']})
    call('message.wait', {'id': m['id']})
    if inputs.get('release'):
        return {'released': call('lock.release', {'name': inputs['lock']})}
    return {'released': False}
`,
  'lock-waiter.py': `
from _rawcall import call


def handler(system, this, inputs):
    params = {'name': inputs['lock']}
    if 'timeout' in inputs:
        params['timeout'] = inputs['timeout']
    call('lock.acquire', params)
    again = call('lock.acquire', {'name': inputs['lock'], 'timeout': 0})
    first = call('lock.release', {'name': inputs['lock']})
    second = call('lock.release', {'name': inputs['lock']})
    return {'again': again, 'first': first, 'second': second}
`,
  'quick.py': `
def handler(system, this):
    return 'quick'
`,
  'failing.py': `
def handler(system, this):
    raise ValueError('failing on purpose')
`,
  'slow.py': `
import time


def handler(system, this):
    while True:
        time.sleep(0.01)
`,
  'waiter.py': `
from _rawcall import attempt, call


def children(*names):
    return [call('execution.create', {'type': 'FLOW', 'flow_name': n})['id'] for n in names]


def wait(ids, mode=None, timeout=None):
    params = {'ids': ids}
    if mode:
        params['return_when'] = mode
    if timeout is not None:
        params['timeout'] = timeout
    records = call('execution.wait', params)['records']
    for r in records:
        if r['flow_name'] == 'slow':
            call('execution.cancel', {'id': r['id']})
    return [r['status'] for r in records]


def handler(system, this):
    slow = children('slow')
    timed_out = attempt('execution.wait', {'ids': slow, 'timeout': 0.2})
    call('execution.cancel', {'id': slow[0]})
    return {
        'empty': call('execution.wait', {'ids': []}),
        'all_ended': wait(children('quick', 'failing')),
        'first_ended': wait(children('slow', 'quick'), 'FIRST_ENDED'),
        'all_succeeded': wait(children('slow', 'failing'), 'ALL_SUCCEEDED'),
        'first_succeeded': wait(children('slow', 'failing', 'quick'), 'FIRST_SUCCEEDED'),
        'first_succeeded_none': wait(children('failing', 'failing'), 'FIRST_SUCCEEDED'),
        'timeout': timed_out,
    }
`,
  'lister.py': `
from _rawcall import call


def handler(system, this, inputs):
    parent = inputs['parent']
    names = lambda rs: [r['flow_name'] + ':' + r['status'] for r in rs['records']]
    return {
        'all': names(call('execution.list', {'parent_execution_id': parent})),
        'failed': names(call('execution.list', {'parent_execution_id': parent, 'status': 'FAILED'})),
        'quick': names(call('execution.list', {'parent_execution_id': parent, 'flow_name': 'quick',
                                               'status': ['SUCCEEDED', 'FAILED']})),
        'limited': names(call('execution.list', {'parent_execution_id': parent, 'limit': 2})),
        'connections': names(call('execution.list', {'parent_execution_id': parent, 'type': 'CONNECTION'})),
    }
`,
  'connect.py': `
from _rawcall import call


def connect(name, **params):
    child = call('execution.create', {'type': 'CONNECTION', 'connector_name': name, 'input_value': params})
    [rec] = call('execution.wait', {'ids': [child['id']]})['records']
    return rec


def handler(system, this):
    call('record.save', {'type': 'connection', 'key': 'greeter', 'by': 'name', 'fields': {
        'connector_type': 'SHELL',
        'value': {'command': 'printf %s "$GREETING"', 'env': {'GREETING': 'from-record'}},
    }})
    stored = connect('greeter')
    overridden = connect('greeter', env={'GREETING': 'from-call'})
    from_config = connect('calc')
    return {
        'stored': [stored['status'], stored['connector_type'], stored['output_value']['stdout']],
        'overridden': overridden['output_value']['stdout'],
        'config': [from_config['status'], from_config['output_value']],
    }
`,
};

function writeFlows(dir: string): void {
  for (const [file, text] of Object.entries(FLOWS)) fs.writeFileSync(path.join(dir, file), text.trimStart());
  fs.mkdirSync(path.join(dir, '.flows'), { recursive: true });
  // 'greeter' here too: the stored connection record of that name must win.
  fs.writeFileSync(
    path.join(dir, '.flows', 'config.json'),
    JSON.stringify({
      connectors: {
        calc: { type: 'SQLITE', database: ':memory:', fetchval: 'SELECT 6 * 7' },
        greeter: { type: 'SQLITE', database: ':memory:', fetchval: 'SELECT 1' },
      },
    }),
  );
}

interface Reply {
  executionId: string;
  id: number;
  error?: { message: string; code?: string };
}

describe('runner: records, locks and waits (worker calls)', function () {
  let t: TestRunner;
  const replies: Reply[] = [];

  before(async () => {
    const flowsDir = tempDir('flows-records-');
    writeFlows(flowsDir);
    t = await startTestRunner({ flowsDir, dataDir: tempDir(), concurrency: 4 });
    // Python may turn a reply's error into any exception; the code is checked on the wire.
    const workers = t.runner.engine.opts.workers;
    const send = workers.send.bind(workers);
    workers.send = (executionId: string, msg: unknown) => {
      const m = msg as { type?: string; id?: number; error?: Reply['error'] };
      if (m.type === 'reply') replies.push({ executionId, id: m.id!, error: m.error });
      send(executionId, msg);
    };
  });
  after(async () => t?.stop());

  const errorsOf = (id: string) =>
    replies.filter((r) => r.executionId === id && r.error).map((r) => r.error!);

  async function start(flow_name: string, input_value?: unknown): Promise<string> {
    const res = await t.api('POST', '/api/latest/execution', { flow_name, input_value });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  async function ended(id: string): Promise<ExecutionRecord> {
    const rec = await t.waitForStatus(id, 'ENDED');
    return (await t.api('GET', `/api/latest/execution/${id}`)).body ?? rec;
  }

  it('saves, reads, renames, lists, archives and deletes settings', async () => {
    const rec = await t.run({ flow_name: 'records-crud' });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    const out = rec.output_value as Record<string, any>;
    assert.match(out.created.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(out.created).sort(), [
      'archived',
      'created_at',
      'id',
      'modified_at',
      'name',
      'value',
    ]);
    assert.equal(out.created.name, 'alpha');
    assert.equal(out.created.value, 1);
    assert.equal(out.created.archived, false);
    assert.deepEqual(out.got, out.created);
    assert.deepEqual(out.by_id, out.created);
    assert.deepEqual(out.merged.value, { n: 2 });
    assert.equal(out.merged.note, 'kept');
    assert.equal(out.merged.created_at, out.created.created_at);
    assert.equal(out.renamed.id, out.created.id);
    assert.equal(out.renamed.name, 'beta');
    assert.equal(out.renamed.note, 'kept', 'a rename keeps the other fields');
    assert.equal(out.alpha_exists, false);
    assert.notEqual(out.keyless.id, out.created.id);
    assert.deepEqual(out.names, ['alpha', 'beta']);
    assert.equal(out.archived.archived, true);
    assert.deepEqual(out.names_after_archive, ['alpha']);
    assert.deepEqual(out.names_all, ['alpha', 'beta']);
    assert.equal(out.deleted, true);
    assert.equal(out.deleted_again, false);
    assert.equal(out.vault.url, 'https://vault.example');
    const stored = await t.runner.engine.store.getRecord('setting', 'name', 'alpha');
    assert.deepEqual(stored?.data, { value: 3 });
  });

  it('answers a missing record with code not_found, naming type and name; refusals are invalid', async () => {
    await t.runner.engine.records.save({ type: 'setting', key: 'dup', by: 'name', fields: { value: 0 } });
    const rec = await t.run({ flow_name: 'records-missing' });
    assert.equal(rec.status, 'FAILED');
    assert.match(rec.message ?? '', /setting 'nope' does not exist/);
    const errors = errorsOf(rec.id);
    assert.deepEqual(errors.at(-1), { message: "setting 'nope' does not exist", code: 'not_found' });
    assert.deepEqual(errors[0], { message: "setting 'dup' already exists", code: 'invalid' });
    assert.equal(errors[1].code, 'invalid');
    assert.match(errors[1].message, /create schedules with the Schedule Flow… command or the REST API/);
    assert.equal(errors[2].code, 'invalid');
    assert.match(errors[2].message, /^record\.get: type: /);
  });

  it('lists the names of stored records for the editor, sorted, and refuses an unknown type', async () => {
    await t.runner.engine.records.save({ type: 'setting', key: 'zeta', by: 'name', fields: { value: 1 } });
    await t.runner.engine.records.save({ type: 'setting', key: 'beta', by: 'name', fields: { value: 2 } });
    await t.runner.engine.store.flush();
    const names = (await t.api('GET', '/api/latest/record_names?type=setting')).body.names as string[];
    assert.ok(names.includes('beta') && names.includes('zeta'), JSON.stringify(names));
    assert.deepEqual(names, [...names].sort());
    const bad = await t.api('GET', '/api/latest/record_names?type=secret');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.issues[0].path, 'type');
  });

  it('uses a stored connection record before .flows/config.json, with the call’s params on top', async () => {
    const rec = await t.run({ flow_name: 'connect' });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.deepEqual(rec.output_value, {
      stored: ['SUCCEEDED', 'SHELL', 'from-record'],
      overridden: 'from-call',
      config: ['SUCCEEDED', 42],
    });
  });

  it('locks: FIFO waiters are BLOCKED, time out, leave the queue when cancelled, and ends release', async () => {
    const engine = t.runner.engine;
    const holdMessage = async (id: string) => {
      const m = await t.waitFor((m) => m.type === 'message' && m.message.execution_id === id, 'hold message');
      return m.type === 'message' ? m.message.id : '';
    };

    const holder = await start('lock-holder', { lock: 'L' });
    const holdId = await holdMessage(holder);
    assert.equal(engine.locks.holder('L'), holder);

    const waiter = await start('lock-waiter', { lock: 'L' });
    const blocked = await t.waitFor(
      (m) => m.type === 'execution' && m.record.id === waiter && m.record.status === 'BLOCKED',
      'the waiter to be BLOCKED',
    );
    assert.equal(blocked.type === 'execution' && blocked.record.message, "waiting for lock 'L'");
    const second = await start('lock-waiter', { lock: 'L' });
    await t.waitForStatus(second, 'BLOCKED');

    const impatient = await ended(await start('lock-waiter', { lock: 'L', timeout: 0.2 }));
    assert.equal(impatient.status, 'FAILED');
    assert.match(impatient.message ?? '', /lock 'L' not acquired within 0\.2 s/);
    assert.equal(errorsOf(impatient.id).at(-1)?.code, 'lock_timeout');

    // The holder ends without releasing: the end hands the lock to the waiter.
    await engine.answerMessage(holdId, { ok: true });
    const held = await ended(holder);
    assert.equal(held.status, 'SUCCEEDED', held.message ?? '');
    const w = await ended(waiter);
    assert.equal(w.status, 'SUCCEEDED', w.message ?? '');
    assert.deepEqual(w.output_value, { again: null, first: true, second: false });
    assert.equal((await ended(second)).status, 'SUCCEEDED');
    assert.equal(engine.locks.holder('L'), undefined);
    // First come, first served: the first waiter ran on (got the lock) before the second.
    const resumed = (id: string) =>
      t.messages.findIndex(
        (m, i) =>
          m.type === 'execution' &&
          m.record.id === id &&
          m.record.status === 'RUNNING' &&
          t.messages
            .slice(0, i)
            .some((p) => p.type === 'execution' && p.record.id === id && p.record.status === 'BLOCKED'),
      );
    assert.ok(resumed(waiter) >= 0 && resumed(waiter) < resumed(second));

    // A waiter cancelled while waiting must not be handed the lock later.
    const holder2 = await start('lock-holder', { lock: 'M', release: true });
    const hold2 = await holdMessage(holder2);
    const doomed = await start('lock-waiter', { lock: 'M' });
    await t.waitForStatus(doomed, 'BLOCKED');
    await t.api('POST', `/api/latest/execution/${doomed}/cancel`);
    await t.waitForStatus(doomed, 'STOPPED');
    await engine.answerMessage(hold2, { ok: true });
    const h2 = await ended(holder2);
    assert.deepEqual(h2.output_value, { released: true });
    assert.equal(engine.locks.holder('M'), undefined);
  });

  it('execution.wait returns as soon as its return_when holds, or times out', async () => {
    const rec = await t.run({ flow_name: 'waiter' });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    const out = rec.output_value as Record<string, any>;
    assert.deepEqual(out.empty, { records: [] });
    assert.deepEqual(out.all_ended, ['SUCCEEDED', 'FAILED']);
    assert.equal(out.first_ended[1], 'SUCCEEDED');
    assert.ok(!['SUCCEEDED', 'FAILED', 'STOPPED'].includes(out.first_ended[0]), out.first_ended[0]);
    assert.equal(out.all_succeeded[1], 'FAILED');
    assert.ok(!['SUCCEEDED', 'FAILED', 'STOPPED'].includes(out.all_succeeded[0]));
    assert.equal(out.first_succeeded[2], 'SUCCEEDED');
    assert.ok(!['SUCCEEDED', 'FAILED', 'STOPPED'].includes(out.first_succeeded[0]));
    assert.deepEqual(out.first_succeeded_none, ['FAILED', 'FAILED']);
    assert.match(out.timeout.error, /execution\.wait timed out after 0\.2 s/);
    assert.equal(errorsOf(rec.id).at(-1)?.code, 'timeout');

    const listed = await t.run({ flow_name: 'lister', input_value: { parent: rec.id } });
    assert.equal(listed.status, 'SUCCEEDED', listed.message ?? '');
    const l = listed.output_value as Record<string, string[]>;
    assert.equal(l.all.length, 12);
    // Newest first: the timed-out slow child was made first, the last failing one last.
    assert.equal(l.all[0], 'failing:FAILED');
    assert.equal(l.all.at(-1), 'slow:STOPPED');
    assert.equal(l.failed.length, 5);
    assert.ok(l.failed.every((s) => s === 'failing:FAILED'));
    assert.deepEqual(l.quick, ['quick:SUCCEEDED', 'quick:SUCCEEDED', 'quick:SUCCEEDED']);
    assert.equal(l.limited.length, 2);
    assert.deepEqual(l.connections, []);
  });
});

describe('store: migration 3 (settings → records)', () => {
  it('copies every setting into records as type setting with data {value}, then drops settings', async () => {
    const file = path.join(tempDir('flows-migrate-'), 'flows.db');
    const db = new Database(file);
    db.exec(MIGRATIONS[0]);
    db.exec(MIGRATIONS[1]);
    db.exec('PRAGMA user_version = 2');
    db.run('INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)', [
      'counter',
      JSON.stringify({ n: 7, tags: ['a'] }),
      '2025-01-02T03:04:05.000Z',
    ]);
    db.run('INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)', [
      'plain',
      '"text"',
      '2025-01-01',
    ]);
    db.close();

    const store = new SqliteStore(file);
    try {
      const counter = await store.getRecord('setting', 'name', 'counter');
      assert.ok(counter);
      assert.deepEqual(counter.data, { value: { n: 7, tags: ['a'] } });
      assert.equal(counter.archived, false);
      assert.equal(counter.created_at, '2025-01-02T03:04:05.000Z');
      assert.match(counter.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(await store.getRecord('setting', 'id', counter.id), counter);
      const all = await store.listRecords('setting');
      assert.deepEqual(
        all.map((r) => [r.name, r.data.value]),
        [
          ['counter', { n: 7, tags: ['a'] }],
          ['plain', 'text'],
        ],
      );
      // A write is seen by the next read, before any flush.
      store.putRecord({ ...counter, name: 'renamed', modified_at: new Date().toISOString() });
      assert.equal((await store.getRecord('setting', 'name', 'renamed'))?.id, counter.id);
      assert.equal(await store.getRecord('setting', 'name', 'counter'), undefined);
      assert.equal(await store.deleteRecord('setting', 'name', 'plain'), true);
      assert.equal(await store.deleteRecord('setting', 'name', 'plain'), false);
    } finally {
      await store.close();
    }
    // As the store opens it: a WAL database with no shared memory needs exclusive locking.
    fs.rmSync(`${file}.lock`, { recursive: true, force: true });
    const after = new Database(file);
    after.exec('PRAGMA locking_mode = EXCLUSIVE');
    try {
      assert.equal(after.get("SELECT name FROM sqlite_master WHERE name = 'settings'"), null);
      assert.equal(Number(after.get('PRAGMA user_version')?.user_version), MIGRATIONS.length);
    } finally {
      after.close();
    }
  });
});
