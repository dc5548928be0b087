/**
 * A Store in memory, for engine tests that want no file and no group-commit timing. It answers
 * as SqliteStore does wherever a caller could tell: values come back as copies made through JSON
 * (what a database would keep), unknown fields are dropped, missing ones read as null, lists
 * page, count and cap as SQLite's (memoryQueries.ts), and runs follow their top execution as
 * SQLite's triggers make them. Every write is visible and "durable" at once, so flush, durable
 * and committed resolve at once and a bulk insert has nothing to recover.
 */
import {
  ENDED_STATUSES,
  type ExecutionRecord,
  type ExecutionStatus,
  type ListExecutionsQuery,
  type ListRunsQuery,
  type LogLine,
  type MessageRecord,
} from '@flows/protocol';
import {
  byCreated,
  compareText,
  executionFilters,
  executionRow,
  EXECUTIONS,
  fromJson,
  listPage,
  readExecution,
  runFilters,
  runTable,
  toJson,
  type ExecutionRow,
  type RunRow,
} from './memoryQueries';
import type {
  FlowSummary,
  ListPage,
  RecordingEntry,
  RecordLookup,
  RunWithExecution,
  Store,
  StoredExecution,
  StoredFlow,
  StoredRecord,
  StoredRun,
  StoredSchedule,
  StoredWebhook,
  StoredUserToken,
  UserTokenInfo,
} from './store';

export class MemoryStore implements Store {
  /** In seq order: rows are never deleted, and a row keeps its seq when replaced. */
  private readonly executions = new Map<string, ExecutionRow>();
  private readonly children = new Map<string, Set<ExecutionRow>>();
  private seq = 0;
  private readonly logs = new Map<string, LogLine[]>();
  private readonly recordings = new Map<string, RecordingEntry[]>();
  private readonly records = new Map<string, StoredRecord>();
  /** Flow records by name, and how many changes they have had (flowsVersion). */
  private readonly flows = new Map<string, StoredFlow>();
  private flowsChanges = 0;
  /** A replaced message is a new row in SQLite (INSERT OR REPLACE): it moves to the end. */
  private readonly messages = new Map<string, MessageRecord>();
  /** Without their inputs, as JSON; created_at is the first put's, which the list sorts by. */
  private readonly schedules = new Map<string, { data: string; created_at: string }>();
  /**
   * Apart from their schedules: the scheduler writes a new schedule's inputs before the schedule,
   * which SQLite applies in the same commit.
   */
  private readonly scheduleInputs = new Map<string, string | null>();
  private readonly webhooks = new Map<string, string>();
  private readonly runs = new Map<string, RunRow>();
  private rowid = 0;
  /** Each schedule's last claimed slot (claimFiring). */
  private readonly firings = new Map<string, number>();
  private readonly userTokens = new Map<string, StoredUserToken>();

  putExecution(rec: StoredExecution): void {
    const old = this.executions.get(rec.id);
    const row = executionRow(rec, old?.seq ?? ++this.seq);
    this.executions.set(rec.id, row);
    const oldParent = old?.rec.parent_execution_id ?? null;
    const parent = row.rec.parent_execution_id;
    if (old && oldParent !== null) this.children.get(oldParent)?.delete(old);
    if (parent !== null) {
      let set = this.children.get(parent);
      if (!set) this.children.set(parent, (set = new Set()));
      set.add(row);
    }
    // SQLite's trigger: a run's status and updated_at are its top-level execution's.
    const run = parent === null ? this.runs.get(rec.id) : undefined;
    if (run) {
      run.status = row.rec.status;
      run.updated_at = row.rec.updated_at;
    }
  }

  async getExecution(id: string): Promise<StoredExecution | undefined> {
    const row = this.executions.get(id);
    return row && readExecution(row);
  }

  async listExecutions(q: ListExecutionsQuery): Promise<ListPage<StoredExecution>> {
    const page = listPage(this.executions.values(), EXECUTIONS, executionFilters(q), q);
    return { ...page, items: page.items.map(readExecution) };
  }

