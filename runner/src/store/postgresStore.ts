/**
 * The team store: one PostgreSQL database (npm `pg`), chosen with `flows serve --database
 * postgres://…`. It keeps the Store contract as SqliteStore does, so the engine cannot tell them
 * apart:
 *
 * - Writes are synchronous calls that queue (postgresWrites.ts). One dedicated connection commits
 *   them in groups: whatever was queued while the previous commit was in flight goes in the next
 *   transaction, one statement per kind of write (group commit without a timer: under load the
 *   groups grow by themselves, idle a write is committed at once).
 * - durable() and committed() resolve with the commit that holds the caller's writes; bulk inserts
 *   go in chunks of BULK_CHUNK_ROWS, one per commit, with other writes in between.
 * - Reads go to a small pool of other connections. A read first waits for the writes it could
 *   see to be committed (the queue and the commit in flight), so it sees every earlier write and
 *   nothing a crash could take back.
 * - A commit that fails on the connection (the server restarted, the network dropped) or on a
 *   deadlock with another node is tried again, on a new connection, with its writes put back
 *   under newer ones; its waiters keep waiting. Any other failure rejects the waiters, as
 *   SqliteStore's does.
 *
 * - Several nodes may share the database (postgresNodes.ts): this node registers at open, renews
 *   its heartbeat, owns the executions it writes, restores only its own and unowned ones
 *   (claimUnfinished), looks for lost nodes and, given free slots, claims unowned queued work
 *   and released trees. Each commit tells the other nodes which executions it wrote (NOTIFY,
 *   postgresNotify.ts), and `cluster` (postgresCluster.ts) listens to them: waits on, events
 *   of, and requests for executions of other nodes.
 *
 * Lists are in postgresQueries.ts, the schema in postgresMigrations.ts.
 */
import os from 'node:os';
import pg from 'pg';
import {
  ENDED_STATUSES,
  type ExecutionStatus,
  type ListExecutionsQuery,
  type ListRunsQuery,
  type LogLine,
  type MessageRecord,
} from '@flows/protocol';
import {
  checkPostgresUrl,
  connectClient,
  describeError,
  isRetryable,
  PG_TYPES,
  PostgresOpenError,
  redactUrl,
} from './postgresConnection';
import { countBulkRows, expectBulkRows, type BulkParents } from './bulkParents';
import { inKeyOrder, REMEMBER_MS } from './listCursor';
import { compactCounters, migrate } from './postgresMigrations';
import {
  EXECUTION_SELECT,
  executionFilters,
  fromJson,
  listKeys,
  PUBLIC_EXECUTION_JSON,
  RUN_LIST_SELECT,
  RUN_SELECT,
  runFilters,
  rowToExecution,
  rowToMessage,
  rowToRecord,
  rowToRecording,
  rowToRun,
  toJson,
  type ChildCounts,
  type Row,
  type Sql,
} from './postgresQueries';
import { PostgresCluster } from './postgresCluster';
import {
  claimQueued,
  claimReleasedTrees,
  claimUnfinished,
  fence,
  heartbeat,
  HEARTBEAT_MS,
  leaveCluster,
  newInstanceId,
  NodeLostError,
  reapLostNodes,
  REAP_MS,
  registerNode,
} from './postgresNodes';
import {
  claimFiring,
  claimSchedules,
  createUserToken,
  findUserToken,
  listUserTokens,
  revokeUserToken,
  touchUserToken,
} from './postgresTeam';
import * as flowRecords from './postgresFlows';
import { notifyChanges } from './postgresNotify';
import { PendingWrites, recoverBulkInserts, writeBatch, type BulkPart } from './postgresWrites';
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

/** Bulk rows per commit: big enough to be quick (one statement), small enough to let other commits in between. */
const BULK_CHUNK_ROWS = 2_000;
/** Connections of the read pool (writes have their own). */
const READ_POOL_SIZE = 4;
/** A bulk insert of this many rows refreshes the planner's statistics (see analyze()). */
const ANALYZE_AFTER_ROWS = 10_000;
/** How often the counters' delta rows are folded (postgresMigrations.ts compactCounters). */
const COMPACT_MS = 10_000;
/** How long to wait before connecting again, doubling up to the maximum. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;
/** The next cluster round after a claim that filled every free slot (see scheduleClusterRound). */
const CLAIM_AGAIN_MS = 100;

