/**
 * The status bar item: the runner's state and how many executions are in progress. Clicking it
 * opens the Executions view (or starts the runner when it is not running).
 */
import * as vscode from 'vscode';
import { isEnded, type ExecutionRecord, type ExecutionStatus } from '../protocol';
import type { RunnerService } from './runner/runnerService';

/** Counted as "in progress": waiting for a time (SCHEDULED) or to be started (CREATED) is not. */
const IN_PROGRESS: ExecutionStatus[] = ['QUEUED', 'RUNNING', 'BLOCKED', 'PAUSED'];

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'flows.status',
    vscode.StatusBarAlignment.Left,
    10,
  );
  private readonly inProgress = new Set<string>();
  private flowOpen = false;
  private readonly subs: vscode.Disposable[];
  /** Events that arrive while the in-progress list loads. */
  private heldBack: ExecutionRecord[] | undefined;

  constructor(private readonly runner: RunnerService) {
    this.item.name = 'Flows Runner';
    this.subs = [
      runner.onDidChangeState(() => {
        if (!runner.connection) this.inProgress.clear();
        this.render();
      }),
      runner.session.onExecution(({ record }) => {
        if (this.heldBack) this.heldBack.push(record);
        else if (this.apply(record)) this.render();
      }),
      // Each (re)connection: what ran meanwhile is only in the runner. Events that arrive while
      // the list loads are applied on top of it: one of them may end an execution it lists.
      runner.session.onDidConnect(async (conn) => {
        const held: ExecutionRecord[] = [];
        this.heldBack = held;
        const { items } = await conn.api
          .listExecutions({ status: IN_PROGRESS, limit: 1000 })
          .catch(() => ({ items: [] as ExecutionRecord[] }));
        if (this.heldBack !== held) return; // a later connection's load took over
        this.heldBack = undefined;
        this.inProgress.clear();
        items.forEach((r) => this.inProgress.add(r.id));
        held.forEach((r) => this.apply(r));
        this.render();
      }),
    ];
    this.render();
  }

  /** Count the record in or out; true when that changed the count. */
  private apply(record: ExecutionRecord): boolean {
    const had = this.inProgress.has(record.id);
    if (IN_PROGRESS.includes(record.status)) this.inProgress.add(record.id);
    else if (isEnded(record.status) || record.status === 'SCHEDULED') this.inProgress.delete(record.id);
    return had !== this.inProgress.has(record.id);
  }

  private render(): void {
    const state = this.runner.state;
    void vscode.commands.executeCommand('setContext', 'flows.runnerState', state.kind);
    const item = this.item;
    item.backgroundColor = undefined;
    switch (state.kind) {
      case 'stopped':
        item.text = '$(debug-stop) Flows';
        item.tooltip = 'The flows runner is not running. Click to start it.';
        item.command = 'flows.startRunner';
        break;
      case 'starting':
        item.text = '$(loading~spin) Flows';
        item.tooltip = 'Starting the flows runner…';
        item.command = 'flows.showRunnerOutput';
        break;
      case 'failed':
        item.text = '$(error) Flows';
        item.tooltip = `The flows runner failed: ${state.message}\nClick to start it again.`;
        item.command = 'flows.startRunner';
        item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        break;
      case 'running': {
        const n = this.inProgress.size;
        const { kind, sharedPid } = state.connection;
        const where =
          kind === 'bundled'
            ? 'Bundled runner'
            : sharedPid
              ? `Shared runner (pid ${sharedPid}, started by another window or \`flows serve\`)`
              : 'External runner';
        item.text = n ? `$(sync~spin) Flows: ${n} running` : '$(pass) Flows';
        item.tooltip = `${where} at ${state.connection.url}${n ? `\n${n} execution(s) in progress` : ''}\nClick to show the executions.`;
        item.command = 'flows.executions.focus';
        break;
      }
    }
    item.accessibilityInformation = { label: String(item.tooltip) };
    // Python projects without flows activate the extension too; they do not need to see it.
    if (state.kind !== 'stopped' || this.flowOpen) item.show();
    else item.hide();
  }

  /** Whether the active editor holds a flow (the item shows then, even before the runner runs). */
  setFlowOpen(open: boolean): void {
    if (open === this.flowOpen) return;
    this.flowOpen = open;
    this.render();
  }

  dispose(): void {
    this.subs.forEach((s) => s.dispose());
    this.item.dispose();
  }
}