  async listExecutionsJson(q: ListExecutionsQuery): Promise<ListPage<{ id: string; json: string }>> {
    const page = listPage(this.executions.values(), EXECUTIONS, executionFilters(q), q);
    return {
      ...page,
      items: page.items.map((row) => {
        const { paused_from: _p, virtual: _v, ...rec } = readExecution(row);
        const listed: ExecutionRecord = { ...rec, has_children: (this.children.get(rec.id)?.size ?? 0) > 0 };
        return { id: rec.id, json: JSON.stringify(listed) };
      }),
    };
  }

  async listUnfinished(): Promise<StoredExecution[]> {
    // Oldest first, as SQLite answers (by created_at, then the order they were first written).
    return [...this.executions.values()]
      .filter((r) => !ENDED_STATUSES.has(r.rec.status))
      .sort((a, b) =>
        a.rec.created_at < b.rec.created_at ? -1 : a.rec.created_at > b.rec.created_at ? 1 : 0,
      )
      .map(readExecution);
  }

  async listDescendantIds(id: string): Promise<string[]> {
    const ids: string[] = [];
    const queue = [id];
    for (let i = 0; i < queue.length; i++) {
      for (const child of this.childrenOf(queue[i])) {
        ids.push(child.rec.id);
        queue.push(child.rec.id);
      }
    }
    return ids;
  }

  private childrenOf(parentId: string): ExecutionRow[] {
    return [...(this.children.get(parentId) ?? [])].sort(byCreated);
  }

  appendLog(line: LogLine): void {
    let lines = this.logs.get(line.execution_id);
    if (!lines) this.logs.set(line.execution_id, (lines = []));
    const copy: LogLine = {
      execution_id: line.execution_id,
      seq: line.seq,
      ts: line.ts,
      stream: line.stream,
      text: line.text,
    };
    // Kept in seq order; a line whose seq is taken is dropped (SQLite's INSERT OR IGNORE).
    const at = firstAfter(lines, line.seq - 1);
    if (lines[at]?.seq === line.seq) return;
    lines.splice(at, 0, copy);
  }

  async getLog(executionId: string, after: number, limit: number): Promise<LogLine[]> {
    const lines = this.logs.get(executionId) ?? [];
    const from = firstAfter(lines, after);
    return lines.slice(from, limit < 0 ? undefined : from + limit).map((l) => ({ ...l }));
  }

  async lastLogSeq(executionId: string): Promise<number> {
    return this.logs.get(executionId)?.at(-1)?.seq ?? 0;
  }

  appendRecording(entry: RecordingEntry): void {
    let entries = this.recordings.get(entry.execution_id);
    if (!entries) this.recordings.set(entry.execution_id, (entries = []));
    if (entries.some((e) => e.seq === entry.seq)) return;
    // As JSON keeps it, as SQLite does: undefined reads back as null.
    entries.push({ ...entry, value: fromJson(toJson(entry.value)) });
    entries.sort((a, b) => a.seq - b.seq);
  }

  async getRecording(executionId: string): Promise<RecordingEntry[]> {
    return (this.recordings.get(executionId) ?? []).map((e) => ({ ...e, value: fromJson(toJson(e.value)) }));
  }

  async getRecord(type: string, by: RecordLookup, key: string): Promise<StoredRecord | undefined> {
    const rec = this.findRecord(type, by, key);
    return rec && copyRecord(rec);
  }

  putRecord(rec: StoredRecord): void {
    this.records.set(rec.id, copyRecord(rec));
  }

  async deleteRecord(type: string, by: RecordLookup, key: string): Promise<boolean> {
    const rec = this.findRecord(type, by, key);
    return rec ? this.records.delete(rec.id) : false;
  }

  async listRecords(type: string, opts: { includeArchived?: boolean } = {}): Promise<StoredRecord[]> {
    return [...this.records.values()]
      .filter((r) => r.type === type && (opts.includeArchived || !r.archived))
      .sort((a, b) => compareText(a.name, b.name))
      .map(copyRecord);
  }

