/**
 * The status bar item: the runner's state and how many executions are in progress. Clicking it
 * opens the Executions view (or starts the runner when it is not running).
 */
import * as vscode from 'vscode';
import type { RunnerService } from './runner/runnerService';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'flows.status',
    vscode.StatusBarAlignment.Left,
    10,
  );
  private flowOpen = false;
  private readonly subs: vscode.Disposable[];

  constructor(private readonly runner: RunnerService) {
    this.item.name = 'Flows Runner';
    this.subs = [
      runner.onDidChangeState(() => this.render()),
      runner.executions.onDidChangeInProgress(() => this.render()),
    ];
    this.render();
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
        const n = this.runner.executions.inProgressCount;
        const { kind, sharedPid } = state.connection;
        const where =
          kind === 'bundled'
            ? 'Bundled runner'
            : kind === 'team'
              ? 'Team runner'
              : sharedPid
                ? `Shared runner (pid ${sharedPid}, started by another window or \`flows serve\`)`
                : 'External runner';
        // A team runner is named: what runs there, colleagues see (and it is not this machine).
        const team = kind === 'team' ? ` (${new URL(state.connection.url).host})` : '';
        const icon = kind === 'team' ? '$(remote)' : '$(pass)';
        item.text = n ? `$(sync~spin) Flows${team}: ${n} running` : `${icon} Flows${team}`;
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
