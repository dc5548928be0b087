/**
 * `flows run` when a serving runner (`flows serve`, or the extension's) already owns the data
 * folder. That runner has the database open exclusively, so the execution is submitted through
 * its REST API and followed on its WebSocket until the whole tree has ended; then the tree is read
 * back through the API and printed as an embedded run prints it.
 *
 * Events rather than polling: an ended execution is a message on the socket, so no sleep decides
 * how late the CLI notices, and the subscription is confirmed (ping/pong) before the execution is
 * created, so none of its events can be missed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isEnded, type ExecutionRecord } from '@flows/protocol';
import { RunnerApi } from '@flows/runner-client/runnerApi';
import { RunnerSocket } from '@flows/runner-client/runnerSocket';
import { flowNameOf } from '../engine/flowFiles';
import { onAbort } from './interrupt';
import type { TreeSource } from './executionTree';

/** Where a serving runner listens and the token it wants (see `ownerConnection`). */
export interface RunnerAddress {
  url: string;
  token: string;
}

/** The runner's execution events on one WebSocket, reduced to "which executions are still open". */
class ExecutionEvents {
  private failure?: Error;
  /** Top id and ended-or-not of every execution seen; once `topId` is known, of its tree only. */
  private readonly seen = new Map<string, { top: string; ended: boolean }>();
  private topId?: string;
  /** Executions of the tree not ended yet (kept from `topId` on, so a check is O(1)). */
  private readonly open = new Set<string>();
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly socket: RunnerSocket,
    private readonly url: string,
  ) {
    socket.on('execution', (m) => {
      this.note(m.record);
      this.changed();
    });
    socket.on('runnerError', (m) => this.fail(`the runner at ${url} refused a message: ${m.message}`));
    socket.on('disconnected', (why) => this.fail(`lost the runner at ${url} (${why})`));
  }

  /** Connects, waits for the hello and for the subscription to be confirmed. */
  static async connect(runner: RunnerAddress): Promise<ExecutionEvents> {
    const socket = await RunnerSocket.connect({
      url: runner.url,
      token: runner.token,
      topics: ['executions'],
    });
    return new ExecutionEvents(socket, runner.url);
  }

  /** The serving runner's flows folder, as its hello says. */
  get flowsDir(): string | undefined {
    return this.socket.hello?.flows_dir;
  }

  /** Resolves when no execution of `top`'s tree is open any more. */
  treeEnded(top: ExecutionRecord): Promise<void> {
    this.topId = top.id;
    for (const [id, s] of this.seen) {
      if (s.top !== top.id) this.seen.delete(id);
      else if (!s.ended) this.open.add(id);
    }
    // The create answer may arrive after the top's own events: it must not undo them.
    if (!this.seen.has(top.id)) this.note(top);
    return this.until(() => this.open.size === 0);
  }

  close(): void {
    this.socket.terminate();
  }

  private note(rec: ExecutionRecord): void {
    if (this.topId !== undefined && rec.top_execution_id !== this.topId) return;
    const ended = isEnded(rec.status);
    this.seen.set(rec.id, { top: rec.top_execution_id, ended });
    if (this.topId === undefined) return;
    if (ended) this.open.delete(rec.id);
    else this.open.add(rec.id);
  }

  private fail(message: string): void {
    this.failure ??= new Error(message);
    this.changed();
  }

  private changed(): void {
    for (const check of [...this.waiters]) check();
  }

  private until(condition: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.failure) reject(this.failure);
        else if (condition()) resolve();
        else return;
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}

const realPath = (p: string): string => {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
};

export interface RemoteRunRequest {
  file: string;
  /** --flows as the user gave it; undefined when it defaulted to the file's folder. */
  flowsOption: string | undefined;
  dataDir: string;
  input: unknown;
  isProductive: boolean;
  /** Aborted (Ctrl-C): the execution is cancelled on the runner, and the wait goes on to its end. */
  signal?: AbortSignal;
}

/**
 * The flow's name on the serving runner: relative to that runner's flows folder, where it also
 * resolves the flows this one calls. A file outside that folder, or a --flows that names another
 * one, would run something else than asked, so both are refused with what to do instead.
 */
function flowNameOnRunner(runnerFlowsDir: string | undefined, req: RemoteRunRequest, url: string): string {
  const owner = `the runner at ${url}, which owns the data folder ${req.dataDir}`;
  const instead = 'stop that runner, or give this run its own data folder with --data DIR';
  if (!runnerFlowsDir) throw new Error(`${owner}, does not say which flows folder it serves: ${instead}.`);
  const theirs = realPath(runnerFlowsDir);
  if (req.flowsOption !== undefined && realPath(req.flowsOption) !== theirs) {
    throw new Error(
      `--flows ${path.resolve(req.flowsOption)} is not ${runnerFlowsDir}, the flows folder of ${owner}: ` +
        `flow names would resolve differently there. Leave out --flows, ${instead}.`,
    );
  }
  const name = flowNameOf(theirs, realPath(req.file));
  if (name.startsWith('..') || path.isAbsolute(name)) {
    throw new Error(
      `${req.file} is not inside ${runnerFlowsDir}, the flows folder of ${owner}. ` +
        `Move the file into that folder, ${instead}.`,
    );
  }
  return name;
}

/** The records and logs of an ended tree, read through the runner's REST API. */
function treeOnRunner(api: RunnerApi): TreeSource {
  return {
    records: async (topId, limit) =>
      (await api.listExecutions({ top_execution_id: topId, sort: 'created_at', limit, offset: 0 })).items,
    log: (id, limit) => api.getLog(id, 0, limit),
  };
}

/** Submits the flow to the serving runner and resolves once its whole tree has ended there. */
export async function runOnRunner(
  runner: RunnerAddress,
  req: RemoteRunRequest,
): Promise<{ topId: string; tree: TreeSource }> {
  const api = new RunnerApi(runner.url, runner.token);
  const events = await ExecutionEvents.connect(runner);
  try {
    const top = await api.createExecution({
      flow_name: flowNameOnRunner(events.flowsDir, req, runner.url),
      input_value: req.input,
      is_productive: req.isProductive,
    });
    onAbort(req.signal, () => api.act(top.id, 'cancel'));
    await events.treeEnded(top);
    return { topId: top.id, tree: treeOnRunner(api) };
  } finally {
    events.close();
  }
}
