/**
 * What a running flow can ask the runner for (the `call` messages of docs/worker-protocol.md):
 * children, waiting, its own record, records (settings, connections, …), locks and forms. Each
 * answer is the reply's `result`; a thrown error becomes the reply's `error` (with the `code`
 * of its kind: replyError) and an exception in Python.
 *
 * The engine hands in what these calls may do (CallContext), so this module needs no engine.
 */
import {
  MAX_OUTPUT_BYTES,
  WorkerCallParams,
  type CallErrorCode,
  type ExecutionRecord,
  type ListExecutionsQuery,
} from '@flows/protocol';
import type { ListPage, RecordingKind, StoredExecution } from '../store/store';
import { Invalid, NotFound, TimedOut } from './errors';
import type { NewExecution } from './executions';
import { publicRecord, type Active } from './executionTable';
import type { Locks } from './locks';
import type { Messages } from './messages';
import { notFound, type Records } from './records';
import { mustGet, waitForExecutions, waitForMessage, type WaitPort } from './waits';

/** What a flow's calls may do; the engine implements it. */
export interface CallContext extends WaitPort {
  /** The data of the `connection` record a CONNECTION execution names (see connectors.ts). */
  connection(
    rec: Pick<StoredExecution, 'type' | 'connector_name'>,
  ): Promise<Record<string, unknown> | undefined>;
  create(spec: NewExecution, parent: Active): ExecutionRecord;
  /** Start (and pause, below) an execution, asking its owner when another node holds it (cluster.ts). */
  start(id: string): Promise<ExecutionRecord>;
  list(q: ListExecutionsQuery): Promise<ListPage<ExecutionRecord>>;
  /** The execution if it has not ended. */
  active(id: string): Active | undefined;
  update(a: Active, fields: Partial<StoredExecution>): void;
  cancel(id: string): Promise<ExecutionRecord>;
  pause(id: string): Promise<ExecutionRecord>;
  readonly locks: Locks;
  readonly messages: Messages;
  readonly records: Records;
  /** Add to the execution's recording (recording.ts): what it read, its sleeps. */
  recorded(a: Active, kind: RecordingKind, name: string, value: unknown): void;
}

type Params = Record<string, unknown>;

/** The `error` of a reply: its kind's code lets flow_api raise a specific exception. */
export function replyError(err: unknown): { message: string; code?: CallErrorCode } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof NotFound) return { message, code: 'not_found' };
  if (err instanceof Invalid) return { message, code: 'invalid' };
  if (err instanceof TimedOut)
    return { message, code: err.waitingFor === 'lock' ? 'lock_timeout' : 'timeout' };
  return { message };
}

function parse<M extends keyof typeof WorkerCallParams>(method: M, params: Params) {
  const r = WorkerCallParams[method].safeParse(params);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Invalid(`${method}: ${issue.path.join('.') || 'params'}: ${issue.message}`);
  }
  return r.data as ReturnType<(typeof WorkerCallParams)[M]['parse']>;
}

export async function handleWorkerCall(
  ctx: CallContext,
  caller: Active,
  method: string,
  params: Params,
): Promise<unknown> {
  if (method === 'record.get' || method === 'record.exists') return readRecord(ctx, caller, method, params);
  if (method.startsWith('record.')) {
    return recordCall(ctx.records, method, params);
  }
  switch (method) {
    case 'execution.create': {
      const p = parse(method, params);
      const connection = await ctx.connection({ type: p.type, connector_name: p.connector_name ?? null });
      return ctx.create(
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
          caller: p.caller,
        },
        caller,
      );
    }
    case 'execution.start':
      return ctx.start(parse(method, params).id);
    case 'execution.wait': {
      const p = parse(method, params);
      const when = p.return_when ?? 'ALL_ENDED';
      return { records: await waitForExecutions(ctx, caller, p.ids, when, p.timeout) };
    }
    case 'execution.get':
      return mustGet(ctx, parse(method, params).id);
    case 'execution.list': {
      const p = parse(method, params);
      const { items } = await ctx.list({
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
      const target = ctx.active(p.id);
      if (!target) throw new Invalid(`execution ${p.id} has ended and can no longer be changed`);
      const fields: Record<string, unknown> = {};
      if ('output_value' in p.fields) {
        const size = Buffer.byteLength(JSON.stringify(p.fields.output_value) ?? '');
        if (size > MAX_OUTPUT_BYTES) {
          const mb = (n: number) => (n / 1048576).toFixed(1);
          throw new Invalid(
            `output_value is ${mb(size)} MB of JSON; the limit is ${MAX_OUTPUT_BYTES / 1048576} MB`,
          );
        }
        fields.output_value = p.fields.output_value;
      }
      if (p.fields.message !== undefined) fields.message = p.fields.message;
      if (p.fields.name !== undefined) fields.name = p.fields.name;
      ctx.update(target, fields);
      return publicRecord(target.rec);
    }
    case 'execution.cancel':
      return ctx.cancel(parse(method, params).id);
    case 'execution.pause':
      return ctx.pause(parse(method, params).id);
    case 'execution.webhook_response': {
      caller.webhookResponse = parse(method, params);
      return null;
    }
    case 'lock.acquire': {
      const p = parse(method, params);
      let blocked = false;
      try {
        await ctx.locks.acquire(caller.rec.id, p.name, p.timeout ?? null, () => {
          blocked = true;
          ctx.block(caller, `waiting for lock '${p.name}'`);
        });
        return null;
      } finally {
        if (blocked) ctx.unblock(caller);
      }
    }
    case 'lock.release':
      return ctx.locks.release(caller.rec.id, parse(method, params).name);
    case 'message.create': {
      const p = parse(method, params);
      return { id: ctx.messages.create(caller.rec.id, p).id };
    }
    case 'message.wait': {
      const p = parse(method, params);
      return waitForMessage(ctx, ctx.messages, caller, p.id, p.timeout);
    }
    default:
      throw new Invalid(`unknown call '${method}'`);
  }
}

/**
 * `record.get` / `record.exists`: a setting read is recorded with the value the flow saw (null
 * when there was none), so that a test made from this run can give it the same.
 */
async function readRecord(
  ctx: CallContext,
  caller: Active,
  method: 'record.get' | 'record.exists',
  params: Params,
): Promise<unknown> {
  const ref = parse(method, params);
  if (ref.type !== 'setting') return recordCall(ctx.records, method, params);
  const found = await ctx.records.find(ref);
  ctx.recorded(caller, 'setting', typeof found?.name === 'string' ? found.name : ref.key, found ?? null);
  if (method === 'record.exists') return found !== undefined;
  if (!found) throw notFound(ref.type, ref.by, ref.key);
  return found;
}

/** `record.*`: records the runner keeps (settings, connections, ...; see records.ts). */
async function recordCall(records: Records, method: string, params: Params): Promise<unknown> {
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
      throw new Invalid(`unknown call '${method}'`);
  }
}
