/**
 * The nodes of one PostgreSQL database acting as one cluster: each listens (LISTEN) for what the
 * others commit and ask (postgresNotify.ts has the wire format), and polls where a notification
 * can be missed. It gives the engine its Cluster (engine/cluster.ts):
 *
 * - Waits: a flow on this node waiting for an execution another node runs is woken by the
 *   notification of that execution's end, within milliseconds of its commit (and one waiting
 *   for the answer to a form, by that of the answer given through another node). A notification is
 *   not kept for a listener that is not there (the connection was down a moment, LISTEN is
 *   off), so every POLL_MS the ends of the executions waited for are also read: a wait ends at
 *   most POLL_MS after the end with no notification at all, and at once when the connection
 *   comes back.
 * - Events: the changes other nodes commit, read back as rows (in batches, one query per
 *   READ_BATCH ids, one read at a time so they come in order) for the runner's WebSocket — only
 *   while a client of this node wants them. Its own changes it skips: its engine announced them.
 * - Control: cancel / pause / resume / start of an execution another node owns is asked of that
 *   node by name; it acts as if asked directly (ControlHost.act) and answers once its change is
 *   committed. The asker waits at most CONTROL_TIMEOUT_MS, watching the row too (an answer can
 *   be missed as well), then says the owner did not act. A node whose heartbeat is older than
 *   the lease is not asked: it is said to be silent at once. One no node owns is changed in the
 *   database (postgresNodes.ts actUnowned).
 *
 * The listening connection is a client of its own (a pooled one would be handed to other
 * queries, and LISTEN is per connection); when it breaks it reconnects with a backoff.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { isEnded, type ExecutionStatus, type MessageRecord } from '@flows/protocol';
import type { Cluster, ControlOp, ControlOutcome, Refused } from '../engine/executions';
import { describeError, PG_TYPES } from './postgresConnection';
import { actUnowned, LEASE_MS } from './postgresNodes';
import {
  CONTROL_CHANNEL,
  EXECUTIONS_CHANNEL,
  MAX_PAYLOAD_BYTES,
  type ChangesPayload,
  type ControlAnswer,
  type ControlRequest,
} from './postgresNotify';
import { EXECUTION_SELECT, rowToExecution, rowToMessage, type Row } from './postgresQueries';
import type { StoredExecution } from './store';

/** How often the ends of executions waited for (and the rows of pending requests) are read. */
export const POLL_MS = 2_000;
/** How long a node waits for the owner of an execution to act on its request. */
/**
 * How long a node waits for the owner of an execution to act on its request: far beyond the
 * milliseconds an answer takes, and under the lease (an owner that stalls is asked, not yet
 * reaped, and the asker hears so before the reaper ends the execution under it).
 */
export const CONTROL_TIMEOUT_MS = 5_000;
/** How long an answer is waited for before the row alone may say a request was done. */
const ANSWER_GRACE_MS = 1_000;
/** Rows read back per query, for events and ends heard of. */
const READ_BATCH = 1_000;
/** How long to wait before listening again, doubling up to the maximum. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

/** What the cluster asks of this node's engine: act on a request of another node. */
export interface ControlHost {
  /** `op` on `id`, which this node owns, as if asked here; resolves once it is committed. */
  act(op: ControlOp, id: string, reason?: string): Promise<Refused | undefined>;
}

/** Where the changes other nodes commit go (the runner's WebSocket). */
export interface ChangeWatcher {
  /** Whether anyone wants them now (a client subscribed): else they are not even read. */
  wanted(): boolean;
  changed(event: 'created' | 'updated', rec: StoredExecution): void;
}

export interface PostgresClusterOptions {
  url: string;
  /** This node's name (executions' owner) and this process's instance (commits' sender). */
  node: string;
  instance: string;
  /** Reads, and the notifications of requests and answers. */
  pool: pg.Pool;
  /** false: no LISTEN at all (waits and answers are polled; tests of the fallback). */
  listen: boolean;
  log: (msg: string) => void;
}

interface Pending {
  op: ControlOp;
  id: string;
  owner: string;
  sent: number;
  timer: NodeJS.Timeout;
  resolve: (out: ControlOutcome) => void;
}

export class PostgresCluster implements Cluster {
  private listener?: pg.Client;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private readonly pollTimer: NodeJS.Timeout;
  private closed = false;
  private host?: ControlHost;
  private watcher?: ChangeWatcher;
  /** Waits for the end of executions of other nodes, by id. */
  private readonly waiters = new Waiters<StoredExecution>();
  /** Waits for answers to forms, by message id. */
  private readonly answerWaiters = new Waiters<MessageRecord>();
  /** Requests this node sent, by their id. */
  private readonly pending = new Map<string, Pending>();
  /** Ids heard of and not yet read, with whether they were created (an event to announce). */
  private readonly toRead = new Map<string, { created: boolean; announce: boolean }>();
  private reading?: Promise<void>;