const ENDED = [...ENDED_STATUSES];

export interface PostgresStoreOptions {
  /**
   * This runner node's name, stable across its restarts (its marks of unfinished bulk inserts
   * are its own to recover). Default: the host name.
   */
  node?: string;
  log?: (msg: string) => void;
  /**
   * Another node declared this one lost (it stalled longer than the lease): its executions were
   * failed or handed on, and its commits are refused from now on. The runner should stop.
   */
  onLost?: (why: string) => void;
  /**
   * Listen for the other nodes (LISTEN/NOTIFY; default true). Off, waits on other nodes'
   * executions and answers to requests are only polled, and their events are not seen: for
   * tests of that fallback (`FLOWS_POSTGRES_LISTEN=0`).
   */
  listen?: boolean;
}

/** What the store asks of the engine to claim queued work of the cluster (startClaiming). */
export interface ClaimHost {
  /** How many more executions this node could start now. */
  freeSlots(): number;
  /** Claimed QUEUED executions, now this node's, to run. */
  adopt(recs: StoredExecution[]): Promise<unknown>;
  /**
   * Claimed trees a lost node left (an async run with its children; scheduled, created or
   * paused ones), now this node's, parents first: to hold as a restore does. Without it, they
   * wait for a node's start (claimUnfinished).
   */
  takeUp?(recs: StoredExecution[]): Promise<unknown>;
}

interface Batch {
  writes: PendingWrites;
  /** writesQueued when it was taken: its commit makes every write up to it durable. */
  upTo: number;
  bulk: BulkPart;
  /** Rows of each parent in bulk.rows. */
  parents: Map<string, number>;
}

interface Waiter {
  writes: number;
  bulk: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class PostgresStore implements Store {
  private pending = new PendingWrites();
  private inflight?: Batch;
  /** Writes ever queued, and how many of them are committed (bulk rows are counted apart). */
  private writesQueued = 0;
  private writesCommitted = 0;
  private bulk: StoredExecution[] = [];
  private bulkHead = 0;
  private bulkQueued = 0;
  private bulkCommitted = 0;
  /** As SqliteStore's: parents of bulk rows being written, with how many are left. */
  private readonly bulkParents: BulkParents = new Map();
  private waiters: Waiter[] = [];
  private scheduled = false;
  private pumping?: Promise<void>;
  private closed = false;
  private lastCompact = Date.now();
  private readonly remembered = new Map<string, number>();
  private readonly log: (msg: string) => void;
  /** This process's id in `nodes` (a restart of the node gets a new one). */
  private readonly instance = newInstanceId();
  private heartbeatTimer?: NodeJS.Timeout;
  private clusterTimer?: NodeJS.Timeout;
  private clusterRound?: Promise<void>;
  /** The last claim filled every free slot: more queued work may be waiting (see scheduleClusterRound). */
  private moreToClaim = false;
  private claimHost?: ClaimHost;
  private lost = false;
  private readonly onLost?: (why: string) => void;

  /** The other nodes: waits on their executions, their events, requests to them. */
  readonly cluster: PostgresCluster;

  /** The connection that commits (null until open() connects it). */
  private writer!: pg.Client;
  /** The writer said its connection is gone (a commit on it would fail too). */
  private writerBroken = false;
  private readonly pool: pg.Pool;

  private constructor(
    private readonly url: string,
    readonly node: string,
    log: ((msg: string) => void) | undefined,
    onLost?: (why: string) => void,
    listen = true,
  ) {
    this.log = log ?? (() => undefined);
    this.onLost = onLost;
    this.pool = new pg.Pool({
      connectionString: url,
      max: READ_POOL_SIZE,
      types: PG_TYPES,
      application_name: 'flows runner (reads)',
    });
    // An idle connection that the server drops is replaced at its next use; without a
    // listener its error would end the process.
    this.pool.on('error', (err) => this.log(`PostgreSQL read connection lost: ${err.message}`));
    this.cluster = new PostgresCluster({
      url,
      node,
      instance: this.instance,
      pool: this.pool,
      listen,
      log: this.log,
    });
  }

  /**
   * Connects, brings the schema up to date (migrations under an advisory lock, so nodes that
   * start together do not race) and fails what this node left half-inserted.
   */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const bad = checkPostgresUrl(url);
    if (bad) throw new PostgresOpenError(`the database URL ${bad}`);
    const where = redactUrl(url);
    const store = new PostgresStore(url, opts.node ?? os.hostname(), opts.log, opts.onLost, opts.listen);
    try {
      await store.connectWriter();
    } catch (err) {
      await store.cluster.close();
      await store.pool.end();
      throw new PostgresOpenError(`cannot connect to PostgreSQL at ${where}: ${describeError(err)}`);
    }
    try {
      await migrate(store.writer);
      await registerNode(store.writer, store.node, store.instance);
      await recoverBulkInserts(store.writer, store.node);
      await compactCounters(store.writer);
      // Nodes that died or stopped before this one started: what they held is released now, so
      // that this node's restore can take it on.
      await store.reap(store.writer);
    } catch (err) {
      store.closed = true;
      await store.cluster.close();
      await Promise.allSettled([store.writer.end(), store.pool.end()]);
      throw new PostgresOpenError(
        `cannot prepare the PostgreSQL database at ${where}: ${describeError(err)}`,
      );
    }
    // Before the engine restores: a wait of a restored flow must not miss an end.
    await store.cluster.start();
    store.heartbeatTimer = setInterval(() => void store.beat(), HEARTBEAT_MS);
    store.heartbeatTimer.unref();
    store.scheduleClusterRound();
    return store;
  }

