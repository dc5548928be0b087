/**
 * One output channel, "Flows: Execution Log", showing the log of one execution at a time (picked
 * from the tree or a quick pick). A top-level execution shows its whole tree, each line named by
 * the execution that wrote it, and the channel follows it live until another one is shown.
 */
import * as vscode from 'vscode';
import { isEnded, type ExecutionRecord, type LogLine } from '@flows/protocol';
import { elapsed, formatDuration, localTime } from '../executions/statusStyle';
import type { RunnerConnection, RunnerService } from '../runner/runnerService';
import { formatHeader, formatLine, formatStatus } from './logFormat';

const APPEND_MS = 100;

interface Followed {
  root: ExecutionRecord;
  conn: RunnerConnection;
  /** Executions whose lines are shown → name, and the last seq printed. */
  names: Map<string, string>;
  lastSeq: Map<string, number>;
  /** Lines that arrived while the history was loading. */
  early: LogLine[] | undefined;
  wholeTree: boolean;
  /** The last status seen of each execution shown, to write a line when it pauses or resumes. */
  statuses: Map<string, ExecutionRecord['status']>;
}

export class ExecutionLog implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('Flows: Execution Log', 'flows-log');
  private followed: Followed | undefined;
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private resubscribe: NodeJS.Timeout | undefined;
  private subs: vscode.Disposable[] = [];

  constructor(private readonly runner: RunnerService) {}

  /** Shows the log of `executionId` and follows it. */
  async show(executionId: string): Promise<void> {
    const conn = await this.runner.ensure();
    const root = await conn.api.getExecution(executionId);
    this.stop();
    this.channel.clear();
    this.channel.show(true);
    const wholeTree = root.parent_execution_id === null;
    const f: Followed = {
      root,
      conn,
      names: new Map([[root.id, root.name]]),
      lastSeq: new Map(),
      early: [],
      wholeTree,
      statuses: new Map([[root.id, root.status]]),
    };
    this.followed = f;
    this.subs.push(
      this.runner.session.onLog((line) => this.onLine(f, line)),
      this.runner.executions.onDidChange(({ event, record }) => this.onExecution(f, event, record)),
    );
    const tree = wholeTree
      ? (await conn.api.listExecutions({ top_execution_id: root.id, sort: 'created_at', limit: 1000 })).items
      : [root];
    for (const rec of tree) f.names.set(rec.id, rec.name);
    this.runner.session.followLogs([...f.names.keys()]);

    this.write(`${formatHeader(root)}\n`);
    this.write(`started ${localTime(root.started_at ?? root.created_at)}\n`);
    if (root.status === 'PAUSED') this.write(`${formatStatus(root)}\n`);
    const history = (await Promise.all(tree.map((rec) => conn.api.getLog(rec.id)))).flat();
    if (this.followed !== f) return;
    // Lines and the ends of executions, in the order they happened.
    const entries: { ts: string; print: () => void }[] = [
      ...history.map((line) => ({ ts: line.ts, print: () => this.print(f, line) })),
      ...tree
        .filter((rec) => isEnded(rec.status))
        .map((rec) => ({
          ts: rec.ended_at ?? rec.updated_at,
          print: () => this.write(`${statusLine(rec)}\n`),
        })),
    ];
    entries.sort((a, b) => a.ts.localeCompare(b.ts));
    entries.forEach((e) => e.print());
    const early = f.early ?? [];
    f.early = undefined;
    early.forEach((line) => this.print(f, line));
  }

  private onLine(f: Followed, line: LogLine): void {
    if (this.followed !== f || !f.names.has(line.execution_id)) return;
    if (f.early) f.early.push(line);
    else this.print(f, line);
  }

  private print(f: Followed, line: LogLine): void {
    if ((f.lastSeq.get(line.execution_id) ?? 0) >= line.seq) return;
    f.lastSeq.set(line.execution_id, line.seq);
    const source =
      f.wholeTree && line.execution_id !== f.root.id ? f.names.get(line.execution_id) : undefined;
    this.write(`${formatLine(line, source)}\n`);
  }

  private onExecution(f: Followed, event: 'created' | 'updated', rec: ExecutionRecord): void {
    if (this.followed !== f) return;
    if (event === 'created' && f.wholeTree && rec.top_execution_id === f.root.id && !f.names.has(rec.id)) {
      f.names.set(rec.id, rec.name);
      // Children start in bursts; subscribe once for the lot.
      clearTimeout(this.resubscribe);
      this.resubscribe = setTimeout(() => this.runner.session.followLogs([...f.names.keys()]), 50);
      return;
    }
    if (!f.names.has(rec.id)) return;
    const before = f.statuses.get(rec.id);
    f.statuses.set(rec.id, rec.status);
    if (f.early) return;
    if (isEnded(rec.status)) this.write(`${statusLine(rec)}\n`);
    // Pause and resume are marked in the log, so what it shows last is never stale.
    else if (rec.status === 'PAUSED' && before !== 'PAUSED') this.write(`${formatStatus(rec)}\n`);
    else if (before === 'PAUSED' && rec.status !== 'PAUSED')
      this.write(`${formatStatus({ ...rec, message: 'resumed' })}\n`);
  }

  /** Batches appends: a chatty flow writes thousands of lines a second. */
  private write(text: string): void {
    this.pending += text;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.channel.append(this.pending);
      this.pending = '';
    }, APPEND_MS);
  }

  /** Id of the execution shown, if any. */
  get current(): string | undefined {
    return this.followed?.root.id;
  }

  private stop(): void {
    this.subs.forEach((s) => s.dispose());
    this.subs = [];
    if (this.followed) this.runner.session.followLogs(undefined);
    this.followed = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = '';
  }

  dispose(): void {
    this.stop();
    clearTimeout(this.resubscribe);
    this.channel.dispose();
  }
}

function statusLine(rec: ExecutionRecord): string {
  const ms = elapsed(rec);
  return formatStatus(rec, ms === undefined ? undefined : formatDuration(ms));
}
