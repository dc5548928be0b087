/** How statuses look everywhere in the extension: icon, colour, wording, durations. */
import * as vscode from 'vscode';
import { isEnded, type ExecutionRecord, type ExecutionStatus } from '@flows/protocol';

const style: Record<ExecutionStatus, { icon: string; color?: string; verb: string }> = {
  CREATED: { icon: 'circle-outline', verb: 'created' },
  QUEUED: { icon: 'clock', color: 'charts.blue', verb: 'queued' },
  SCHEDULED: { icon: 'calendar', color: 'charts.blue', verb: 'scheduled' },
  BLOCKED: { icon: 'loading~spin', color: 'charts.yellow', verb: 'waiting' },
  RUNNING: { icon: 'sync~spin', color: 'charts.blue', verb: 'running' },
  PAUSED: { icon: 'debug-pause', color: 'charts.yellow', verb: 'paused' },
  SUCCEEDED: { icon: 'pass', color: 'testing.iconPassed', verb: 'succeeded' },
  FAILED: { icon: 'error', color: 'testing.iconFailed', verb: 'failed' },
  STOPPED: { icon: 'circle-slash', color: 'disabledForeground', verb: 'stopped' },
  INVALID: { icon: 'warning', color: 'list.warningForeground', verb: 'invalid' },
  PARTIAL_SUCCEEDED: { icon: 'pass', color: 'list.warningForeground', verb: 'partly succeeded' },
};

export function statusIcon(status: ExecutionStatus): vscode.ThemeIcon {
  const s = style[status];
  return new vscode.ThemeIcon(s.icon, s.color ? new vscode.ThemeColor(s.color) : undefined);
}

export function statusVerb(status: ExecutionStatus): string {
  return style[status].verb;
}

/** 412 ms, 3.4 s, 2 min 5 s, 1 h 3 min. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** How long it ran (ended) or has been running (not ended); undefined before it started. */
export function elapsed(rec: ExecutionRecord, now = Date.now()): number | undefined {
  if (!rec.started_at) return undefined;
  const end = rec.ended_at
    ? Date.parse(rec.ended_at)
    : isEnded(rec.status)
      ? Date.parse(rec.updated_at)
      : now;
  return end - Date.parse(rec.started_at);
}

export function modeName(rec: ExecutionRecord): 'Run' | 'Try' {
  return rec.is_productive ? 'Run' : 'Try';
}

/** Local time of an ISO timestamp, with the date only when it is not today. */
/** ISO times in a runner's message ("next run 2026-12-07T09:00:00.000Z") in local time. */
export function localizeTimes(text: string): string {
  return text.replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)\b/g, (iso) =>
    localTime(iso),
  );
}

export function localTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

/** A fire time of a schedule: "09:05", with the date when it is not today. */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  const opts: Intl.DateTimeFormatOptions = { hour: 'numeric', minute: '2-digit' };
  if (d.getSeconds() !== 0) opts.second = '2-digit';
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], opts)
    : `${d.toLocaleDateString()} ${d.toLocaleTimeString([], opts)}`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
