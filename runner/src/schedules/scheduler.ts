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
 *
 * Each firing is claimed in the store first (Store.claimFiring: the slot moves the schedule's
 * high-water mark), and only the runner whose claim moved it starts the run. One runner alone
 * always gets its claims; where several nodes share a PostgreSQL database this is what keeps a
 * slot from firing twice, whatever each node believes about the schedule. The claim is its own
 * commit, before the run's: a node that dies between the two loses that firing (at most once,
 * as the cluster's other executions: postgresNodes.ts), never runs it twice. Made in the run's
 * commit instead, a lost claim would have to take back a run the engine holds already.
 *
 * Team mode (Store.claimSchedules): a schedule is fired by the node that holds its SCHEDULE
 * execution. Every node knows every schedule (it reads them again every SYNC_MS, so its list
 * and GET answers follow the other nodes' within that), but changes and "run now" go through the
 * holding node; elsewhere they are refused (Conflict, naming why). When the holding node is lost,
 * the reaper releases the SCHEDULE execution (postgresNodes.ts) and the next node to look claims
 * it, takes the schedule up here, and makes up a missed slot once, as after a restart.
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
import { LOCAL_USER } from '../http/userTokens';
import type { Clock } from './clock';
import { compileTiming, upcoming, type Timing, type TimingSpec } from './timing';

export interface SchedulerOptions {
  executions: Executions & ExecutionOwnership;
  batches: Batches;
  /**
   * Where schedules are kept, the run each SCHEDULE execution is (the runs API), the claims of
   * firings, and (team mode) of the schedules of lost nodes.
   */
  store: Pick<
    Store,
    | 'listSchedules'
    | 'putSchedule'
    | 'putScheduleInputs'
    | 'deleteSchedule'
    | 'putRun'
    | 'claimFiring'
    | 'claimSchedules'
  >;
  clock: Clock;
  log: (msg: string) => void;
  /** Team mode: how often to read the other nodes' schedules (default SYNC_MS). */
  syncMs?: number;
}

/** Team mode: how often a node reads the schedules again (others' changes, lost nodes' schedules). */
export const SYNC_MS = 2_000;
/** A claim that failed (the database was away) is tried again after this long. */
const CLAIM_RETRY_MS = 1_000;

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
  /** Team mode: another node holds its SCHEDULE execution, and fires it; `s` is as last read. */
  remote?: boolean;
  /** A claim of its due slot is on its way (fire). */
  claiming?: boolean;
  /** Counts this node's changes (save): a read of the store that began before one is older. */
  version: number;
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
  private syncTimer?: NodeJS.Timeout;

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

  /**
   * Load the schedules and take up the enabled ones (after the engine restored executions):
   * resolves once the slots missed while the runner was down are made up (or found fired).
   */
  async start(): Promise<void> {
    const stored = await this.opts.store.listSchedules();
    const { held } = await this.claimHeld(stored);
    const takingUp: Array<Promise<void>> = [];
    for (const s of stored) {
      const e = this.load(s);
      if (!e) continue;
      if (s.execution_id && held.has(s.execution_id)) e.remote = true;
      else if (s.enabled) takingUp.push(this.takeUp(e));
    }
    await Promise.all(takingUp);
    if (this.opts.store.claimSchedules) this.syncLater();
  }

  /** An entry for a stored schedule; undefined (logged) when its timing cannot be read. */
  private load(s: StoredSchedule): Entry | undefined {
    let timing: Timing;
    try {
      timing = compileTiming(s);
    } catch (err) {
      this.opts.log(`schedule ${s.id} (${s.name}) cannot be loaded: ${(err as Error).message}`);
      return undefined;
    }
    const e: Entry = {
      s,
      timing,
      running: new Set(),
      executionStatus: s.execution_id ? this.executions.activeRecord(s.execution_id)?.status : undefined,
      version: 0,
    };
    this.entries.set(s.id, e);
    return e;
  }

  /**
   * Team mode: of the SCHEDULE executions of `schedules` that this node does not hold, takes on
   * those no node holds (Engine.adopt: `claimed`) and answers the ids another node holds (`held`).
   */
  private async claimHeld(
    schedules: readonly StoredSchedule[],
  ): Promise<{ held: Set<string>; claimed: Set<string> }> {
    const ids = schedules
      .map((s) => s.execution_id)
      .filter((id): id is string => !!id && !this.executions.activeRecord(id));
    const found = ids.length ? await this.opts.store.claimSchedules?.(ids) : undefined;
    if (!found) return { held: new Set(), claimed: new Set() };
    if (found.claimed.length) await this.executions.adopt(found.claimed);
    return { held: new Set(found.held), claimed: new Set(found.claimed.map((r) => r.id)) };
  }

  private syncLater(): void {
    if (this.stopped) return;
    this.syncTimer = setTimeout(() => {
      this.sync()
        .catch((err: Error) => this.opts.log(`reading the schedules of other nodes failed: ${err.message}`))
        .finally(() => this.syncLater());
    }, this.opts.syncMs ?? SYNC_MS);
    this.syncTimer.unref();
  }

  /**
   * Team mode: the schedules as the store has them now. Those this node does not hold (their
   * SCHEDULE execution is not active here) are refreshed — added, changed, removed, and announced
   * as this node's own changes are — unless this node changed them while the read was on its
   * way; the SCHEDULE executions no node holds any more (their node was lost) are claimed, and
   * their schedules taken up here.
   */
  private async sync(): Promise<void> {
    const before = new Map([...this.entries].map(([id, e]) => [id, e.version]));
    const stored = await this.opts.store.listSchedules();
    if (this.stopped) return;
    const unchanged = (e: Entry) => before.get(e.s.id) === e.version && !this.holdsHere(e);
    const ids = new Set(stored.map((s) => s.id));
    for (const [id, e] of this.entries) {
      if (ids.has(id) || !unchanged(e)) continue;
      e.cancel?.();
      this.entries.delete(id);
      this.emit('schedule', 'deleted', publicSchedule(e.s));
    }
    for (const s of stored) {
      const e = this.entries.get(s.id);
      if (e ? !unchanged(e) || JSON.stringify(e.s) === JSON.stringify(s) : before.has(s.id)) continue;
      e?.cancel?.();
      if (e) this.entries.delete(s.id);
      if (this.load(s)) this.emit('schedule', e ? 'updated' : 'created', publicSchedule(s));
    }
    const others = [...this.entries.values()].filter((e) => !this.holdsHere(e));
    const versions = new Map(others.map((e) => [e, e.version]));
    const { held, claimed } = await this.claimHeld(others.map((e) => e.s));
    if (this.stopped) return;
    for (const e of others) {
      // Gone, or changed here (enabled: now held here) while the claim was on its way.
      if (this.entries.get(e.s.id) !== e || e.version !== versions.get(e)) continue;
      const id = e.s.execution_id;
      e.remote = !!id && held.has(id);
      if (!id || !claimed.has(id) || !this.holdsHere(e)) continue;
      // Claimed just now: its node was lost.
      this.opts.log(`schedule ${e.s.id} (${e.s.name}): taken over from a lost runner node`);
      this.executions.logSystem(id, 'taken over by this runner node: the node that held it was lost');
      e.executionStatus = this.executions.activeRecord(id)?.status;
      if (e.s.enabled) await this.takeUp(e);
    }
  }

  /** Whether this node holds the schedule's SCHEDULE execution (and so fires it). */
  private holdsHere(e: Entry): boolean {
    return !!e.s.execution_id && !!this.executions.activeRecord(e.s.execution_id);
  }

  /** Stop firing (the runner is stopping); the schedules stay enabled for the next start. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.syncTimer);
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
    const e: Entry = { s, timing, running: new Set(), version: 0 };
    this.entries.set(s.id, e);
    if (s.inputs) this.opts.store.putScheduleInputs(s.id, s.inputs);
    if (body.enabled) this.enable(e);
    this.opts.store.putSchedule(s);
    this.emit('schedule', 'created', publicSchedule(s));
    return publicSchedule(s);
  }

  update(id: string, patch: UpdateScheduleBody): ScheduleRecord {
    const e = this.changeable(id);
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
    const e = this.changeable(id);
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

  /**
   * Start a run now, whatever the timing says (not counted toward max_iterations); `user` asked
   * for it (started_by; default "local").
   */
  runNow(id: string, user = LOCAL_USER): ExecutionRecord {
    const e = this.changeable(id);
    // Under its SCHEDULE execution even while disabled (it waits paused): one history.
    const rec = this.startRun(e, this.execution(e)?.id, user);
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
    const e = this.changeable(id);
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

  /** The schedule, if this node may change it: not while another node holds (and fires) it. */
  private changeable(id: string): Entry {
    const e = this.entry(id);
    if (e.remote) {
      throw new Conflict(
        `schedule ${id} is run by another runner node (it holds its execution ${e.s.execution_id}): change it, or run it now, through that node`,
      );
    }
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
        started_by: `schedule ${s.name}`,
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

  /**
   * After a restart (or a lost node's schedule claimed): find the SCHEDULE execution again and
   * make up a missed firing, once; resolves when that slot was claimed and run (or found fired).
   */
  private async takeUp(e: Entry): Promise<void> {
    const s = e.s;
    e.remote = false;
    const a = this.execution(e);
    if (!a) this.openExecution(e);
    else {
      for (const c of this.executions.activeChildren(a.id)) e.running.add(c.id);
    }
    const due = s.next_fire_at ? Date.parse(s.next_fire_at) : null;
    if (due !== null && due <= this.now) return this.fire(e, true);
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
    e.cancel = this.opts.clock.setTimer(() => void this.fire(e), Date.parse(e.s.next_fire_at) - this.now);
  }

  /** Whether `e` fires its due slot here: this node's, enabled, with a slot, and not stopping. */
  private firesHere(e: Entry): boolean {
    const s = e.s;
    return !this.stopped && !e.remote && s.enabled && !!s.next_fire_at && this.entries.get(s.id) === e;
  }

  /**
   * The slot is due: claim it (Store.claimFiring), then run it (fired). `missed`: it passed while
   * the runner was down (takeUp).
   */
  private async fire(e: Entry, missed = false): Promise<void> {
    e.cancel = undefined;
    const s = e.s;
    // A claim on its way answers for this slot (a change meanwhile re-armed the timer).
    if (!this.firesHere(e) || e.claiming) return;
    const due = s.next_fire_at!;
    if (this.now < Date.parse(due)) return this.arm(e); // woke early: long waits are split
    e.claiming = true;
    let claimed: boolean;
    try {
      claimed = await this.opts.store.claimFiring(s.id, Date.parse(due));
    } catch (err) {
      if (!this.firesHere(e)) return;
      if (s.next_fire_at !== due) return this.arm(e);
      // The slot stays due: it runs late, once, as a timer that fired late would.
      this.opts.log(
        `schedule ${s.id} (${s.name}): claiming its run due at ${due} failed (tried again in ${CLAIM_RETRY_MS / 1000} s): ${(err as Error).message}`,
      );
      e.cancel = this.opts.clock.setTimer(() => void this.fire(e, missed), CLAIM_RETRY_MS);
      return;
    } finally {
      e.claiming = false;
    }
    // Disabled, deleted or stopped while the claim was on its way: that firing is off. Given a
    // new timing meanwhile: off too, and its next slot is armed here (a timer that came due
    // while the claim was on its way found it claiming, and left the arming to it).
    if (!this.firesHere(e)) return;
    if (s.next_fire_at !== due) return this.arm(e);
    this.fired(e, due, claimed, missed);
  }

  private fired(e: Entry, due: string, claimed: boolean, missed: boolean): void {
    const s = e.s;
    const t = this.now;
    let a = this.execution(e);
    if (!a) {
      this.openExecution(e);
      a = this.execution(e)!;
    }
    // Strictly after now: slots that passed meanwhile are not made up.
    s.next_fire_at = this.nextTime(e, t);
    if (!claimed) {
      // Another node fired it (two held the schedule: they started together, or this one's view
      // was old). Not saved: that node wrote the schedule as it fired.
      this.executions.logSystem(a.id, `the run due at ${due} was started by another runner node`);
      this.arm(e);
      this.showStatus(e);
      return;
    }
    if (missed) {
      this.executions.logSystem(
        a.id,
        `the run due at ${due} was missed while the runner was down; it runs once now`,
      );
    }
    let skipped: string | undefined;
    if (a.status === 'PAUSED') skipped = 'the schedule execution is paused';
    else if (s.overlap === 'skip' && e.running.size > 0) {
      skipped = `the previous run ${[...e.running][0]} has not ended (overlap: skip)`;
    }
    if (skipped) {
      this.executions.logSystem(a.id, `skipped the run due at ${due}: ${skipped}`);
    } else {
      const run = this.startRun(e, a.id, `schedule ${s.name}`);
      this.executions.logSystem(run.id, `run of schedule ${s.name} due at ${due}`);
      s.iterations++;
      s.last_fire_at = iso(t);
      if (this.exhausted(s)) s.next_fire_at = null;
    }
    this.arm(e);
    this.showStatus(e);
    this.completeIfDone(e);
    this.save(e);
  }

  /**
   * A run of the schedule, below its SCHEDULE execution `parentId` if it is enabled; `startedBy`:
   * "schedule <name>" for a firing, the user for "run now".
   */
  private startRun(e: Entry, parentId: string | undefined, startedBy: string): ExecutionRecord {
    const s = e.s;
    const spec = {
      flow_name: s.flow_name,
      is_productive: s.is_productive,
      priority: s.priority,
      max_runtime_minutes: s.max_runtime_minutes,
      schedule_id: s.id,
      started_by: startedBy,
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
    e.version++;
    e.s.updated_at = wallNow();
    this.opts.store.putSchedule(e.s);
    this.emit('schedule', 'updated', publicSchedule(e.s));
  }
}
