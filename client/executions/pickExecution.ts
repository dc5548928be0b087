/** A quick pick of recent executions, for execution commands run from the palette. */
import * as vscode from 'vscode';
import type { ExecutionRecord, ExecutionStatus } from '@flows/protocol';
import type { Ctx } from '../ctx';
import { LOAD_MORE_PREFIX } from './executionItems';
import type { ListExecutions } from '@flows/runner-client/runnerApi';
import { localTime, shortId } from './statusStyle';
import { reasonFirst } from './messageText';

export type PickFor = 'cancel' | 'pause' | 'resume' | 'attach' | 'rerun' | 'failed' | 'test' | 'any';

const QUERIES: Record<PickFor, { title: string; query: ListExecutions }> = {
  cancel: { title: 'Cancel which execution?', query: { status: notEnded() } },
  pause: { title: 'Pause which execution?', query: { status: ['QUEUED', 'RUNNING', 'BLOCKED'] } },
  resume: { title: 'Resume which execution?', query: { status: ['PAUSED'] } },
  attach: { title: 'Debug which execution?', query: { status: notEnded(), is_productive: false } },
  rerun: { title: 'Which execution?', query: { type: ['FLOW'] } },
  failed: { title: 'Go to the error of which execution?', query: { status: ['FAILED'] } },
  test: {
    title: 'Make a test of which run?',
    query: {
      type: ['FLOW'],
      parent_execution_id: 'none',
      status: ['SUCCEEDED', 'FAILED', 'STOPPED', 'INVALID', 'PARTIAL_SUCCEEDED'],
    },
  },
  any: { title: 'Which execution?', query: {} },
};

function notEnded(): ExecutionStatus[] {
  return ['CREATED', 'QUEUED', 'SCHEDULED', 'BLOCKED', 'RUNNING', 'PAUSED'];
}

/** The id a command was given: a tree row (its id) or anything with an `id`. */
export function executionId(arg: unknown): string | undefined {
  if (typeof arg === 'string' && arg && !arg.startsWith(LOAD_MORE_PREFIX)) return arg;
  if (arg && typeof arg === 'object' && typeof (arg as { id?: unknown }).id === 'string')
    return (arg as { id: string }).id;
  return undefined;
}

export async function pickExecution(ctx: Ctx, purpose: PickFor): Promise<ExecutionRecord | undefined> {
  const conn = await ctx.runner.ensure();
  const { title, query } = QUERIES[purpose];
  const { items } = await conn.api.listExecutions({ ...query, sort: '-created_at', limit: 50 });
  if (items.length === 0) {
    void vscode.window.showInformationMessage('There is no such execution right now.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    items.map((rec) => ({
      label: rec.name,
      description: `${rec.status.toLowerCase()} · ${rec.is_productive ? 'run' : 'try'} · ${localTime(rec.created_at)}`,
      detail: rec.message ? `${reasonFirst(rec.message)} — ${shortId(rec.id)}` : shortId(rec.id),
      rec,
    })),
    { title, matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.rec;
}
