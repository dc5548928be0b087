/** The filter of the Executions view, picked in one multi-select quick pick. */
import * as vscode from 'vscode';
import { EXECUTION_STATUSES, type ExecutionStatus } from '@flows/protocol';
import type { Ctx } from '../ctx';
import { listFlows } from '../flows/flowList';
import type { ExecutionFilter } from './executionModel';
import { statusIcon } from './statusStyle';

type Item = vscode.QuickPickItem & { status?: ExecutionStatus; mode?: 'run' | 'try'; flow?: string };

export async function pickFilter(ctx: Ctx, current: ExecutionFilter): Promise<ExecutionFilter | undefined> {
  const flows = await flowNames(ctx);
  const items: Item[] = [
    { label: 'Status', kind: vscode.QuickPickItemKind.Separator },
    ...EXECUTION_STATUSES.map((status) => ({
      label: status.toLowerCase(),
      iconPath: statusIcon(status),
      status,
      picked: current.statuses?.includes(status) ?? false,
    })),
    { label: 'Mode', kind: vscode.QuickPickItemKind.Separator },
    { label: 'Run', description: 'productive', mode: 'run', picked: current.mode === 'run' },
    { label: 'Try', description: 'development', mode: 'try', picked: current.mode === 'try' },
    { label: 'Flow (pick one)', kind: vscode.QuickPickItemKind.Separator },
    ...flows.map((flow) => ({
      label: flow,
      iconPath: vscode.ThemeIcon.File,
      flow,
      picked: current.flowName === flow,
    })),
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Show only executions that are…',
    placeHolder: 'Pick statuses, a mode and/or a flow; pick nothing to show all',
    canPickMany: true,
    matchOnDescription: true,
  });
  if (!picked) return undefined;
  const modes = picked.filter((i) => i.mode).map((i) => i.mode!);
  const flowsPicked = picked.filter((i) => i.flow).map((i) => i.flow!);
  return {
    statuses: picked.filter((i) => i.status).map((i) => i.status!),
    // Both modes, or none, is no filter.
    mode: modes.length === 1 ? modes[0] : undefined,
    // The runner filters by one flow; the last one picked wins.
    flowName: flowsPicked.at(-1),
  };
}

async function flowNames(ctx: Ctx): Promise<string[]> {
  const folder = ctx.flowsFolder();
  return folder ? (await listFlows(folder)).map((f) => f.name) : [];
}
