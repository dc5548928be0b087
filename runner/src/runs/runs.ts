/**
 * The runs API of seed 004 on the same engine. A run is one request to run an action (a flow);
 * its uid is the id of its top execution:
 * - LIVE: one FLOW execution, the request waits for its end;
 * - ASYNC: a batch (engine/batches.ts), answered once every child row is in the store;
 * - SCHEDULE: a cron schedule; each SCHEDULE execution the scheduler opens is a run.
 * When a run with a `callback` ends, the runner POSTs the run (as GET /v1/runs/<uid>) there once.
 */
import {
  EXECUTION_STATUSES,
  isEnded,
  type AsyncRunBody,
  type ExecutionStatus,
  type ListRunsQuery,
  type LiveRunBody,
  type Run,
  type RunDetail,
  type RunList,
  type ScheduledRun,
  type ScheduleRunBody,
} from '@flows/protocol';
import type { Batches } from '../engine/batches';
import { Conflict, Invalid, NotFound } from '../engine/errors';
import type { ExecutionOwnership, Executions } from '../engine/executions';
import type { Scheduler } from '../schedules/scheduler';
import type { RunWithExecution, Store, StoredRun } from '../store/store';

export interface RunsOptions {
  executions: Executions & ExecutionOwnership;
  batches: Batches;
  scheduler?: Scheduler;
  /** Where runs are kept; a run's callback outcome goes to its log here. */
  store: Pick<
    Store,
    'listRuns' | 'getRun' | 'putRun' | 'countChildren' | 'listChildren' | 'lastLogSeq' | 'appendLog' | 'flush'
  >;
  log: (msg: string) => void;
}

const UNSUCCESSFUL: ExecutionStatus[] = ['FAILED', 'INVALID', 'STOPPED', 'PARTIAL_SUCCEEDED'];
const CALLBACK_TIMEOUT_MS = 10_000;

function toRun({ run, execution: e }: RunWithExecution): Run {
  return {
    uid: run.id,
    action_name: run.action_name,
    execution_mode: run.execution_mode,
    status: e.status,
    message: e.message,
    inputs_count: run.inputs_count,
    is_productive: e.is_productive,
    schedule_id: run.schedule_id,
    callback: run.callback,
    created_at: e.created_at,
    updated_at: e.updated_at,
    started_at: e.started_at,
    ended_at: e.ended_at,
  };
}

export class Runs {
  /** Callback URLs of runs that have not ended, by uid (looked up on every top-level end). */
  private readonly callbacks = new Map<string, string>();

  constructor(private readonly opts: RunsOptions) {
    // Deferred a turn: a run that ends as it is created (INVALID) is registered just after.
    opts.executions.on('ended', (rec) => {
      if (rec.parent_execution_id) return;
      // SCHEDULE runs are opened by the scheduler, so their callbacks are looked up in the store.
      if (this.callbacks.has(rec.id) || rec.type === 'SCHEDULE') setImmediate(() => void this.notify(rec.id));
    });
  }

  /** After a restart: the callbacks of runs still going on. */
  async load(): Promise<void> {
    const unfinished = EXECUTION_STATUSES.filter((s) => !isEnded(s));
    let after: string | undefined;
    do {
      const page = await this.store.listRuns({
        status: unfinished,
        limit: 100,
        offset: 0,
        sort: 'created_at',
        after,
      });
      for (const { run } of page.items) if (run.callback) this.callbacks.set(run.id, run.callback);
      after = page.next ?? undefined;
    } while (after);
  }

  private get executions(): Executions & ExecutionOwnership {
    return this.opts.executions;
  }

  private get store(): RunsOptions['store'] {
    return this.opts.store;
  }

  private register(run: Omit<StoredRun, 'created_at'>, createdAt: string): void {
    this.store.putRun({ ...run, created_at: createdAt });
    if (run.callback) this.callbacks.set(run.id, run.callback);
  }

  /** Run one input and answer when it has ended; `startedBy`: NewExecution.started_by. */
  async live(action: string, body: LiveRunBody, startedBy?: string): Promise<RunDetail> {
    const rec = this.executions.create({
      type: 'FLOW',
      started_by: startedBy,
      flow_name: action,
      name: body.name,
      input_value: body.input,
      is_productive: body.is_productive,
      priority: body.priority,
      max_runtime_minutes: body.max_runtime_minutes,
    });
    this.register(
      {
        id: rec.id,
        action_name: action,
        execution_mode: 'LIVE',
        inputs_count: 1,
        schedule_id: null,
        callback: body.callback ?? null,
      },
      rec.created_at,
    );
    await this.executions.waitForEnd(rec.id);
    return this.get(rec.id);
  }

  /** Start one run over all inputs; answered when every child row is durable. */
  async async(action: string, body: AsyncRunBody, startedBy?: string): Promise<Run> {
    const { rec, created } = this.opts.batches.start(
      {
        flow_name: action,
        started_by: startedBy,
        name: body.name,
        is_productive: body.is_productive,
        priority: body.priority,
        max_runtime_minutes: body.max_runtime_minutes,
      },
      body.inputs,
    );
    this.register(
      {
        id: rec.id,
        action_name: action,
        execution_mode: 'ASYNC',
        inputs_count: body.inputs.length,
        schedule_id: null,
        callback: body.callback ?? null,
      },
      rec.created_at,
    );
    await created;
    await this.store.flush();
    return toRun((await this.store.getRun(rec.id))!);
  }