  async putFlows(flows: readonly StoredFlow[]): Promise<string[]> {
    const written = flows.filter((f) => this.flows.get(f.name)?.hash !== f.hash).map((f) => f.name);
    for (const f of flows) {
      if (!written.includes(f.name)) continue;
      // Only the stored fields, as a table keeps them.
      const { name, source, hash, updated_at, deployed_by } = f;
      this.flows.set(name, { name, source, hash, updated_at, deployed_by: deployed_by ?? null });
    }
    if (written.length) this.flowsChanges++;
    return written;
  }

  async getFlow(name: string): Promise<StoredFlow | undefined> {
    const f = this.flows.get(name);
    return f && { ...f };
  }

  async listFlows(): Promise<FlowSummary[]> {
    return [...this.flows.values()]
      .sort((a, b) => compareText(a.name, b.name))
      .map(({ source, ...f }) => ({ ...f, size: Buffer.byteLength(source, 'utf8') }));
  }

  async deleteFlow(name: string): Promise<boolean> {
    if (!this.flows.delete(name)) return false;
    this.flowsChanges++;
    return true;
  }

  async flowsVersion(): Promise<number> {
    return this.flowsChanges;
  }

  private findRecord(type: string, by: RecordLookup, key: string): StoredRecord | undefined {
    if (by === 'id') {
      const rec = this.records.get(key);
      return rec?.type === type ? rec : undefined;
    }
    for (const rec of this.records.values()) if (rec.type === type && rec.name === key) return rec;
    return undefined;
  }

  putMessage(msg: MessageRecord): void {
    this.messages.delete(msg.id);
    this.messages.set(msg.id, copyMessage(msg));
  }

  async getMessage(id: string): Promise<MessageRecord | undefined> {
    const msg = this.messages.get(id);
    return msg && copyMessage(msg);
  }

  async listMessages(opts: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]> {
    return [...this.messages.values()]
      .filter(
        (m) =>
          (!opts.open || m.responded_at === null) &&
          (!opts.execution_id || m.execution_id === opts.execution_id),
      )
      .sort((a, b) => compareText(a.created_at, b.created_at))
      .map(copyMessage);
  }

  /** Written at once, a row that exists already excepted (SQLite's ON CONFLICT DO NOTHING). */
  insertExecutions(recs: StoredExecution[]): void {
    for (const r of recs) if (!this.executions.has(r.id)) this.putExecution(r);
  }

  /** Nothing is ever half written here. */
  expectBulk(_parentId: string, _rows: number): void {}

  async countChildren(parentId: string): Promise<Partial<Record<ExecutionStatus, number>>> {
    const counts: Partial<Record<ExecutionStatus, number>> = {};
    for (const row of this.children.get(parentId) ?? []) {
      counts[row.rec.status] = (counts[row.rec.status] ?? 0) + 1;
    }
    return counts;
  }

  async listChildren(
    parentId: string,
    statuses: readonly ExecutionStatus[],
    limit = -1,
  ): Promise<StoredExecution[]> {
    const rows = this.childrenOf(parentId).filter((r) => statuses.includes(r.rec.status));
    return (limit < 0 ? rows : rows.slice(0, limit)).map(readExecution);
  }

  putSchedule(schedule: StoredSchedule): void {
    const { inputs: _inputs, ...data } = schedule;
    const old = this.schedules.get(schedule.id);
    this.schedules.set(schedule.id, {
      data: JSON.stringify(data),
      created_at: old?.created_at ?? schedule.created_at,
    });
  }

  putScheduleInputs(id: string, inputs: unknown[] | null): void {
    this.scheduleInputs.set(id, inputs ? JSON.stringify(inputs) : null);
  }

  deleteSchedule(id: string): void {
    this.schedules.delete(id);
    this.scheduleInputs.delete(id);
    this.firings.delete(id);
  }

  async listSchedules(): Promise<StoredSchedule[]> {
    return [...this.schedules.entries()]
      .sort(([, a], [, b]) => compareText(a.created_at, b.created_at))
      .map(([id, s]) => ({
        ...(JSON.parse(s.data) as StoredSchedule),
        inputs: fromJson(this.scheduleInputs.get(id) ?? null) as unknown[] | null,
      }));
  }

  putWebhook(webhook: StoredWebhook): void {
    this.webhooks.delete(webhook.id);
    this.webhooks.set(webhook.id, JSON.stringify(webhook));
  }

