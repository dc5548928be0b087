/**
 * "Schedule…": a short quick-input sequence — how often (recurring, daily, cron, or once later),
 * the timing with a live preview of the next runs from the runner, Run or Try, and the input.
 */
import * as vscode from 'vscode';
import type { PreviewScheduleBody } from '@flows/protocol';
import type { Ctx } from '../ctx';
import { clockTime, localTime } from '../executions/statusStyle';
import { readsInputs } from '../flows/flowSource';
import { flowFile, type Mode } from '../flows/runFlow';
import { messageOf } from '../log';
import type { RunnerConnection } from '../runner/runnerService';
import { parseInterval, parseLater, parseTimeOfDay } from './scheduleTiming';

type Kind = 'interval' | 'daily' | 'cron' | 'once';
type Timing = Omit<PreviewScheduleBody, 'count'>;

export const KINDS: (vscode.QuickPickItem & { how: Kind; prompt: string; value: string })[] = [
  {
    how: 'interval',
    label: '$(history) Recurring',
    description: 'every N seconds, minutes or hours',
    prompt: 'How often? e.g. 30s, 5m, 2h',
    value: '5m',
  },
  {
    how: 'daily',
    label: '$(calendar) Daily',
    description: 'at a time of day',
    prompt: 'At what time of day (HH:MM, local time)?',
    value: '09:00',
  },
  {
    how: 'cron',
    label: '$(symbol-event) Cron',
    description: 'minute hour day month weekday',
    prompt: 'Cron expression, e.g. */15 * * * * or 0 9 * * 1-5',
    value: '0 9 * * 1-5',
  },
  {
    how: 'once',
    label: '$(watch) Once, later',
    description: 'a single run at a given time',
    prompt: 'When? e.g. in 10m, 14:30, or 2026-01-31 09:00',
    value: 'in 10m',
  },
];

const timezone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

function timingOf(kind: Exclude<Kind, 'once'>, text: string): Timing | { error: string } {
  if (kind === 'interval') {
    const r = parseInterval(text);
    return 'error' in r ? r : { kind, ...r };
  }
  if (kind === 'daily') {
    const r = parseTimeOfDay(text);
    return 'error' in r ? r : { kind, ...r, timezone: timezone() };
  }
  return text.trim()
    ? { kind, cron: text.trim(), timezone: timezone() }
    : { error: 'Write a cron expression' };
}

export async function createSchedule(ctx: Ctx, arg: unknown): Promise<void> {
  const flow = await flowFile(arg);
  const conn = await ctx.runner.ensure();
  const kind = await vscode.window.showQuickPick(KINDS, {
    title: `Schedule ${flow.flowName}`,
    placeHolder: 'How should it run?',
    ignoreFocusOut: true,
  });
  if (!kind) return;
  const timing = await askTiming(conn, flow.flowName, kind);
  if (!timing) return;
  const mode = await vscode.window.showQuickPick(
    [
      { label: '$(play) Run', description: 'productive mode', mode: 'run' as Mode },
      { label: '$(beaker) Try', description: 'development mode', mode: 'try' as Mode },
    ],
    { title: `Schedule ${flow.flowName}`, placeHolder: 'In which mode?', ignoreFocusOut: true },
  );
  if (!mode) return;
  const input = readsInputs(flow.document.getText())
    ? await ctx.inputs.ask(flow.flowName, 'Schedule', flow.document.getText())
    : undefined;

  if ('at' in timing) {
    const rec = await conn.api.createExecution({
      flow_name: flow.flowName,
      input_value: input,
      is_productive: mode.mode === 'run',
      scheduled_for: timing.at,
    });
    void ctx.executions.reveal(rec, false);
    void vscode.window.showInformationMessage(`${flow.flowName} will run at ${localTime(timing.at)}.`);
    return;
  }
  const schedule = await conn.api.createSchedule({
    ...timing,
    flow_name: flow.flowName,
    input_value: input,
    is_productive: mode.mode === 'run',
  });
  const next = schedule.next_fire_at ? `; next run ${clockTime(schedule.next_fire_at)}` : '';
  const pick = await vscode.window.showInformationMessage(
    `Scheduled ${flow.flowName}${next}.`,
    'Show Schedules',
  );
  if (pick) await vscode.commands.executeCommand('flows.schedules.focus');
}

/** The timing input box, validated and previewed by the runner as the user types. */
export function askTiming(
  conn: RunnerConnection,
  flowName: string,
  kind: (typeof KINDS)[number],
): Promise<Timing | { at: string } | undefined> {
  return new Promise((resolve) => {
    const box = vscode.window.createInputBox();
    box.title = `Schedule ${flowName}: ${kind.label.replace(/\$\([^)]*\)\s*/, '')}`;
    box.prompt = kind.prompt;
    box.value = kind.value;
    box.ignoreFocusOut = true;
    let current: Timing | { at: string } | undefined;
    let abort: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;

    const check = (text: string) => {
      abort?.abort();
      clearTimeout(timer);
      current = undefined;
      if (kind.how === 'once') {
        const r = parseLater(text);
        box.validationMessage = 'error' in r ? r.error : undefined;
        if (!('error' in r)) {
          current = { at: r.at };
          box.prompt = `${kind.prompt} — runs ${localTime(r.at)}`;
        }
        return;
      }
      const timing = timingOf(kind.how, text);
      if ('error' in timing) {
        box.validationMessage = timing.error;
        return;
      }
      box.validationMessage = undefined;
      current = timing; // Enter before the preview answers is fine; the runner checks again
      box.busy = true;
      const ac = (abort = new AbortController());
      // Ask the runner once the typing pauses: it parses cron and knows the time zones.
      timer = setTimeout(() => {
        conn.api.previewSchedule({ ...timing, count: 3 }, ac.signal).then(
          (p) => {
            if (ac.signal.aborted) return;
            box.busy = false;
            box.prompt = `${p.description} — next: ${p.next.map((t) => clockTime(t)).join(', ')}`;
          },
          (err) => {
            if (ac.signal.aborted) return;
            current = undefined;
            box.busy = false;
            box.validationMessage = messageOf(err);
          },
        );
      }, 250);
    };
    box.onDidChangeValue(check);
    box.onDidAccept(() => {
      if (!current) return; // still checking, or invalid: the message says which
      const accepted = current;
      resolve(accepted);
      box.hide();
    });
    box.onDidHide(() => {
      abort?.abort();
      clearTimeout(timer);
      resolve(undefined);
      box.dispose();
    });
    box.show();
    check(box.value);
  });
}