  // ---- Cluster (postgresNodes.ts) -----------------------------------------------------------

  private async beat(): Promise<void> {
    if (this.closed || this.lost) return;
    try {
      if (!(await this.withClient((c) => heartbeat(c, this.node, this.instance))))
        this.declaredLost('its heartbeat was refused');
    } catch (err) {
      this.log(`PostgreSQL: the heartbeat of this node failed (tried again): ${describeError(err)}`);
    }
  }

  private declaredLost(why: string): void {
    if (this.lost) return;
    this.lost = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.clusterTimer);
    const msg = `this runner node (${this.node}) was declared lost by another node (${why}): its executions there were failed or handed on, and it can write nothing more`;
    this.log(msg);
    this.onLost?.(msg);
  }

  /** `fn` on a connection of the read pool (for statements that need a client of their own). */
  private async withClient<T>(fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  /** Ends what lost nodes held (on `client`, or a pool connection); logs each. */
  private async reap(client?: pg.ClientBase): Promise<void> {
    const reaped = client
      ? await reapLostNodes(client, this.node)
      : await this.withClient((c) => reapLostNodes(c, this.node));
    for (const r of reaped) {
      this.log(
        `node ${r.name} lost (no heartbeat): ${r.failed} execution(s) it was running ended FAILED, ` +
          `${r.stopped} child execution(s) of them STOPPED, ${r.released} released to other nodes`,
      );
    }
  }

  /**
   * Every REAP_MS: look for lost nodes, then claim queued work for free slots. While the last
   * claim filled every free slot (more may be waiting: a lost node's queue), the next round comes
   * after CLAIM_AGAIN_MS, so a backlog is taken up at the pace slots free up rather than a few
   * executions per REAP_MS (the 3-node kill test saw ~1 a second).
   */
  private scheduleClusterRound(): void {
    if (this.closed || this.lost) return;
    this.clusterTimer = setTimeout(
      () => {
        this.clusterRound = this.clusterWork().finally(() => {
          this.clusterRound = undefined;
          this.scheduleClusterRound();
        });
      },
      this.moreToClaim ? CLAIM_AGAIN_MS : REAP_MS,
    );
    this.clusterTimer.unref();
  }

  private async clusterWork(): Promise<void> {
    try {
      await this.reap();
      await this.claim();
    } catch (err) {
      if (!this.closed)
        this.log(`PostgreSQL: looking for lost nodes failed (tried again): ${describeError(err)}`);
    }
  }

  private async claim(): Promise<void> {
    const host = this.claimHost;
    const free = host?.freeSlots() ?? 0;
    // No free slot: whether more is waiting stays as the last claim found it.
    if (!host || free <= 0 || this.closed || this.lost) return;
    const recs = await this.withClient((c) => claimQueued(c, this.node, free));
    this.moreToClaim = recs.length >= free;
    if (recs.length) await host.adopt(recs);
    // What a lost node left that is not plainly queued, a tree per free slot.
    const left = host.freeSlots();
    if (!host.takeUp || left <= 0 || this.closed || this.lost) return;
    const trees = await this.withClient((c) => claimReleasedTrees(c, this.node, this.instance, left));
    if (trees.length) await host.takeUp(trees);
  }

  /**
   * From now on (the engine has restored), each cluster round claims up to `host.freeSlots()`
   * queued executions no node owns (a lost node's, say) and hands them to `host.adopt`.
   */
  startClaiming(host: ClaimHost): void {
    this.claimHost = host;
  }

  /**
   * The unfinished executions this node restores at start: its own (its previous life's) and
   * unowned ones, now claimed; never another node's (Store.claimUnfinished).
   */
  async claimUnfinished(): Promise<StoredExecution[]> {
    await this.readable();
    return this.withClient((c) => claimUnfinished(c, this.node));
  }

  /** A new write connection in place of the old one (at open, and after it broke). */
  private async connectWriter(): Promise<void> {
    const client = await connectClient(this.url, 'flows runner (writes)', (err) => {
      if (this.writer !== client || this.writerBroken) return;
      this.writerBroken = true;
      if (err && !this.closed) this.log(`PostgreSQL write connection lost: ${err.message}`);
    });
    const old = this.writer as pg.Client | undefined;
    this.writer = client;
    this.writerBroken = false;
    void old?.end().catch(() => undefined);
  }

  // ---- Writes ---------------------------------------------------------------------------------

  private queued(): void {
    this.writesQueued++;
    this.schedule();
  }

  /** Starts a commit on the next turn, so that the writes of this turn go in one. */
  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  putExecution(rec: StoredExecution): void {
    this.pending.executions.delete(rec.id);
    this.pending.executions.set(rec.id, { ...rec });
    this.queued();
  }

  appendLog(line: LogLine): void {
    this.pending.logs.push({ ...line });
    this.queued();
  }

  appendRecording(entry: RecordingEntry): void {
    this.pending.recordings.push({ ...entry, value: toJson(entry.value) });
    this.queued();
  }

  putRecord(rec: StoredRecord): void {
    this.pending.records.set(rec.id, { ...rec, data: structuredClone(rec.data) });
    this.queued();
  }

  putMessage(msg: MessageRecord): void {
    this.pending.messages.set(msg.id, structuredClone(msg));
    this.queued();
  }

  putSchedule(schedule: StoredSchedule): void {
    const { inputs: _inputs, ...data } = schedule;
    this.pending.schedules.set(schedule.id, { data: JSON.stringify(data), created_at: schedule.created_at });
    this.queued();
  }

  putScheduleInputs(id: string, inputs: unknown[] | null): void {
    this.pending.scheduleInputs.set(id, inputs ? JSON.stringify(inputs) : null);
    this.queued();
  }

  deleteSchedule(id: string): void {
    this.pending.schedules.set(id, null);
    this.pending.scheduleInputs.delete(id);
    this.queued();
  }

  putWebhook(webhook: StoredWebhook): void {
    this.pending.webhooks.set(webhook.id, { ...webhook });
    this.queued();
  }

  deleteWebhook(id: string): void {
    this.pending.webhooks.set(id, null);
    this.queued();
  }

  putRun(run: StoredRun): void {
    this.pending.runs.set(run.id, { ...run });
    this.queued();
  }

  insertExecutions(recs: StoredExecution[]): void {
    if (recs.length === 0) return;
    for (const r of recs) this.bulk.push(r);
    countBulkRows(this.bulkParents, recs);
    this.bulkQueued += recs.length;
    this.schedule();
  }

  expectBulk(parentId: string, rows: number): void {
    expectBulkRows(this.bulkParents, parentId, rows);
    this.schedule();
  }

  private bulkLeft(): number {
    return this.bulk.length - this.bulkHead;
  }

  private hasWork(): boolean {
    return (
      !this.pending.empty || this.bulkLeft() > 0 || [...this.bulkParents.values()].some((p) => !p.marked)
    );
  }

  /**
   * Commits until nothing is queued; one at a time (the next group gathers meanwhile). `pumping`
   * is cleared in a callback of its own, which runs after it is assigned: a pump that finds
   * nothing to do ends within the call, and clearing it there, before `??=` assigned its settled
   * promise, left that promise in place for good — no write was ever committed again.
   */
  private pump(): Promise<void> {
    this.pumping ??= this.commitQueued().finally(() => {
      this.pumping = undefined;
      this.settle();
    });
    return this.pumping;
  }

  private async commitQueued(): Promise<void> {
    let attempt = 0;
    while (this.hasWork()) {
      const batch = this.take();
      try {
        await this.commit(batch);
        attempt = 0;
        this.committedBatch(batch);
      } catch (err) {
        this.inflight = undefined;
        if (isRetryable(err, this.writerBroken) && !(this.closed && attempt > 3)) {
          // Back in the queue, under what was written since; the waiters keep waiting.
          this.pending = batch.writes.under(this.pending);
          this.log(`PostgreSQL commit failed, trying again: ${(err as Error).message}`);
          await this.reconnect(attempt++);
          continue;
        }
        this.failedBatch(batch, err);
      }
      this.settle();
      await this.maybeCompact();
    }
  }

  /** The next group: every queued write and the next chunk of bulk rows. */
  private take(): Batch {
    const writes = this.pending;
    this.pending = new PendingWrites();
    const rows = this.bulk.slice(this.bulkHead, this.bulkHead + BULK_CHUNK_ROWS);
    const parents = new Map<string, number>();
    for (const r of rows) {
      const parent = r.parent_execution_id;
      if (parent) parents.set(parent, (parents.get(parent) ?? 0) + 1);
    }
    const mark = [...this.bulkParents].filter(([, p]) => !p.marked).map(([id, p]) => ({ id, rows: p.rows }));
    const unmark = [...parents].filter(([id, n]) => this.bulkParents.get(id)?.left === n).map(([id]) => id);
    const batch = { writes, upTo: this.writesQueued, bulk: { rows, mark, unmark }, parents };
    this.inflight = batch;
    return batch;
  }

  private async commit(batch: Batch): Promise<void> {
    const client = this.writer;
    await client.query('BEGIN');
    try {
      // First: a node declared lost commits nothing more, and is not declared lost meanwhile.
      await fence(client, this.node, this.instance);
      const written = await writeBatch(client, batch.writes, batch.bulk, this.node);
      // Delivered at the commit, and only if it commits.
      const answered = [...batch.writes.messages.values()].filter((m) => m.responded_at).map((m) => m.id);
      await notifyChanges(client, this.instance, written, answered);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  private committedBatch(batch: Batch): void {
    this.inflight = undefined;
    this.writesCommitted = batch.upTo;
    for (const m of batch.bulk.mark) {
      const p = this.bulkParents.get(m.id);
      if (p) p.marked = true;
    }
    for (const [parent, k] of batch.parents) {
      const p = this.bulkParents.get(parent);
      if (!p) continue;
      p.left -= k;
      if (p.left <= 0) {
        this.bulkParents.delete(parent);
        if (p.rows >= ANALYZE_AFTER_ROWS) this.analyze();
      }
      // More rows were announced after this commit took its mark away: mark it again.
      else if (batch.bulk.unmark.includes(parent)) p.marked = false;
    }
    const n = batch.bulk.rows.length;
    this.bulkHead += n;
    this.bulkCommitted += n;
    if (this.bulkHead === this.bulk.length) {
      this.bulk = [];
      this.bulkHead = 0;
    }
  }

  /**
   * Fresh statistics after a big insert: a planner that still believes the table small sorts
   * 100,000 matches where it should walk an index (a list of 2 ms took 100 ms until autovacuum's
   * next analyze, up to a minute later). On a read connection, not holding up commits.
   */
  private analyze(): void {
    this.pool
      .query('ANALYZE executions')
      .catch((err: Error) => this.log(`PostgreSQL ANALYZE failed: ${err.message}`));
  }

  /** A commit that cannot succeed: its writes are lost, as SqliteStore loses a failed one's. */
  private failedBatch(batch: Batch, err: unknown): void {
    this.log(`PostgreSQL commit failed: ${(err as Error).message}`);
    if (err instanceof NodeLostError) this.declaredLost('its commit was refused');
    this.committedBatch(batch);
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  /** After a backoff: a new connection if the old one broke (after a deadlock it is fine). */
  private async reconnect(attempt: number): Promise<void> {
    await new Promise((r) => setTimeout(r, Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt)));
    if (!this.writerBroken) return;
    try {
      await this.connectWriter();
    } catch (e) {
      this.log(`PostgreSQL is not reachable: ${describeError(e)}`);
    }
  }

  private async maybeCompact(): Promise<void> {
    if (Date.now() - this.lastCompact < COMPACT_MS) return;
    this.lastCompact = Date.now();
    try {
      await compactCounters(this.writer);
    } catch (err) {
      this.log(`PostgreSQL: folding the counters failed (tried again later): ${(err as Error).message}`);
    }
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const done = (w: Waiter) => w.writes <= this.writesCommitted && w.bulk <= this.bulkCommitted;
    const ready = this.waiters.filter(done);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !done(w));
    for (const w of ready) w.resolve();
  }

  private waitFor(writes: number, bulk: number): Promise<void> {
    if (writes <= this.writesCommitted && bulk <= this.bulkCommitted) return Promise.resolve();
    if (this.closed && !this.pumping) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ writes, bulk, resolve, reject });
      this.schedule();
    });
  }

  durable(): Promise<void> {
    return this.waitFor(this.writesQueued, this.bulkQueued);
  }

  committed(): Promise<void> {
    return this.waitFor(this.writesQueued, 0);
  }

  async flush(): Promise<void> {
    this.schedule();
    await this.durable().catch((err: unknown) => {
      // A node declared lost can write nothing; its runner flushes on the way out regardless.
      if (!this.lost) throw err;
    });
  }

  // ---- Reads ----------------------------------------------------------------------------------

  /** Waits for the writes a read could see: those queued and the commit in flight (not bulk rows). */
  private async readable(): Promise<void> {
    if (!this.pending.empty || (this.inflight && !this.inflight.writes.empty)) await this.committed();
  }

  private async query(sql: string, values: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, values)).rows as Row[];
  }

  private readonly listQuery = async (sql: Sql): Promise<Row[]> => this.query(sql.text, sql.values);

  private readonly remember = {
    has: (key: string) => (this.remembered.get(key) ?? 0) > Date.now(),
    add: (key: string) => {
      if (this.remembered.size >= 1000) this.remembered.clear();
      this.remembered.set(key, Date.now() + REMEMBER_MS);
    },
  };

  async getExecution(id: string): Promise<StoredExecution | undefined> {
    if (this.pending.executions.has(id) || this.inflight?.writes.executions.has(id)) await this.committed();
    const rows = await this.query(`SELECT ${EXECUTION_SELECT} FROM executions WHERE id = $1`, [id]);
    return rows[0] ? rowToExecution(rows[0]) : undefined;
  }

  async listExecutions(q: ListExecutionsQuery): Promise<ListPage<StoredExecution>> {
    await this.readable();
    const page = await listKeys(this.listQuery, 'executions', executionFilters(q), q, this.remember);
    const rows = await this.rowsBySeq(page.seqs, EXECUTION_SELECT);
    return { items: rows.map(rowToExecution), total: page.total, total_capped: page.capped, next: page.next };
  }

  async listExecutionsJson(q: ListExecutionsQuery): Promise<ListPage<{ id: string; json: string }>> {
    await this.readable();
    const page = await listKeys(this.listQuery, 'executions', executionFilters(q), q, this.remember);
    const rows = await this.rowsBySeq(page.seqs, `id, ${PUBLIC_EXECUTION_JSON} AS j`);
    return {
      items: rows.map((r) => ({ id: String(r.id), json: String(r.j) })),
      total: page.total,
      total_capped: page.capped,
      next: page.next,
    };
  }

  /** The rows of a page, in the page's order. */
  private async rowsBySeq(seqs: readonly number[], select: string): Promise<Row[]> {
    if (seqs.length === 0) return [];
    const rows = await this.query(`SELECT seq AS row_seq, ${select} FROM executions WHERE seq = ANY($1)`, [
      seqs,
    ]);
    return inKeyOrder(seqs, rows, (r) => Number(r.row_seq));
  }

  async listUnfinished(): Promise<StoredExecution[]> {
    await this.readable();
    // created_at first: a bulk insert's rows are written before the other writes of their
    // commit, so seq alone put children before the parent made just before them.
    const rows = await this.query(
      `SELECT ${EXECUTION_SELECT} FROM executions WHERE status <> ALL($1) ORDER BY created_at, seq`,
      [ENDED],
    );
    return rows.map(rowToExecution);
  }

  async listDescendantIds(id: string): Promise<string[]> {
    await this.readable();
    const rows = await this.query(
      `WITH RECURSIVE sub(id) AS (
         SELECT id FROM executions WHERE parent_execution_id = $1
         UNION ALL SELECT e.id FROM executions e JOIN sub ON e.parent_execution_id = sub.id)
       SELECT id FROM sub`,
      [id],
    );
    return rows.map((r) => String(r.id));
  }

  async getLog(executionId: string, after: number, limit: number): Promise<LogLine[]> {
    await this.readable();
    const rows = await this.query(
      'SELECT execution_id, seq, ts, stream, text FROM logs WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [executionId, after, limit],
    );
    return rows.map((r) => ({
      execution_id: String(r.execution_id),
      seq: Number(r.seq),
      ts: String(r.ts),
      stream: r.stream as LogLine['stream'],
      text: String(r.text),
    }));
  }

  async lastLogSeq(executionId: string): Promise<number> {
    await this.readable();
    const rows = await this.query('SELECT max(seq) AS n FROM logs WHERE execution_id = $1', [executionId]);
    return Number(rows[0]?.n ?? 0);
  }

  async getRecording(executionId: string): Promise<RecordingEntry[]> {
    await this.readable();
    const rows = await this.query(
      'SELECT execution_id, seq, kind, name, value, ts FROM recordings WHERE execution_id = $1 ORDER BY seq',
      [executionId],
    );
    return rows.map(rowToRecording);
  }

  async getRecord(type: string, by: RecordLookup, key: string): Promise<StoredRecord | undefined> {
    await this.readable();
    const col = by === 'id' ? 'id' : 'name';
    const rows = await this.query(`SELECT * FROM records WHERE type = $1 AND ${col} = $2`, [type, key]);
    return rows[0] ? rowToRecord(rows[0]) : undefined;
  }

  async deleteRecord(type: string, by: RecordLookup, key: string): Promise<boolean> {
    await this.readable();
    const col = by === 'id' ? 'id' : 'name';
    const res = await this.pool.query(`DELETE FROM records WHERE type = $1 AND ${col} = $2`, [type, key]);
    return (res.rowCount ?? 0) > 0;
  }

  async listRecords(type: string, opts: { includeArchived?: boolean } = {}): Promise<StoredRecord[]> {
    await this.readable();
    const rows = await this.query(
      `SELECT * FROM records WHERE type = $1 ${opts.includeArchived ? '' : 'AND NOT archived'} ORDER BY name`,
      [type],
    );
    return rows.map(rowToRecord);
  }

  // Flow records (postgresFlows.ts): transactions of their own, apart from the group commits.

  putFlows(flows: readonly StoredFlow[]): Promise<string[]> {
    return flowRecords.putFlows(this.pool, flows);
  }

  getFlow(name: string): Promise<StoredFlow | undefined> {
    return flowRecords.getFlow(this.pool, name);
  }

  listFlows(): Promise<FlowSummary[]> {
    return flowRecords.listFlows(this.pool);
  }

  deleteFlow(name: string): Promise<boolean> {
    return flowRecords.deleteFlow(this.pool, name);
  }

  flowsVersion(): Promise<number> {
    return flowRecords.flowsVersion(this.pool);
  }

  async getMessage(id: string): Promise<MessageRecord | undefined> {
    await this.readable();
    const rows = await this.query('SELECT * FROM messages WHERE id = $1', [id]);
    return rows[0] ? rowToMessage(rows[0]) : undefined;
  }

  async listMessages(opts: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]> {
    await this.readable();
    const where: string[] = [];
    const args: string[] = [];
    if (opts.open) where.push('responded_at IS NULL');
    if (opts.execution_id) {
      args.push(opts.execution_id);
      where.push(`execution_id = $${args.length}`);
    }
    const rows = await this.query(
      `SELECT * FROM messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`,
      args,
    );
    return rows.map(rowToMessage);
  }

  async countChildren(parentId: string): Promise<ChildCounts> {
    await this.readable();
    const rows = await this.query(
      'SELECT status, count(*) AS n FROM executions WHERE parent_execution_id = $1 GROUP BY status',
      [parentId],
    );
    return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
  }

  async listChildren(
    parentId: string,
    statuses: readonly ExecutionStatus[],
    limit = -1,
  ): Promise<StoredExecution[]> {
    await this.readable();
    if (statuses.length === 0) return [];
    const rows = await this.query(
      `SELECT ${EXECUTION_SELECT} FROM executions WHERE parent_execution_id = $1 AND status = ANY($2)
       ORDER BY created_at, seq LIMIT $3`,
      [parentId, statuses, limit < 0 ? null : limit],
    );
    return rows.map(rowToExecution);
  }

  async listSchedules(): Promise<StoredSchedule[]> {
    await this.readable();
    const rows = await this.query('SELECT data, inputs FROM schedules ORDER BY created_at, id');
    return rows.map((r) => ({
      ...(fromJson(r.data) as StoredSchedule),
      inputs: fromJson(r.inputs) as unknown[] | null,
    }));
  }

  async listWebhooks(): Promise<StoredWebhook[]> {
    await this.readable();
    const rows = await this.query('SELECT data FROM webhooks ORDER BY created_at, id');
    return rows.map((r) => fromJson(r.data) as StoredWebhook);
  }

  async getRun(id: string): Promise<RunWithExecution | undefined> {
    await this.readable();
    const rows = await this.query(`${RUN_SELECT} WHERE r.id = $1`, [id]);
    return rows[0] ? { run: rowToRun(rows[0]), execution: rowToExecution(rows[0]) } : undefined;
  }

  async listRuns(q: ListRunsQuery): Promise<ListPage<RunWithExecution>> {
    await this.readable();
    const page = await listKeys(this.listQuery, 'runs', runFilters(q), q, this.remember);
    const rows = page.seqs.length
      ? await this.query(`${RUN_LIST_SELECT} WHERE r.seq = ANY($1)`, [page.seqs])
      : [];
    return {
      items: inKeyOrder(page.seqs, rows, (r) => Number(r.run_seq)).map((row) => ({
        run: rowToRun(row),
        execution: rowToExecution(row),
      })),
      total: page.total,
      total_capped: page.capped,
      next: page.next,
    };
  }

  // ---- Schedule firings and users' tokens (postgresTeam.ts) ---------------------------------

  /**
   * Fenced as a commit is: a node another declared lost claims nothing (the node that took over
   * its schedules fires the slot).
   */
  claimFiring(scheduleId: string, slot: number): Promise<boolean> {
    return this.fenced((c) => claimFiring(c, scheduleId, slot, this.node));
  }

  /** Store.claimSchedules: fenced, as claimFiring. */
  async claimSchedules(ids: readonly string[]): Promise<{ claimed: StoredExecution[]; held: string[] }> {
    if (ids.length === 0) return { claimed: [], held: [] };
    await this.readable();
    return this.fenced((c) => claimSchedules(c, this.node, ids));
  }

  /** `fn` in a transaction of its own that first fences this node (see commit()). */
  private fenced<T>(fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    return this.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        await fence(c, this.node, this.instance);
        const got = await fn(c);
        await c.query('COMMIT');
        return got;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  createUserToken(t: Omit<StoredUserToken, 'last_used_at'>): Promise<boolean> {
    return createUserToken(this.pool, t);
  }

  revokeUserToken(name: string): Promise<boolean> {
    return revokeUserToken(this.pool, name);
  }

  listUserTokens(): Promise<UserTokenInfo[]> {
    return listUserTokens(this.pool);
  }

  findUserToken(hash: string): Promise<StoredUserToken | undefined> {
    return findUserToken(this.pool, hash);
  }

  touchUserToken(name: string, at: string): Promise<void> {
    return touchUserToken(this.pool, name, at);
  }

  /** Writes what is queued (bulk rows to the last), then lets the connections go. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.clusterTimer);
    await this.clusterRound;
    while (this.hasWork() || this.pumping) await this.pump();
    await this.cluster.close();
    for (const w of this.waiters.splice(0)) w.resolve();
    // Gone for good or back soon: either way another node may release what is left at once.
    if (!this.lost) {
      await leaveCluster(this.writer, this.node, this.instance).catch((err: unknown) =>
        this.log(`PostgreSQL: could not leave the cluster: ${describeError(err)}`),
      );
    }
    await Promise.allSettled([this.writer.end(), this.pool.end()]);
  }
}