  deleteWebhook(id: string): void {
    this.webhooks.delete(id);
  }

  async listWebhooks(): Promise<StoredWebhook[]> {
    return [...this.webhooks.values()]
      .map((data) => JSON.parse(data) as StoredWebhook)
      .sort((a, b) => compareText(a.created_at, b.created_at));
  }

  putRun(run: StoredRun): void {
    const copy: StoredRun = {
      id: run.id,
      action_name: run.action_name,
      execution_mode: run.execution_mode,
      inputs_count: Number(run.inputs_count),
      schedule_id: run.schedule_id ?? null,
      callback: run.callback ?? null,
      created_at: run.created_at,
    };
    const old = this.runs.get(run.id);
    if (old) {
      old.run = copy;
      return;
    }
    const top = this.executions.get(run.id)?.rec;
    this.runs.set(run.id, {
      rowid: ++this.rowid,
      run: copy,
      status: top?.status ?? 'CREATED',
      updated_at: top?.updated_at ?? run.created_at,
    });
  }

  async getRun(id: string): Promise<RunWithExecution | undefined> {
    const run = this.runs.get(id);
    const execution = this.executions.get(id);
    return run && execution && { run: { ...run.run }, execution: readExecution(execution) };
  }

  async listRuns(q: ListRunsQuery): Promise<ListPage<RunWithExecution>> {
    const top = (r: RunRow) => this.executions.get(r.run.id);
    const page = listPage(this.runs.values(), runTable(top), runFilters(q), q);
    return {
      ...page,
      // As in SQLite (a join): a run whose execution is missing is counted but not shown. A list
      // of runs shows neither input nor output: `rec` holds them as null.
      items: page.items.flatMap((r) => {
        const e = top(r);
        return e ? [{ run: { ...r.run }, execution: { ...e.rec } }] : [];
      }),
    };
  }

  async claimFiring(scheduleId: string, slot: number): Promise<boolean> {
    if ((this.firings.get(scheduleId) ?? -Infinity) >= slot) return false;
    this.firings.set(scheduleId, slot);
    return true;
  }

  async createUserToken(t: Omit<StoredUserToken, 'last_used_at'>): Promise<boolean> {
    // As SQLite's constraints: one token per name, and no two names with the same hash.
    if (this.userTokens.has(t.name) || [...this.userTokens.values()].some((u) => u.hash === t.hash))
      return false;
    this.userTokens.set(t.name, { ...t, last_used_at: null });
    return true;
  }

  async revokeUserToken(name: string): Promise<boolean> {
    return this.userTokens.delete(name);
  }

  async listUserTokens(): Promise<UserTokenInfo[]> {
    return [...this.userTokens.values()]
      .sort((a, b) => compareText(a.name, b.name))
      .map(({ hash: _hash, ...info }) => ({ ...info }));
  }

  async findUserToken(hash: string): Promise<StoredUserToken | undefined> {
    const t = [...this.userTokens.values()].find((u) => u.hash === hash);
    return t && { ...t };
  }

  async touchUserToken(name: string, at: string): Promise<void> {
    const t = this.userTokens.get(name);
    if (t) t.last_used_at = at;
  }

  async flush(): Promise<void> {}

  async durable(): Promise<void> {}

  async committed(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Where the first line with seq > `after` is (lines are in seq order). */
function firstAfter(lines: readonly LogLine[], after: number): number {
  let lo = 0;
  let hi = lines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid].seq > after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function copyRecord(r: StoredRecord): StoredRecord {
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    data: (JSON.parse(JSON.stringify(r.data ?? null)) ?? {}) as Record<string, unknown>,
    archived: Boolean(r.archived),
    created_at: r.created_at,
    modified_at: r.modified_at,
  };
}

function copyMessage(m: MessageRecord): MessageRecord {
  return {
    id: m.id,
    execution_id: m.execution_id,
    subject: m.subject,
    body: fromJson(toJson(m.body)),
    message_type: m.message_type,
    response: fromJson(toJson(m.response)),
    created_at: m.created_at,
    responded_at: m.responded_at ?? null,
  };
}
