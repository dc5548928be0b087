/**
 * What a running flow can ask the runner for (the `call` messages of docs/worker-protocol.md):
 * children, waiting, its own record, records (settings, connections, …), locks and forms. Each
 * answer is the reply's `result`; a thrown error becomes the reply's `error` (with the `code`
 * of a CallError) and an exception in Python.
 */
import crypto from 'node:crypto';
import { MAX_OUTPUT_BYTES, WorkerCallParams, type MessageRecord } from '../../../protocol';
import { CallError, withTimeout } from './callError';
import { storedConnection } from './connectors';
import { EngineError, publicRecord, type Active, type Engine } from './engine';
import { mustGet, waitForExecutions } from './waits';

type Params = Record<string, unknown>;

function parse<M extends keyof typeof WorkerCallParams>(method: M, params: Params) {
  const r = WorkerCallParams[method].safeParse(params);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new CallError('invalid', `${method}: ${issue.path.join('.') || 'params'}: ${issue.message}`);
  }
  return r.data as ReturnType<(typeof WorkerCallParams)[M]['parse']>;
}

export async function handleWorkerCall(
  engine: Engine,
  caller: Active,
  method: string,
  params: Params,
): Promise<unknown> {
  if (method.startsWith('record.')) {
    return recordCall(engine, method, params);
  }
  switch (method) {
    case 'execution.create': {
      const p = parse(method, params);
      const connection = await storedConnection(engine.store, {
        type: p.type,
        connector_name: p.connector_name ?? null,
      });
      return engine.create(
        {
          type: p.type,
          flow_name: p.flow_name,
          connector_name: p.connector_name,
          connector_type: p.connector_type,
          input_value: p.input_value,
          name: p.name,
          priority: p.priority ?? undefined,
          max_runtime_minutes: p.max_runtime_minutes ?? undefined,
          is_productive: p.is_productive ?? undefined,
          scheduled_for: p.scheduled_for,
          start: p.start,
          connection,
        },
        caller,
      );
    }
    case 'execution.start':
      return engine.start(parse(method, params).id);
    case 'execution.wait': {
      const p = parse(method, params);
      const when = p.return_when ?? 'ALL_ENDED';
      return { records: await waitForExecutions(engine, caller, p.ids, when, p.timeout) };
    }
    case 'execution.get':
      return mustGet(engine, parse(method, params).id);
    case 'execution.list': {
      const p = parse(method, params);
      const { items } = await engine.list({
        parent_execution_id: p.parent_execution_id ?? undefined,
        status: p.status ?? undefined,
        type: p.type ?? undefined,
        flow_name: p.flow_name ?? undefined,
        limit: p.limit ?? 1000,
        offset: p.offset ?? 0,
        sort: p.sort ?? '-created_at',
      });
      return { records: items };
    }
    case 'execution.update': {
      const p = parse(method, params);
      const target = engine.active.get(p.id);
      if (!target) throw new CallError('invalid', `execution ${p.id} has ended and can no longer be changed`);
      const fields: Record<string, unknown> = {};
      if ('output_value' in p.fields) {
        const size = Buffer.byteLength(JSON.stringify(p.fields.output_value) ?? '');
        if (size > MAX_OUTPUT_BYTES) {
          const mb = (n: number) => (n / 1048576).toFixed(1);
          throw new CallError(
            'invalid',
            `output_value is ${mb(size)} MB of JSON; the limit is ${MAX_OUTPUT_BYTES / 1048576} MB`,
          );
        }
        fields.output_value = p.fields.output_value;
      }
      if (p.fields.message !== undefined) fields.message = p.fields.message;
      if (p.fields.name !== undefined) fields.name = p.fields.name;
      engine.update(target, fields);
      return publicRecord(target.rec);
    }
    case 'execution.cancel':
      return engine.cancel(parse(method, params).id);
    case 'execution.pause':
      return engine.pause(parse(method, params).id);
    case 'execution.webhook_response': {
      caller.webhookResponse = parse(method, params);
      return null;
    }
    case 'lock.acquire': {
      const p = parse(method, params);
      let blocked = false;
      try {
        await engine.locks.acquire(caller.rec.id, p.name, p.timeout ?? null, () => {
          blocked = true;
          engine.block(caller, `waiting for lock '${p.name}'`);
        });
        return null;
      } finally {
        if (blocked && engine.active.get(caller.rec.id) === caller) engine.unblock(caller);
      }
    }
    case 'lock.release':
      return engine.locks.release(caller.rec.id, parse(method, params).name);
    case 'message.create': {
      const p = parse(method, params);
      const msg: MessageRecord = {
        id: crypto.randomUUID(),
        execution_id: caller.rec.id,
        subject: p.subject,
        body: p.body ?? null,
        message_type: p.message_type ?? 'POPUP',
        response: null,
        created_at: new Date().toISOString(),
        responded_at: null,
      };
      engine.store.putMessage(msg);
      engine.emit('message', 'created', msg);
      return { id: msg.id };
    }
    case 'message.wait': {
      const p = parse(method, params);
      const msg = await engine.store.getMessage(p.id);
      if (!msg) throw new CallError('not_found', `message '${p.id}' does not exist`);
      if (msg.responded_at) return { response: msg.response };
      engine.block(caller, `waiting for an answer to "${msg.subject}"`);
      try {
        const answered = new Promise<MessageRecord>((resolve) => {
          const list = engine.messageWaiters.get(p.id) ?? [];
          list.push(resolve);
          engine.messageWaiters.set(p.id, list);
        });
        const m = p.timeout != null ? await withTimeout(answered, p.timeout, 'message.wait') : await answered;
        return { response: m.response };
      } finally {
        if (engine.active.get(caller.rec.id) === caller) engine.unblock(caller);
      }
    }
    default:
      throw new EngineError(400, `unknown call '${method}'`);
  }
}

/** `record.*`: records the runner keeps (settings, connections, ...; see records.ts). */
async function recordCall(engine: Engine, method: string, params: Params): Promise<unknown> {
  const records = engine.records;
  switch (method) {
    case 'record.get':
      return records.get(parse(method, params));
    case 'record.exists':
      return records.exists(parse(method, params));
    case 'record.save':
      return records.save(parse(method, params));
    case 'record.delete':
      return records.delete(parse(method, params));
    case 'record.archive':
      return records.archive(parse(method, params));
    case 'record.list': {
      const p = parse(method, params);
      return { records: await records.list(p.type, p.include_archived ?? false) };
    }
    default:
      throw new EngineError(400, `unknown call '${method}'`);
  }
}
