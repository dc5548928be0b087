/** The Schedules view: every schedule of the runner, live over the `schedules` topic. */
import * as vscode from 'vscode';
import type { ScheduleRecord } from '@flows/protocol';
import { clockTime, localTime } from '../executions/statusStyle';
import { messageOf } from '../log';
import type { RunnerService } from '../runner/runnerService';
import { describeTiming } from './scheduleTiming';

export class ScheduleItem extends vscode.TreeItem {
  constructor(s: ScheduleRecord) {
    super(s.name, vscode.TreeItemCollapsibleState.None);
    this.id = s.id;
    this.iconPath = s.enabled
      ? new vscode.ThemeIcon('calendar', new vscode.ThemeColor('charts.blue'))
      : new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground'));
    const next = s.enabled && s.next_fire_at ? ` · next ${clockTime(s.next_fire_at)}` : '';
    this.description = `${describeTiming(s)}${s.enabled ? next : ' · disabled'}`;
    this.contextValue = `schedule ${s.enabled ? 'enabled' : 'disabled'}`;
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**${s.name}** — ${s.enabled ? 'enabled' : 'disabled'}\n\n`);
    const rows: [string, string | null][] = [
      ['flow', s.flow_name],
      ['when', describeTiming(s)],
      ['mode', s.is_productive ? 'Run (productive)' : 'Try (development)'],
      ['next run', s.next_fire_at && localTime(s.next_fire_at)],
      ['last run', s.last_fire_at && localTime(s.last_fire_at)],
      ['runs so far', `${s.iterations}${s.max_iterations ? ` of ${s.max_iterations}` : ''}`],
      ['while the last run is going', s.overlap === 'skip' ? 'skip' : 'run anyway'],
      ['id', s.id],
    ];
    md.appendMarkdown(
      rows
        .filter(([, v]) => v)
        .map(([k, v]) => `${k}: \`${v}\``)
        .join('  \n'),
    );
    this.tooltip = md;
    this.command = { title: 'Show Runs', command: 'flows.schedule.showRuns', arguments: [s.id] };
  }
}

export class ScheduleTree implements vscode.TreeDataProvider<string>, vscode.Disposable {
  readonly view: vscode.TreeView<string>;
  private readonly schedules = new Map<string, ScheduleRecord>();
  private loaded = false;
  private readonly changes = new vscode.EventEmitter<string | undefined>();
  readonly onDidChangeTreeData = this.changes.event;
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly runner: RunnerService) {
    this.view = vscode.window.createTreeView('flows.schedules', { treeDataProvider: this });
    this.disposables = [
      this.view,
      this.changes,
      runner.onDidChangeState(() => this.refresh()),
      runner.session.onSchedule(({ event, schedule }) => {
        if (event === 'deleted') this.schedules.delete(schedule.id);
        else this.schedules.set(schedule.id, schedule);
        this.changes.fire(undefined);
      }),
      runner.session.onDidConnect(() => this.refresh()),
    ];
    this.refresh();
  }

  get(id: string): ScheduleRecord | undefined {
    return this.schedules.get(id);
  }

  refresh(): void {
    this.loaded = false;
    this.changes.fire(undefined);
  }

  getTreeItem(id: string): vscode.TreeItem {
    const s = this.schedules.get(id);
    return s ? new ScheduleItem(s) : new vscode.TreeItem('(deleted)');
  }

  async getChildren(element?: string): Promise<string[]> {
    const conn = this.runner.connection;
    if (element !== undefined || !conn) return [];
    if (!this.loaded) {
      try {
        const list = await conn.api.listSchedules();
        this.schedules.clear();
        list.forEach((s) => this.schedules.set(s.id, s));
        this.loaded = true;
        this.view.message = undefined;
      } catch (err) {
        this.view.message = `Could not load schedules: ${messageOf(err)}`;
        return [];
      }
    }
    return (
      [...this.schedules.values()]
        // A stable order: enabling or disabling one must not move the row under the mouse.
        .sort((a, b) => a.name.localeCompare(b.name) || a.created_at.localeCompare(b.created_at))
        .map((s) => s.id)
    );
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}
