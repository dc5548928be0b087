/**
 * Schedules: start a flow on a timing (see timing.ts) while enabled.
 *
 * An enabled schedule owns one virtual execution of type SCHEDULE — SCHEDULED between firings,
 * RUNNING while a run it started has not ended — and every firing is a FLOW child of it (an
 * async run when the schedule has `inputs`), so the tree shows schedule → runs. Disabling a
 * schedule pauses that execution (runs in progress go on) and enabling it again resumes the same
 * one, so a schedule keeps one history; resuming the paused execution enables the schedule.
 * Deleting ends it STOPPED and keeps the history, whose executions still carry the schedule_id.
 * Cancelling the SCHEDULE execution disables the schedule.
 *
 * Missed firings are not made up one by one: when a timer fires late, or the runner starts
 * after being down past a fire time, the schedule runs once and its next time is the first one
 * after now.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  isEnded,
  type CreateScheduleBody,
  type ExecutionRecord,
  type PreviewScheduleBody,
  type SchedulePreview,
  type ScheduleRecord,
  type UpdateScheduleBody,
} from '@flows/protocol';
import type { Batches } from '../engine/batches';
import { Conflict, Invalid, NotFound } from '../engine/errors';
import type { ExecutionOwnership, Executions } from '../engine/executions';
import type { Store, StoredExecution, StoredSchedule } from '../store/store';
import type { Clock } from './clock';
import { compileTiming, upcoming, type Timing, type TimingSpec } from './timing';

export interface SchedulerOptions {
  executions: Executions & ExecutionOwnership;
  batches: Batches;
  /** Where schedules are kept, and the run each SCHEDULE execution is (the runs API). */
  store: Pick<Store, 'listSchedules' | 'putSchedule' | 'putScheduleInputs' | 'deleteSchedule' | 'putRun'>;
  clock: Clock;
  log: (msg: string) => void;
}

export interface SchedulerEvents {
  schedule: [event: 'created' | 'updated' | 'deleted', schedule: ScheduleRecord];
}

interface Entry {
  s: StoredSchedule;
  timing: Timing;
  /** Cancels the armed timer. */
  cancel?: () => void;
  /** Runs this schedule started under its SCHEDULE execution that have not ended. */
  running: Set<string>;
  /** The status its SCHEDULE execution had at the last change seen (see onChanged). */
  executionStatus?: string;
}

const TIMING_FIELDS = ['kind', 'interval', 'unit', 'time', 'cron', 'timezone'] as const;
const iso = (ms: number) => new Date(ms).toISOString();
const wallNow = () => new Date().toISOString();

export function publicSchedule(s: StoredSchedule): ScheduleRecord {
  const { anchor_at: _anchor, inputs: _inputs, ...rec } = s;
  return rec;
}