  /** A cron schedule of the action; the run is its SCHEDULE execution. */
  async schedule(action: string, body: ScheduleRunBody): Promise<ScheduledRun> {
    const scheduler = this.scheduler();
    // The runs API names the flow in the path, as its action: refused as such (the scheduler
    // would name its flow_name).
    const flow = this.executions.resolveFlow(action);
    if (!flow.ok) throw new Invalid(flow.reason, 'action');
    const schedule = scheduler.create({
      kind: 'cron',
      cron: body.cron,
      timezone: body.timezone,
      flow_name: action,
      name: body.name,
      input_value: body.input ?? {},
      inputs: body.inputs ?? null,
      is_productive: body.is_productive,
      priority: body.priority,
      max_runtime_minutes: body.max_runtime_minutes,
      enabled: true,
      max_iterations: body.max_iterations ?? null,
      overlap: body.overlap,
      callback: body.callback ?? null,
    });
    const found = await this.store.getRun(schedule.execution_id!);
    return { ...toRun(found!), schedule };
  }

  /** A page of runs; `next` continues it (keyset), total_capped says `total` is a lower bound. */
  async list(q: ListRunsQuery): Promise<RunList> {
    const page = await this.store.listRuns(q);
    return {
      items: page.items.map(toRun),
      total: page.total,
      total_capped: page.total_capped,
      next: page.next,
      limit: q.limit,
      offset: q.offset,
    };
  }

  async get(uid: string): Promise<RunDetail> {
    const found = await this.mustFind(uid);
    const e = found.execution;
    const live = found.run.execution_mode === 'LIVE';
    let counts: Partial<Record<ExecutionStatus, number>>;
    let errors: RunDetail['errors'];
    if (live) {
      counts = { [e.status]: 1 };
      errors =
        isEnded(e.status) && e.status !== 'SUCCEEDED'
          ? [{ execution_id: e.id, status: e.status, message: e.message, input_value: e.input_value }]
          : [];
    } else {
      counts = await this.store.countChildren(uid);
      errors = (await this.store.listChildren(uid, UNSUCCESSFUL, 20)).map((c) => ({
        execution_id: c.id,
        status: c.status,
        message: c.message,
        input_value: c.input_value,
      }));
    }
    return {
      ...toRun(found),
      counts: counts as Record<string, number>,
      output_value: live ? e.output_value : null,
      errors,
    };
  }

  /**
   * Resume a PAUSED run (its executions continue) or a STOPPED one: an ASYNC run queues its
   * stopped inputs again (those that ended otherwise stay as they are), a LIVE run its one
   * execution, and a SCHEDULE run enables its schedule again with the same SCHEDULE execution.
   */
  async resume(uid: string): Promise<RunDetail> {
    const found = await this.mustFind(uid);
    const status = (await this.executions.get(uid))!.status;
    if (status === 'PAUSED') {
      // Team mode: a run another node holds is resumed there (engine/cluster.ts).
      if (!(await this.executions.elsewhere?.('resume', uid))) this.executions.resume(uid);
      return this.get(uid);
    }
    if (status !== 'STOPPED') {
      throw new Conflict(`run ${uid} is ${status}; only a PAUSED or STOPPED run can be resumed`);
    }
    const { run, execution } = found;
    if (run.callback) this.callbacks.set(uid, run.callback); // it will end again
    if (run.execution_mode === 'LIVE') {
      this.executions.reopen([execution], 'RUNNING');
    } else if (run.execution_mode === 'ASYNC') {
      const stopped = await this.store.listChildren(uid, ['STOPPED']);
      this.executions.reopen([execution, ...stopped], 'QUEUED');
      await this.opts.batches.attach(uid);
    } else {
      const schedule = run.schedule_id ? this.scheduler().stored(run.schedule_id) : undefined;
      if (!schedule) throw new Conflict(`the schedule of run ${uid} was deleted`);
      if (schedule.execution_id !== uid) {
        throw new Conflict(
          `schedule ${schedule.id} has a newer SCHEDULE execution (${schedule.execution_id}); resume that run`,
        );
      }
      this.executions.reopen([execution], 'SCHEDULED');
      this.scheduler().enableWith(schedule.id, uid);
    }
    return this.get(uid);
  }

  async pause(uid: string): Promise<RunDetail> {
    await this.mustFind(uid);
    if (!(await this.executions.elsewhere?.('pause', uid))) this.executions.pause(uid);
    return this.get(uid);
  }

  /** Stop a run and everything in it (as cancelling its top execution does). */
  async stop(uid: string): Promise<RunDetail> {
    await this.mustFind(uid);
    await this.executions.cancel(uid, 'stopped');
    return this.get(uid);
  }

  private scheduler(): Scheduler {
    if (!this.opts.scheduler) throw new Conflict('this runner does not run schedules');
    return this.opts.scheduler;
  }

  private async mustFind(uid: string): Promise<RunWithExecution> {
    const found = await this.store.getRun(uid);
    if (!found) throw new NotFound(`no run with uid ${uid}`);
    return found;
  }

  /** POST the ended run to its callback, once; failures go to the run's log and the runner's. */
  private async notify(id: string): Promise<void> {
    const url = this.callbacks.get(id) ?? (await this.store.getRun(id).catch(() => undefined))?.run.callback;
    this.callbacks.delete(id);
    if (!url) return;
    let outcome: string;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'flows-runner' },
        body: JSON.stringify(await this.get(id)),
        signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
      });
      await res.body?.cancel();
      outcome = `callback ${url} answered ${res.status}`;
    } catch (err) {
      outcome = `callback ${url} failed: ${(err as Error).message}`;
    }
    try {
      const seq = (await this.store.lastLogSeq(id)) + 1;
      this.store.appendLog({
        execution_id: id,
        seq,
        ts: new Date().toISOString(),
        stream: 'system',
        text: outcome,
      });
    } catch {
      // the store is closing: the runner log below still has it
    }
    if (!/answered 2\d\d$/.test(outcome)) this.opts.log(`run ${id}: ${outcome}`);
  }
}