  constructor(private readonly opts: PostgresClusterOptions) {
    this.pollTimer = setInterval(() => void this.poll(), POLL_MS);
    this.pollTimer.unref();
  }

  /** Starts listening (a failure is logged and tried again: polling covers the meantime). */
  async start(): Promise<void> {
    if (this.opts.listen) await this.connect();
  }

  /** Requests of other nodes for executions this node owns go to `host` from now on. */
  serve(host: ControlHost): void {
    this.host = host;
  }

  /** Changes other nodes commit go to `watcher` from now on. */
  watch(watcher: ChangeWatcher): void {
    this.watcher = watcher;
  }

  // ---- Listening ------------------------------------------------------------------------------

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.opts.url,
      types: PG_TYPES,
      application_name: 'flows runner (listen)',
      connectionTimeoutMillis: 10_000,
      // An idle listener on a connection that died silently (a network cut) would hear nothing
      // and never know; keepalives find it out.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    const broken = (err?: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.opts.log(
        `PostgreSQL listening connection lost${err ? ` (${err.message})` : ''}; listening again (waits are polled meanwhile)`,
      );
      this.retry();
    };
    client.on('error', broken);
    client.on('end', () => broken());
    client.on('notification', (n) => this.heard(n.channel, n.payload ?? ''));
    try {
      await client.connect();
      await client.query(`LISTEN ${EXECUTIONS_CHANNEL}; LISTEN ${CONTROL_CHANNEL}`);
    } catch (err) {
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.opts.log(`PostgreSQL: cannot listen for the other nodes (tried again): ${describeError(err)}`);
      this.retry();
      return;
    }
    if (this.closed) {
      void client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    if (this.attempt > 0) {
      this.opts.log('PostgreSQL: listening for the other nodes again');
      // What was committed while nobody listened was not kept for this node.
      void this.poll();
    }
    this.attempt = 0;
  }

  private retry(): void {
    const ms = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.attempt++);
    this.retryTimer = setTimeout(() => void this.connect(), ms);
    this.retryTimer.unref();
  }

  private heard(channel: string, payload: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(payload);
    } catch {
      return; // not ours
    }
    if (channel === EXECUTIONS_CHANNEL) this.heardChanges(msg as ChangesPayload);
    else if (channel === CONTROL_CHANNEL) {
      const m = msg as Partial<ControlRequest & ControlAnswer>;
      if (typeof m.re === 'string') this.answered(m as ControlAnswer);
      else if (m.to === this.opts.node && typeof m.req === 'string')
        void this.serveRequest(m as ControlRequest);
    }
  }

  private heardChanges(p: ChangesPayload): void {
    // This node's engine announced its own changes (and woke its own forms' waiters) already.
    if (!p || p.n === this.opts.instance) return;
    const answered = Array.isArray(p.m) ? p.m.filter((id) => this.answerWaiters.has(id)) : [];
    if (answered.length) void this.checkAnswers(answered);
    if (!Array.isArray(p.e)) return;
    const announce = this.watcher?.wanted() ?? false;
    let any = false;
    for (const [id, status, created] of p.e) {
      const ends = isEnded(status as ExecutionStatus) && this.waiters.has(id);
      if (!announce && !ends) continue;
      const seen = this.toRead.get(id);
      this.toRead.set(id, {
        created: (seen?.created ?? false) || created === 1,
        announce: (seen?.announce ?? false) || announce,
      });
      any = true;
    }
    if (any) void this.drain();
  }

  /** Reads the rows heard of, a batch at a time, one read at a time (so events stay in order). */
  private drain(): Promise<void> {
    this.reading ??= (async () => {
      try {
        while (this.toRead.size > 0 && !this.closed) {
          const batch = [...this.toRead].slice(0, READ_BATCH);
          for (const [id] of batch) this.toRead.delete(id);
          const recs = await this.read(batch.map(([id]) => id));
          for (const [id, what] of batch) {
            const rec = recs.get(id);
            if (!rec) continue;
            if (what.announce) this.watcher?.changed(what.created ? 'created' : 'updated', rec);
            if (isEnded(rec.status)) this.ended(rec);
          }
        }
      } catch (err) {
        // Waits are polled; events of this moment are lost (a client catches up over REST).
        this.toRead.clear();
        if (!this.closed)
          this.opts.log(`PostgreSQL: reading the other nodes' changes failed: ${describeError(err)}`);
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private async read(ids: readonly string[]): Promise<Map<string, StoredExecution>> {
    const rows = (
      await this.opts.pool.query(`SELECT ${EXECUTION_SELECT} FROM executions WHERE id = ANY($1)`, [ids])
    ).rows as Row[];
    return new Map(rows.map((r) => [String(r.id), rowToExecution(r)]));
  }

  // ---- Waits ----------------------------------------------------------------------------------

  waitForEnd(id: string): Promise<StoredExecution> {
    const ended = this.waiters.wait(id);
    // It may have ended between the caller's read and now, unheard: look once more.
    void this.checkEnds([id]);
    return ended;
  }

  private ended(rec: StoredExecution): void {
    this.waiters.resolve(rec.id, rec);
  }

  private async checkEnds(ids: readonly string[]): Promise<void> {
    try {
      for (let i = 0; i < ids.length; i += READ_BATCH) {
        const recs = await this.read(ids.slice(i, i + READ_BATCH));
        for (const rec of recs.values()) if (isEnded(rec.status)) this.ended(rec);
      }
    } catch (err) {
      if (!this.closed)
        this.opts.log(`PostgreSQL: polling the ends of awaited executions failed: ${describeError(err)}`);
    }
  }

  waitForAnswer(id: string): Promise<MessageRecord> {
    const answered = this.answerWaiters.wait(id);
    void this.checkAnswers([id]);
    return answered;
  }

  private async checkAnswers(ids: readonly string[]): Promise<void> {
    try {
      const rows = (
        await this.opts.pool.query('SELECT * FROM messages WHERE id = ANY($1) AND responded_at IS NOT NULL', [
          ids,
        ])
      ).rows as Row[];
      for (const msg of rows.map(rowToMessage)) this.answerWaiters.resolve(msg.id, msg);
    } catch (err) {
      if (!this.closed)
        this.opts.log(`PostgreSQL: polling the answers of awaited forms failed: ${describeError(err)}`);
    }
  }

  /** The fallback of every notification: ends and answers waited for, rows of requests sent. */
  private async poll(): Promise<void> {
    if (this.closed) return;
    if (this.waiters.size > 0) await this.checkEnds(this.waiters.ids());
    if (this.answerWaiters.size > 0) await this.checkAnswers(this.answerWaiters.ids());
    if (this.pending.size > 0) await this.checkPending();
  }

  // ---- Control --------------------------------------------------------------------------------

  async control(op: ControlOp, id: string, reason?: string): Promise<ControlOutcome> {
    // A few rounds: an unowned execution may be claimed by a node while this one looks.
    for (let round = 0; round < 3; round++) {
      const row = (
        await this.opts.pool.query<{
          owner: string | null;
          status: ExecutionStatus;
          silent_ms: number | null;
        }>(
          `SELECT e.owner, e.status,
             CASE WHEN n.name IS NULL THEN NULL
               ELSE extract(epoch FROM clock_timestamp() - n.heartbeat_at) * 1000 END AS silent_ms
           FROM executions e LEFT JOIN nodes n ON n.name = e.owner
           WHERE e.id = $1`,
          [id],
        )
      ).rows[0];
      if (!row || isEnded(row.status) || row.owner === this.opts.node) return { here: true };
      if (row.owner === null) {
        const client = await this.opts.pool.connect();
        let out: ControlOutcome | undefined;
        try {
          out = await actUnowned(client, op, id, reason);
        } finally {
          client.release();
        }
        if (out) return out;
        continue;
      }
      const silent = row.silent_ms === null ? Infinity : Number(row.silent_ms);
      if (silent > LEASE_MS) {
        const heard = Number.isFinite(silent) ? `not heard from for ${Math.round(silent / 1000)} s` : 'gone';
        return {
          refused: 'unavailable',
          message: `execution ${id} is run by node ${row.owner}, which is ${heard}; if it is down, its executions end FAILED "node … lost" within the lease (${LEASE_MS / 1000} s)`,
        };
      }
      return this.ask(row.owner, op, id, reason);
    }
    return {
      refused: 'conflict',
      message: `execution ${id} changed hands while it was being asked to ${op}; try again`,
    };
  }

  /** Asks `owner` to do `op`, and resolves with what came of it (see control()). */
  private ask(owner: string, op: ControlOp, id: string, reason?: string): Promise<ControlOutcome> {
    const req = crypto.randomUUID();
    const request: ControlRequest = { to: owner, op, id, req, ...(reason ? { reason } : {}) };
    const payload = JSON.stringify(request);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
      return Promise.resolve({
        refused: 'invalid',
        message: 'the reason is too long to send to another node',
      });
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => void this.expire(req), CONTROL_TIMEOUT_MS);
      this.pending.set(req, { op, id, owner, sent: Date.now(), timer, resolve });
      this.opts.pool.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, payload]).catch((err: unknown) =>
        this.settle(req, {
          refused: 'unavailable',
          message: `cannot ask node ${owner} to ${op} execution ${id}: ${describeError(err)}`,
        }),
      );
    });
  }

  private settle(req: string, out: ControlOutcome): void {
    const p = this.pending.get(req);
    if (!p) return;
    this.pending.delete(req);
    clearTimeout(p.timer);
    p.resolve(out);
  }

  private answered(a: ControlAnswer): void {
    const p = this.pending.get(a.re);
    if (!p) return; // another node's request
    if (a.refused) {
      this.settle(a.re, { refused: a.refused, message: a.message ?? `node ${p.owner} refused to ${p.op}` });
      return;
    }
    // Done and committed by the owner: the answer is the row as it is now.
    void this.read([p.id]).then(
      (recs) => {
        const rec = recs.get(p.id);
        this.settle(a.re, rec ? { done: rec } : { refused: 'not_found', message: `no execution ${p.id}` });
      },
      (err: unknown) =>
        this.settle(a.re, {
          refused: 'unavailable',
          message: `node ${p.owner} did ${p.op} execution ${p.id}, but it cannot be read: ${describeError(err)}`,
        }),
    );
  }

  /** Without an answer: the row may show the requests done (their answer was missed). */
  private async checkPending(): Promise<void> {
    const list = [...this.pending];
    let recs: Map<string, StoredExecution>;
    try {
      recs = await this.read([...new Set(list.map(([, p]) => p.id))]);
    } catch {
      return; // tried again at the next poll, or the request's time runs out
    }
    const now = Date.now();
    for (const [req, p] of list) {
      const rec = recs.get(p.id);
      // Not at once: the answer (a refusal, say) normally comes within milliseconds, and a row
      // that looks done before the owner acted (a start of a queued one) is not its answer.
      if (rec && now - p.sent >= ANSWER_GRACE_MS && looksDone(p.op, rec)) this.settle(req, { done: rec });
    }
  }

  /** No answer in time: done if the row shows it, else the owner did not act. */
  private async expire(req: string): Promise<void> {
    const p = this.pending.get(req);
    if (!p) return;
    const rec = (await this.read([p.id]).catch(() => undefined))?.get(p.id);
    if (rec && looksDone(p.op, rec)) return this.settle(req, { done: rec });
    this.settle(req, {
      refused: 'unavailable',
      message: `node ${p.owner} runs execution ${p.id} and did not ${p.op} it within ${CONTROL_TIMEOUT_MS / 1000} s (no answer to the request); it may be overloaded or cut off from the database. If it is down, its executions end FAILED "node … lost" within the lease (${LEASE_MS / 1000} s)`,
    });
  }

  /** A request of another node for an execution this node owns: done as if asked here. */
  private async serveRequest(r: ControlRequest): Promise<void> {
    const out: Refused | undefined = this.host
      ? await this.host.act(r.op, r.id, r.reason).catch((err: unknown) => ({
          refused: 'unavailable' as const,
          message: describeError(err),
        }))
      : { refused: 'unavailable', message: `node ${this.opts.node} is starting; try again` };
    const answer: ControlAnswer = {
      re: r.req,
      ...(out ? { refused: out.refused, message: out.message } : {}),
    };
    let text = JSON.stringify(answer);
    if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES)
      text = JSON.stringify({ ...answer, message: out?.message.slice(0, 1000) });
    try {
      await this.opts.pool.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, text]);
    } catch (err) {
      // The asker reads the row when no answer comes.
      this.opts.log(`PostgreSQL: cannot answer node's request (${r.op} ${r.id}): ${describeError(err)}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    for (const [req, p] of this.pending) {
      this.settle(req, {
        refused: 'unavailable',
        message: `this node is stopping; ${p.op} of ${p.id} was not confirmed`,
      });
    }
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
    await this.reading;
  }
}

/** Promises waiting for something of an id (an execution's end, a form's answer). */
class Waiters<T> {
  private readonly byId = new Map<string, Array<(value: T) => void>>();

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  wait(id: string): Promise<T> {
    return new Promise((resolve) => {
      const list = this.byId.get(id);
      if (list) list.push(resolve);
      else this.byId.set(id, [resolve]);
    });
  }

  resolve(id: string, value: T): void {
    const list = this.byId.get(id);
    this.byId.delete(id);
    for (const w of list ?? []) w(value);
  }
}

/** Whether the row shows `op` done (an answer may be missed: the owner's change is committed). */
function looksDone(op: ControlOp, rec: StoredExecution): boolean {
  switch (op) {
    case 'cancel':
      return isEnded(rec.status);
    case 'pause':
      return rec.status === 'PAUSED';
    case 'resume':
      return rec.status !== 'PAUSED';
    case 'start':
      return rec.status !== 'CREATED';
  }
}
