/**
 * The toast that tells how an execution the user started ended — the same for a Run, a Try, a
 * schedule's Run Now and a debug session: "order-pipeline failed in 2.1 s: KeyError: …", with
 * the icon of its status and Go to Error / Show Log / Show Output.
 */
import * as vscode from 'vscode';
import type { ExecutionRecord } from '@flows/protocol';
import type { Ctx } from '../ctx';
import { reasonFirst } from './messageText';
import { elapsed, formatDuration, localizeTimes, statusVerb } from './statusStyle';

/**
 * Executions whose end was told, newest last: a Try that a notification follows and the debugger
 * attached to is told once, not twice.
 */
const told = new Set<string>();
const REMEMBERED = 200;

export async function tellEnded(ctx: Ctx, ended: ExecutionRecord): Promise<void> {
  if (told.has(ended.id)) return;
  told.add(ended.id);
  for (const old of told) {
    if (told.size <= REMEMBERED) break;
    told.delete(old);
  }
  const took = elapsed(ended);
  const why = ended.message ? `: ${reasonFirst(localizeTimes(ended.message))}` : '';
  // An invalid flow never ran: "broken could not start: …", not "broken invalid in 9 ms".
  const summary =
    ended.status === 'INVALID'
      ? `${ended.name} could not start${why}`
      : `${ended.name} ${statusVerb(ended.status)}${took === undefined ? '' : ` in ${formatDuration(took)}`}${why}`;
  // A failed run has no output worth opening: its log (with the traceback) comes first.
  const located = ended.status === 'FAILED' && (await ctx.errors.locate(ended)) !== undefined;
  const actions =
    ended.status === 'SUCCEEDED'
      ? ['Show Output', 'Show Log']
      : [
          ...(located ? ['Go to Error'] : []),
          'Show Log',
          ...(ended.output_value != null ? ['Show Output'] : []),
        ];
  const show =
    ended.status === 'SUCCEEDED'
      ? vscode.window.showInformationMessage
      : ended.status === 'STOPPED'
        ? vscode.window.showWarningMessage
        : vscode.window.showErrorMessage;
  const picked = await show(summary, ...actions);
  if (picked === 'Show Output') await ctx.documents.show(ended.id, 'output');
  if (picked === 'Show Log') await ctx.logs.show(ended.id);
  if (picked === 'Go to Error') await ctx.errors.goToError(ended);
}
