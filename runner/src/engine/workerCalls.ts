/**
 * What a running flow can ask the runner for (the `call` messages of docs/worker-protocol.md):
 * children, waiting, its own record, settings and forms. Each answer is the reply's `result`;
 * a thrown error becomes the reply's `error` and a FlowApiError in Python.
 */
import crypto from 'node:crypto';
import { WorkerCallParams, type ExecutionRecord, type MessageRecord } from '../../../protocol';
import { EngineError, publicRecord, type Active, type Engine } from './engine';

type Params = Record<string, unknown>;

function parse<M extends keyof typeof WorkerCallParams>(method: M, params: Params) {
  const r = WorkerCallParams[method].safeParse(params);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${method}: ${issue.path.join('.') || 'params'}: ${issue.message}`);
  }
  return r.data as ReturnType<(typeof WorkerCallParams)[M]['parse']>;
}

async function mustGet(engine: Engine, id: string): Promise<ExecutionRecord> {
  const rec = await engine.get(id);
  if (!rec) throw new Error(`no execution ${id}`);
  return rec;
}

export async function handleWorkerCall(
  engine: Engine,
  caller: Active,
  method: string,
  params: Params,
): Promise<unknown> {
  switch (method) {
    case 'execution.create': {
      const p = parse(method, params);
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
        },
        caller,
      );
    }
    case 'execution.start':
      return engine.start(parse(method, params).id);
    case 'execution.wait': {
      const p = parse(method, params);
      const pending = p.ids.filter((id) => engine.active.has(id));
      if (pending.length === 0) return { records: await Promise.all(p.ids.map((id) => mustGet(engine, id))) };
      engine.block(caller, `waiting for ${pending.length} execution${pending.length === 1 ? '' : 's'}`);
      try {
        const all = Promise.all(p.ids.map((id) => engine.waitForEnd(id)));
        const records = p.timeout != null ? await withTimeout(all, p.timeout, 'execution.wait') : await all;
        return { records };
      } finally {
        if (engine.active.get(caller.rec.id) === caller) engine.unblock(caller);
      }
    }
    case 'execution.get':
      return mustGet(engine, parse(method, params).id);
    case 'execution.list': {
      const p = parse(method, params);
      const { items } = await engine.list({
        parent_execution_id: p.parent_execution_id,
        limit: 1000,
        offset: 0,
        sort: 'created_at',
      });
      return { records: items };
    }
    case 'execution.update': {
      const p = parse(method, params);
      const target = engine.active.get(p.id);
      if (!target) throw new Error(`execution ${p.id} has ended and can no longer be changed`);
      const fields: Record<string, unknown> = {};
      if ('output_value' in p.fields) fields.output_value = p.fields.output_value;
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
    case 'setting.get': {
      const { name } = parse(method, params);
      const s = await engine.store.getSetting(name);
      if (!s) throw new Error(`setting '${name}' does not exist`);
      return s.value;
    }
    case 'setting.exists':
      return (await engine.store.getSetting(parse(method, params).name)) !== undefined;
    case 'setting.save': {
      const p = parse(method, params);
      engine.store.putSetting(p.name, p.value);
      return null;
    }
    case 'setting.delete':
      return engine.store.deleteSetting(parse(method, params).name);
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
      if (!msg) throw new Error(`no message ${p.id}`);
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

function withTimeout<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${seconds} s`)), seconds * 1000);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
