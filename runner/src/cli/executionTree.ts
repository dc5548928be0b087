/**
 * Text rendering of an execution tree for the terminal: status, name, duration, message, output
 * and log lines of every execution, children indented under their parent.
 */
import type { ExecutionRecord, ExecutionStatus, LogLine } from '@flows/protocol';

const ICONS: Record<ExecutionStatus, string> = {
  CREATED: '○',
  QUEUED: '…',
  SCHEDULED: '◷',
  BLOCKED: '⧗',
  RUNNING: '▶',
  PAUSED: '⏸',
  SUCCEEDED: '✔',
  FAILED: '✖',
  STOPPED: '■',
  INVALID: '⚠',
  PARTIAL_SUCCEEDED: '◐',
};

const COLORS: Partial<Record<ExecutionStatus, number>> = {
  SUCCEEDED: 32,
  FAILED: 31,
  INVALID: 31,
  STOPPED: 33,
  PARTIAL_SUCCEEDED: 33,
  RUNNING: 36,
  BLOCKED: 36,
  PAUSED: 35,
};

export function duration(rec: ExecutionRecord): string {
  if (!rec.started_at) return '';
  const ms = Date.parse(rec.ended_at ?? new Date().toISOString()) - Date.parse(rec.started_at);
  return ms < 1000
    ? `${ms} ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(2)} s`
      : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function renderTree(
  records: ExecutionRecord[],
  logs: Map<string, LogLine[]>,
  opts: { color: boolean; rootId: string },
): string {
  const paint = (code: number | undefined, s: string) =>
    opts.color && code ? `\x1b[${code}m${s}\x1b[0m` : s;
  const dim = (s: string) => (opts.color ? `\x1b[2m${s}\x1b[0m` : s);
  const children = new Map<string, ExecutionRecord[]>();
  for (const r of records) {
    if (!r.parent_execution_id) continue;
    const list = children.get(r.parent_execution_id) ?? [];
    list.push(r);
    children.set(r.parent_execution_id, list);
  }
  const out: string[] = [];
  const visit = (r: ExecutionRecord, prefix: string, last: boolean, root: boolean) => {
    const branch = root ? '' : last ? '└─ ' : '├─ ';
    const status = paint(COLORS[r.status], `${ICONS[r.status]} ${r.status}`);
    const kind = r.type === 'FLOW' ? '' : dim(` [${r.type}]`);
    const took = duration(r);
    out.push(
      `${prefix}${branch}${status} ${r.name}${kind}${took ? dim(`  ${took}`) : ''}  ${dim(r.id.slice(0, 8))}`,
    );
    const inner = root ? '   ' : `${prefix}${last ? '   ' : '│  '}`;
    if (r.message) out.push(`${inner}${dim('message:')} ${r.message}`);
    if (r.output_value !== null && r.output_value !== undefined) {
      const text = JSON.stringify(r.output_value);
      out.push(`${inner}${dim('output:')}  ${text.length > 400 ? `${text.slice(0, 400)}…` : text}`);
    }
    for (const l of logs.get(r.id) ?? []) {
      out.push(`${inner}${dim(`${l.ts.slice(11, 23)} ${l.stream.padEnd(6)}`)} ${l.text}`);
    }
    const kids = (children.get(r.id) ?? []).sort((a, b) => a.created_at.localeCompare(b.created_at));
    kids.forEach((k, i) => visit(k, root ? '' : inner, i === kids.length - 1, false));
  };
  const root = records.find((r) => r.id === opts.rootId);
  if (root) visit(root, '', true, true);
  return out.join('\n');
}

/**
 * Where an ended tree's records and logs come from: the embedded engine, or the REST API of the
 * runner that serves the data folder. Both print the same, so `flows run` reads the same either way.
 */
export interface TreeSource {
  /** Every execution with this top id (the top one included). */
  records(topId: string, limit: number): Promise<ExecutionRecord[]>;
  log(executionId: string, limit: number): Promise<LogLine[]>;
}

/** Prints the ended tree as text (or the --json document) and returns `flows run`'s exit code. */
export async function printTree(source: TreeSource, topId: string, json: boolean): Promise<number> {
  // The whole tree is here, so a list's has_children hint says nothing more (and an embedded
  // runner's records have none): the document is the same from either.
  const items = (await source.records(topId, 1000)).map(({ has_children: _h, ...r }) => r);
  const logs = new Map<string, LogLine[]>();
  for (const r of items) logs.set(r.id, await source.log(r.id, 10_000));
  const root = items.find((r) => r.id === topId);
  if (!root) throw new Error(`execution ${topId} is missing from its own tree`);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ execution: root, tree: items, logs: Object.fromEntries(logs) }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(
      `${renderTree(items, logs, { color: process.stdout.isTTY === true, rootId: topId })}\n`,
    );
  }
  return root.status === 'SUCCEEDED' ? 0 : 1;
}
