/** Commands of the Schedules view (part of the command table in commands.ts). */
import * as vscode from 'vscode';
import type { ScheduleRecord } from '@flows/protocol';
import type { Ctx } from '../ctx';
import { flowFileOf } from '../flows/flowSource';
import { follow } from '../flows/runFlow';
import { showError, UserError } from '../log';
import { askTiming, KINDS } from './createSchedule';
import { describeTiming } from './scheduleTiming';

/** The schedule a command is about: its row, or one picked from the list. */
async function scheduleFor(ctx: Ctx, arg: unknown): Promise<ScheduleRecord | undefined> {
  const conn = await ctx.runner.ensure();
  const all = await conn.api.listSchedules();
  if (typeof arg === 'string') {
    const found = all.find((s) => s.id === arg);
    if (!found) throw new UserError('That schedule no longer exists.');
    return found;
  }
  if (all.length === 0) {
    void vscode.window.showInformationMessage('There are no schedules yet: use "Schedule…" above a flow.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    all.map((s) => ({
      label: s.name,
      description: describeTiming(s),
      detail: s.enabled ? 'enabled' : 'disabled',
      s,
    })),
    { title: 'Which schedule?' },
  );
  return picked?.s;
}

const setEnabled = (enabled: boolean) => (ctx: Ctx) => async (arg?: unknown) => {
  const s = await scheduleFor(ctx, arg);
  if (!s) return;
  const conn = await ctx.runner.ensure();
  await conn.api.updateSchedule(s.id, { enabled });
};

export const scheduleCommands = {
  'flows.schedules.refresh': (ctx: Ctx) => () => ctx.schedules.refresh(),
  'flows.schedule.enable': setEnabled(true),
  'flows.schedule.disable': setEnabled(false),
  'flows.schedule.delete': (ctx: Ctx) => async (arg?: unknown) => {
    const s = await scheduleFor(ctx, arg);
    if (!s) return;
    const ok = await vscode.window.showWarningMessage(
      `Delete the schedule "${s.name}" (${describeTiming(s)})?`,
      { modal: true, detail: 'Its past runs stay in the Executions view.' },
      'Delete',
    );
    if (ok !== 'Delete') return;
    const conn = await ctx.runner.ensure();
    await conn.api.deleteSchedule(s.id);
  },
  'flows.schedule.showRuns': (ctx: Ctx) => async (arg?: unknown) => {
    const s = await scheduleFor(ctx, arg);
    if (!s) return;
    if (!s.execution_id) {
      void vscode.window.showInformationMessage(`"${s.name}" has not run yet.`);
      return;
    }
    const conn = await ctx.runner.ensure();
    await vscode.commands.executeCommand('flows.executions.focus');
    await ctx.executions.reveal(await conn.api.getExecution(s.execution_id));
  },
  'flows.schedule.runNow': (ctx: Ctx) => async (arg?: unknown) => {
    const s = await scheduleFor(ctx, arg);
    if (!s) return;
    const conn = await ctx.runner.ensure();
    const rec = await conn.api.runScheduleNow(s.id);
    await vscode.commands.executeCommand('flows.executions.focus');
    await ctx.executions.reveal(rec);
    follow(ctx, conn, rec).catch((err) => showError(err));
  },
  /** The same quick pick as creating one, for the timing only; the rest of the schedule stays. */
  'flows.schedule.edit': (ctx: Ctx) => async (arg?: unknown) => {
    const s = await scheduleFor(ctx, arg);
    if (!s) return;
    const kind = await vscode.window.showQuickPick(
      KINDS.filter((k) => k.how !== 'once'),
      { title: `Change when "${s.name}" runs (now ${describeTiming(s)})`, ignoreFocusOut: true },
    );
    if (!kind) return;
    const conn = await ctx.runner.ensure();
    const timing = await askTiming(conn, s.flow_name, kind);
    if (!timing || 'at' in timing) return;
    await conn.api.updateSchedule(s.id, timing);
  },
  'flows.schedule.openFlow': (ctx: Ctx) => async (arg?: unknown) => {
    const s = await scheduleFor(ctx, arg);
    const folder = ctx.flowsFolder();
    if (s && folder) await vscode.window.showTextDocument(vscode.Uri.file(flowFileOf(folder, s.flow_name)));
  },
};
