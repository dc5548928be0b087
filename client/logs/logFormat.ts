/**
 * How log lines read in the "Flows: Execution Log" channel. syntaxes/flows-log.tmLanguage.json
 * colours exactly these shapes (time, level, status words), so change both together.
 */
import type { ExecutionRecord, LogLine } from '@flows/protocol';
import { reasonFirst } from '../executions/messageText';

const LEVEL_OF_STREAM: Record<LogLine['stream'], string> = {
  log: 'INFO',
  stdout: 'OUT',
  stderr: 'ERR',
  system: 'SYS',
};

/** `this.log(..., level='WARNING')` writes "[WARNING] text"; that prefix becomes the level. */
const LEVEL_PREFIX = /^\[(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\] /;

export function clock(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** One log line; `source` names the execution when the channel shows a whole tree. */
export function formatLine(line: LogLine, source?: string): string {
  let level = LEVEL_OF_STREAM[line.stream];
  let text = line.text;
  const m = line.stream === 'log' ? LEVEL_PREFIX.exec(text) : null;
  if (m) {
    level = m[1] === 'WARN' ? 'WARNING' : m[1];
    text = text.slice(m[0].length);
  }
  const prefix = `${clock(line.ts)} ${level.padEnd(7)} `;
  return `${prefix}${source ? `${source} │ ` : ''}${text.replace(/\n/g, `\n${' '.repeat(prefix.length)}`)}`;
}

/** The line written when an execution of the shown tree changes status. */
export function formatStatus(rec: ExecutionRecord, took?: string): string {
  const at = rec.ended_at ?? rec.started_at ?? rec.updated_at;
  return `${clock(at)} ${'STATUS'.padEnd(7)} ${rec.name} ${rec.status}${took ? ` in ${took}` : ''}${rec.message ? `: ${reasonFirst(rec.message)}` : ''}`;
}

/**
 * The channel's first line. No status: the channel only appends, and a status printed here would
 * go stale (PAUSED after a Resume); STATUS lines below follow the changes.
 */
export function formatHeader(rec: ExecutionRecord): string {
  const mode = rec.is_productive ? 'Run' : 'Try';
  return `━━ ${rec.name} · ${mode} · ${rec.id} ━━`;
}
