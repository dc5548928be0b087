/**
 * The rows of the Executions view. `contextValue` carries what a row allows as words
 * (`cancellable`, `pausable`, …) so menus in package.json match with `viewItem =~ /\bword\b/`.
 */
import * as vscode from 'vscode';
import { isEnded, type ExecutionRecord } from '@flows/protocol';
import {
  elapsed,
  formatDuration,
  localizeTimes,
  localTime,
  modeName,
  statusIcon,
  statusVerb,
} from './statusStyle';
import { reasonFirst } from './messageText';

/** Elements of the view are strings (stable as map keys): an execution id, or one of these. */
export const LOAD_MORE_PREFIX = 'more:';
export const loadMoreId = (parentId: string | undefined) => `${LOAD_MORE_PREFIX}${parentId ?? ''}`;

const MAX_MESSAGE = 80;
/** Statuses whose row counts the time since the start ("running 12 s"). */
const IN_PROGRESS = new Set(['RUNNING', 'BLOCKED', 'PAUSED']);

export class ExecutionItem extends vscode.TreeItem {
  constructor(
    rec: ExecutionRecord,
    collapsible: vscode.TreeItemCollapsibleState,
    waitsForAnswer = false,
    now = Date.now(),
  ) {
    super(rec.name, collapsible);
    this.id = rec.id;
    this.iconPath = statusIcon(rec.status);
    this.description = describe(rec, now);
    this.tooltip = tooltip(rec);
    this.contextValue = contextWords(rec, waitsForAnswer).join(' ');
    this.accessibilityInformation = { label: `${rec.name}, ${statusVerb(rec.status)}, ${this.description}` };
    // Opens the flow where the execution ended (where it broke, when it failed): a preview that
    // keeps the focus in the tree, as a click in the Problems panel does. Without arguments: VS
    // Code runs a tree item's command with arguments through a cache that each redraw of the
    // row clears, so a click on a row that ticks ("running 12 s") failed with "Actual command
    // not found". The command reads the clicked row from the view's selection instead.
    if (rec.flow_name) this.command = { title: 'Open', command: 'flows.execution.open' };
  }
}

function describe(rec: ExecutionRecord, now: number): string {
  const parts: string[] = [];
  // Children inherit the mode: saying "try" once, on the top row, is enough.
  if (!rec.is_productive && rec.parent_execution_id === null) parts.push('try');
  const ms = elapsed(rec, now);
  if (isEnded(rec.status)) {
    if (ms !== undefined) parts.push(formatDuration(ms));
  } else if (IN_PROGRESS.has(rec.status) && ms !== undefined) {
    parts.push(`${statusVerb(rec.status)} ${formatDuration(ms)}`);
  } else if (rec.status === 'SCHEDULED' && rec.scheduled_for) {
    parts.push(`${statusVerb(rec.status)} for ${localTime(rec.scheduled_for)}`);
  } else {
    parts.push(statusVerb(rec.status));
  }
  if (rec.message) {
    const line = reasonFirst(localizeTimes(rec.message.split('\n')[0]));
    parts.push(line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 1)}…` : line);
  }
  return parts.join(' · ');
}

function tooltip(rec: ExecutionRecord): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`$(${statusIcon(rec.status).id}) **${escape(rec.name)}** — ${rec.status}\n\n`);
  const rows: [string, string | null | undefined][] = [
    ['id', rec.id],
    ['type', rec.type],
    ['mode', `${modeName(rec)} (${rec.is_productive ? 'productive' : 'development'})`],
    ['flow', rec.flow_name],
    ['connector', rec.connector_type],
    ['parent', rec.parent_execution_id],
    ['top', rec.top_execution_id !== rec.id ? rec.top_execution_id : null],
    ['schedule', rec.schedule_id],
    // A team runner's executions are everybody's: whose is this one (on a runner of one's
    // own, "local" every time, it would say nothing).
    ['started by', rec.started_by !== 'local' ? rec.started_by : null],
    ['priority', rec.priority ? String(rec.priority) : null],
    ['scheduled for', rec.scheduled_for && localTime(rec.scheduled_for)],
    ['created', localTime(rec.created_at)],
    ['started', rec.started_at && localTime(rec.started_at)],
    ['ended', rec.ended_at && localTime(rec.ended_at)],
  ];
  md.appendMarkdown(
    rows
      .filter(([, v]) => v)
      .map(([k, v]) => `${k}: \`${v}\``)
      .join('  \n'),
  );
  if (rec.message) md.appendMarkdown(`\n\n---\n\n`).appendText(reasonFirst(localizeTimes(rec.message)));
  return md;
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

/** What the row's context menu may offer. */
export function contextWords(rec: ExecutionRecord, waitsForAnswer = false): string[] {
  const words = ['execution', rec.status.toLowerCase(), rec.type.toLowerCase()];
  const ended = isEnded(rec.status);
  if (!ended) words.push('cancellable');
  if (rec.status === 'RUNNING' || rec.status === 'BLOCKED' || rec.status === 'QUEUED') words.push('pausable');
  if (rec.status === 'PAUSED') words.push('resumable');
  if (rec.flow_name) words.push('hasFlow');
  if (rec.flow_name && rec.type === 'FLOW') words.push('rerunnable');
  if (ended) words.push('ended');
  if (rec.parent_execution_id === null) words.push('topLevel');
  if (!ended && !rec.is_productive) words.push('debuggable');
  if (!ended && waitsForAnswer) words.push('answerable');
  return words;
}

export class LoadMoreItem extends vscode.TreeItem {
  constructor(parentId: string | undefined, more: number) {
    super('Load more…', vscode.TreeItemCollapsibleState.None);
    this.id = loadMoreId(parentId);
    this.description = `${more} not shown yet`;
    this.iconPath = new vscode.ThemeIcon('ellipsis');
    this.contextValue = 'loadMore';
    // No arguments, as for ExecutionItem: the row redraws as children arrive.
    this.command = { title: 'Load More', command: 'flows.executions.loadMore' };
  }
}