export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(private readonly opts: SchedulerOptions) {
    super();
    opts.executions.on('ended', (rec) => this.onEnded(rec));
    opts.executions.on('execution', (_event, rec) => this.onChanged(rec));
  }

  /**
   * A disabled schedule's SCHEDULE execution waits PAUSED; resumed (from the tree, or the runs
   * API), the schedule is enabled again, under the same execution.
   */
  private onChanged(rec: ExecutionRecord): void {
    if (rec.type !== 'SCHEDULE' || !rec.schedule_id) return;
    const e = this.entries.get(rec.schedule_id);
    if (!e || e.s.execution_id !== rec.id) return;
    const before = e.executionStatus;
    e.executionStatus = rec.status;
    // Only a resume: a stopped run reopened through the runs API is enabled by it (enableWith).
    if (before !== 'PAUSED' || rec.status === 'PAUSED' || isEnded(rec.status)) return;
    if (e.s.enabled || this.stopped) return;
    this.enable(e);
    this.save(e);
  }

  private get executions(): Executions & ExecutionOwnership {
    return this.opts.executions;
  }

  private get now(): number {
    return this.opts.clock.now();
  }

  /** Load the schedules and take up the enabled ones (after the engine restored executions). */
  async start(): Promise<void> {
    for (const s of await this.opts.store.listSchedules()) {
      let timing: Timing;
      try {
        timing = compileTiming(s);
      } catch (err) {
        this.opts.log(`schedule ${s.id} (${s.name}) cannot be loaded: ${(err as Error).message}`);
        continue;
      }
      const e: Entry = {
        s,
        timing,
        running: new Set(),
        executionStatus: s.execution_id ? this.executions.activeRecord(s.execution_id)?.status : undefined,
      };
      this.entries.set(s.id, e);
      if (s.enabled) this.takeUp(e);
    }
  }

  /** Stop firing (the runner is stopping); the schedules stay enabled for the next start. */
  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) e.cancel?.();
  }

  /** Resolves once every change so far (schedules and the executions they opened) is committed. */
  durable(): Promise<void> {
    return this.executions.durable();
  }

  list(): ScheduleRecord[] {
    return [...this.entries.values()].map((e) => publicSchedule(e.s));
  }

  get(id: string): ScheduleRecord {
    return publicSchedule(this.entry(id).s);
  }

  /** The stored form (with inputs), for the runs API. */
  stored(id: string): StoredSchedule | undefined {
    return this.entries.get(id)?.s;
  }

  preview(body: PreviewScheduleBody): SchedulePreview {
    const timing = compileTiming(body);
    const t = this.now;
    return {
      next: upcoming(timing, t, t, body.count).map(iso),
      timezone: timing.timezone,
      description: timing.description,
    };
  }

  create(body: CreateScheduleBody): ScheduleRecord {
    this.checkFlow(body.flow_name);
    const timing = compileTiming(body);
    const ts = wallNow();
    const s: StoredSchedule = {
      id: crypto.randomUUID(),
      name: body.name ?? body.flow_name,
      flow_name: body.flow_name,
      ...this.timingFields(body, timing),
      input_value: body.input_value ?? null,
      inputs: body.inputs ?? null,
      inputs_count: body.inputs?.length ?? null,
      is_productive: body.is_productive,
      priority: body.priority,
      max_runtime_minutes: body.max_runtime_minutes,
      enabled: false,
      max_iterations: body.max_iterations,
      iterations: 0,
      overlap: body.overlap,
      callback: body.callback,
      next_fire_at: null,
      last_fire_at: null,
      last_execution_id: null,
      execution_id: null,
      created_at: ts,
      updated_at: ts,
      anchor_at: null,
    };
    const e: Entry = { s, timing, running: new Set() };
    this.entries.set(s.id, e);
    if (s.inputs) this.opts.store.putScheduleInputs(s.id, s.inputs);
    if (body.enabled) this.enable(e);
    this.opts.store.putSchedule(s);
    this.emit('schedule', 'created', publicSchedule(s));
    return publicSchedule(s);
  }

  update(id: string, patch: UpdateScheduleBody): ScheduleRecord {
    const e = this.entry(id);
    const s = e.s;
    if (patch.flow_name !== undefined) this.checkFlow(patch.flow_name);
    const timingChanged = TIMING_FIELDS.some((f) => patch[f] !== undefined);
    if (timingChanged) {
      const spec: TimingSpec = {
        kind: patch.kind ?? s.kind,
        interval: patch.interval ?? s.interval,
        unit: patch.unit ?? s.unit,
        time: patch.time ?? s.time,
        cron: patch.cron ?? s.cron,
        timezone: patch.timezone ?? s.timezone,
      };
      e.timing = compileTiming(spec);
      Object.assign(s, this.timingFields(spec, e.timing));
    }
    for (const f of [
      'name',
      'flow_name',
      'input_value',
      'is_productive',
      'priority',
      'max_runtime_minutes',
      'max_iterations',
      'overlap',
      'callback',
    ] as const) {
      if (patch[f] !== undefined) Object.assign(s, { [f]: patch[f] });
    }
    if (patch.inputs !== undefined) {
      s.inputs = patch.inputs;
      s.inputs_count = patch.inputs?.length ?? null;
      this.opts.store.putScheduleInputs(s.id, s.inputs);
    }
    if (patch.enabled === true && !s.enabled) this.enable(e);
    else if (patch.enabled === false && s.enabled) this.disable(e, 'schedule disabled');
    else if (s.enabled) {
      // A new timing counts from now; a raised max_iterations may bring the next time back.
      if (timingChanged) s.anchor_at = iso(this.now);
      if (timingChanged || s.next_fire_at === null) s.next_fire_at = this.nextTime(e, this.now);
      if (this.exhausted(s)) s.next_fire_at = null;
      this.arm(e);
      this.showStatus(e);
      this.completeIfDone(e);
    }
    this.save(e);
    return publicSchedule(s);
  }

  /** Remove the schedule; its executions stay, with their schedule_id, as history. */
  delete(id: string): ScheduleRecord {
    const e = this.entry(id);
    if (e.s.enabled) this.disable(e, 'schedule deleted', true);
    else {
      // Disabled, its execution waits paused: the history ends with the schedule.
      const a = this.execution(e);
      if (a) this.executions.endVirtual(a.id, 'STOPPED', { message: 'schedule deleted' });
    }
    e.cancel?.();
    this.entries.delete(id);
    this.opts.store.deleteSchedule(id);
    this.emit('schedule', 'deleted', publicSchedule(e.s));
    return publicSchedule(e.s);
  }

  /** Start a run now, whatever the timing says (not counted toward max_iterations). */
  runNow(id: string): ExecutionRecord {
    const e = this.entry(id);
    // Under its SCHEDULE execution even while disabled (it waits paused): one history.
    const rec = this.startRun(e, this.execution(e)?.id);
    e.s.last_fire_at = iso(this.now);
    this.save(e);
    this.showStatus(e);
    return rec;
  }

  /**
   * Enable; `reuse` is a SCHEDULE execution of this schedule that was reopened (a stopped
   * SCHEDULE run resumed through the runs API) and becomes its execution again.
   */
  enableWith(id: string, reuse: string): ScheduleRecord {
    const e = this.entry(id);
    if (e.s.enabled) throw new Conflict(`schedule ${id} is already enabled`);
    e.s.execution_id = reuse;
    this.enable(e);
    this.save(e);
    return publicSchedule(e.s);
  }

  // ---- internals ------------------------------------------------------------------------

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new NotFound(`no schedule with id ${id}`);
    return e;
  }

  private checkFlow(name: string): void {
    const found = this.executions.resolveFlow(name);
    if (!found.ok) throw new Invalid(found.reason, 'flow_name');
  }

  private timingFields(spec: TimingSpec, timing: Timing) {
    return {
      kind: spec.kind,
      interval: spec.kind === 'interval' ? (spec.interval ?? null) : null,
      unit: spec.kind === 'interval' ? (spec.unit ?? 'minutes') : null,
      time: spec.kind === 'daily' ? (spec.time ?? null) : null,
      cron: spec.kind === 'cron' ? (spec.cron?.trim() ?? null) : null,
      timezone: timing.timezone,
    };
  }

  /** The schedule's SCHEDULE execution while it has not ended. */
  private execution(e: Entry): Readonly<StoredExecution> | undefined {
    return e.s.execution_id ? this.executions.activeRecord(e.s.execution_id) : undefined;
  }

  private exhausted(s: StoredSchedule): boolean {
    return s.max_iterations !== null && s.iterations >= s.max_iterations;
  }

  private nextTime(e: Entry, after: number): string | null {
    const anchor = e.s.anchor_at ? Date.parse(e.s.anchor_at) : after;
    const t = e.timing.next(after, anchor);
    return t === null ? null : iso(t);
  }

  private openExecution(e: Entry): void {
    const s = e.s;
    const rec = this.executions.createVirtual(
      {
        type: 'SCHEDULE',
        name: s.name,
        flow_name: s.flow_name,
        input_value: s.inputs ? null : s.input_value,
        is_productive: s.is_productive,
        priority: s.priority,
        schedule_id: s.id,
      },
      { status: 'SCHEDULED', started_at: wallNow() },
    );
    s.execution_id = rec.id;
    e.running.clear();
    // Every SCHEDULE execution is a run of the runs API (execution_mode SCHEDULE).
    this.opts.store.putRun({
      id: rec.id,
      action_name: s.flow_name,
      execution_mode: 'SCHEDULE',
      inputs_count: s.inputs?.length ?? 1,
      schedule_id: s.id,
      callback: s.callback,
      created_at: rec.created_at,
    });
  }

  private enable(e: Entry): void {
    const s = e.s;
    s.enabled = true;
    s.iterations = 0;
    // The same SCHEDULE execution again when it waits paused: one history per schedule.
    const waiting = this.execution(e);
    if (!waiting) this.openExecution(e);
    else if (waiting.status === 'PAUSED') this.executions.setVirtual(waiting.id, { status: 'SCHEDULED' });
    s.anchor_at = iso(this.now);
    s.next_fire_at = this.nextTime(e, this.now);
    this.arm(e);
    this.showStatus(e);
  }

  private disable(e: Entry, message: string, deleting = false): void {
    const s = e.s;
    s.enabled = false;
    s.next_fire_at = null;
    e.cancel?.();
    e.cancel = undefined;
    // Not cancel(): that would stop the runs in progress too. Only future firings end. A
    // disabled schedule's execution waits PAUSED, so enabling it again keeps one history (its
    // runs under one parent); a deleted one's ends.
    const a = this.execution(e);
    if (!a) return;
    if (deleting) this.executions.endVirtual(a.id, 'STOPPED', { message });
    else if (a.status !== 'PAUSED') this.executions.setVirtual(a.id, { status: 'PAUSED', message });
  }

  /** After a restart: find the SCHEDULE execution again and make up a missed firing, once. */
  private takeUp(e: Entry): void {
    const s = e.s;
    const a = this.execution(e);
    if (!a) this.openExecution(e);
    else {
      for (const c of this.executions.activeChildren(a.id)) e.running.add(c.id);
    }
    const due = s.next_fire_at ? Date.parse(s.next_fire_at) : null;
    if (due !== null && due <= this.now) {
      const exec = this.execution(e);
      if (exec) {
        this.executions.logSystem(
          exec.id,
          `the run due at ${s.next_fire_at} was missed while the runner was down; it runs once now`,
        );
      }
      this.fire(e);
      return;
    }
    if (due === null && !this.exhausted(s)) s.next_fire_at = this.nextTime(e, this.now);
    this.arm(e);
    this.showStatus(e);
    this.completeIfDone(e);
    this.save(e);
  }

  private arm(e: Entry): void {
    e.cancel?.();
    e.cancel = undefined;
    if (this.stopped || !e.s.enabled || !e.s.next_fire_at) return;
    e.cancel = this.opts.clock.setTimer(() => this.fire(e), Date.parse(e.s.next_fire_at) - this.now);
  }

  private fire(e: Entry): void {
    e.cancel = undefined;
    const s = e.s;
    if (this.stopped || !s.enabled || !s.next_fire_at || this.entries.get(s.id) !== e) return;
    const t = this.now;
    const due = s.next_fire_at;
    if (t < Date.parse(due)) return this.arm(e); // woke early: long waits are split
    let a = this.execution(e);
    if (!a) {
      this.openExecution(e);
      a = this.execution(e)!;
    }
    // Strictly after now: slots that passed meanwhile are not made up.
    s.next_fire_at = this.nextTime(e, t);
    let skipped: string | undefined;
    if (a.status === 'PAUSED') skipped = 'the schedule execution is paused';
    else if (s.overlap === 'skip' && e.running.size > 0) {
      skipped = `the previous run ${[...e.running][0]} has not ended (overlap: skip)`;
    }
    if (skipped) {
      this.executions.logSystem(a.id, `skipped the run due at ${due}: ${skipped}`);
    } else {
      this.startRun(e, a.id);
      s.iterations++;
      s.last_fire_at = iso(t);
      if (this.exhausted(s)) s.next_fire_at = null;
    }
    this.arm(e);
    this.showStatus(e);
    this.completeIfDone(e);
    this.save(e);
  }

  /** A run of the schedule, below its SCHEDULE execution `parentId` if it is enabled. */
  private startRun(e: Entry, parentId: string | undefined): ExecutionRecord {
    const s = e.s;
    const spec = {
      flow_name: s.flow_name,
      is_productive: s.is_productive,
      priority: s.priority,
      max_runtime_minutes: s.max_runtime_minutes,
      schedule_id: s.id,
    };
    let rec: ExecutionRecord;
    if (s.inputs) {
      const started = this.opts.batches.start({ ...spec, name: s.name }, s.inputs, parentId);
      // A failure already ended the run FAILED with the reason; nobody awaits it here.
      started.created.catch(() => undefined);
      rec = started.rec;
    } else rec = this.executions.create({ type: 'FLOW', ...spec, input_value: s.input_value }, parentId);
    if (parentId && !isEnded(rec.status)) e.running.add(rec.id);
    s.last_execution_id = rec.id;
    return rec;
  }

  private onEnded(rec: ExecutionRecord): void {
    const e = rec.schedule_id ? this.entries.get(rec.schedule_id) : undefined;
    if (!e) return;
    if (rec.id === e.s.execution_id) {
      // Ended by disable, delete or completion (already disabled), or cancelled by a user.
      if (e.s.enabled) {
        e.s.enabled = false;
        e.s.next_fire_at = null;
        e.cancel?.();
        this.save(e);
      }
      return;
    }
    if (e.running.delete(rec.id)) {
      this.showStatus(e);
      if (this.completeIfDone(e)) this.save(e);
    }
  }

  /** With max_iterations reached and its last run ended, the schedule is done. */
  private completeIfDone(e: Entry): boolean {
    const s = e.s;
    if (!s.enabled || !this.exhausted(s) || e.running.size > 0) return false;
    s.enabled = false;
    s.next_fire_at = null;
    const a = this.execution(e);
    const n = s.iterations;
    if (a) {
      this.executions.endVirtual(a.id, 'SUCCEEDED', {
        message: `ran ${n} time${n === 1 ? '' : 's'} (max_iterations)`,
      });
    }
    return true;
  }

  /** The SCHEDULE execution shows what the schedule is doing. */
  private showStatus(e: Entry): void {
    const a = this.execution(e);
    if (!a || a.status === 'PAUSED' || !e.s.enabled) return;
    const status = e.running.size > 0 ? 'RUNNING' : 'SCHEDULED';
    const message = e.s.next_fire_at
      ? `next run at ${e.s.next_fire_at}`
      : 'no more runs (max_iterations reached)';
    if (status !== a.status || message !== a.message) this.executions.setVirtual(a.id, { status, message });
  }

  private save(e: Entry): void {
    e.s.updated_at = wallNow();
    this.opts.store.putSchedule(e.s);
    this.emit('schedule', 'updated', publicSchedule(e.s));
  }
}
