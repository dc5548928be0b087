/**
 * Run and Try: start a flow on the runner, show it in the Executions view, follow it in a
 * cancellable progress notification, then tell how it ended with "Show Output" / "Show Log".
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isEnded, type ExecutionRecord } from '@flows/protocol';
import type { Ctx } from '../ctx';
import { readConfig } from '../config';
import { openSettings, showError, UserError } from '../log';
import { deployBeforeRun } from '../runner/deployFlows';
import type { RunnerConnection } from '../runner/runnerService';
import { debugFlow } from '../debug/flowDebugger';
import { tellEnded } from '../executions/endToast';
import { statusVerb } from '../executions/statusStyle';
import { pickFlow } from './flowList';
import { flowNameOf, isFlowSource, readsInputs } from './flowSource';

/** How long a run goes before its progress notification shows (see follow). */
const PROGRESS_AFTER_MS = 700;

export type Mode = 'run' | 'try';

export interface FlowFile {
  uri: vscode.Uri;
  flowName: string;
  document: vscode.TextDocument;
}

/**
 * The flow a command is about: the given file (CodeLens, explorer, editor title), the active
 * editor's, or one picked from the flows folder.
 */
export async function flowFile(arg: unknown, title = 'Flows'): Promise<FlowFile> {
  const folder = readConfig().flowsFolder;
  const active = vscode.window.activeTextEditor?.document;
  const uri =
    arg instanceof vscode.Uri
      ? arg
      : active?.languageId === 'python' && isFlowSource(active.getText())
        ? active.uri
        : folder && (await pickFlow(folder, title));
  if (!uri) throw new vscode.CancellationError();
  const document = await vscode.workspace.openTextDocument(uri);
  const flowName = folder ? flowNameOf(folder, uri.fsPath) : undefined;
  if (!flowName) {
    throw new UserError(
      `${vscode.workspace.asRelativePath(uri)} is not in the flows folder${folder ? ` (${folder})` : ''}.`,
      [openSettings('flows.flowsFolder')],
    );
  }
  // The runner reads the file from disk.
  if (document.isDirty) await document.save();
  return { uri, flowName, document };
}

/** Run or Try the flow of `arg`, asking for input when the flow reads one. */
export async function runFlowFile(ctx: Ctx, arg: unknown, mode: Mode): Promise<void> {
  const flow = await flowFile(arg, mode === 'run' ? 'Run Flow' : 'Try Flow');
  const input = readsInputs(flow.document.getText())
    ? await ctx.inputs.ask(flow.flowName, mode === 'run' ? 'Run' : 'Try', flow.document.getText())
    : undefined;
  // A Try runs in development mode, where breakpoints stop: with any set in the flows folder,
  // it runs under the debugger (no launch.json needed). A Run never stops.
  const folder = ctx.flowsFolder();
  if (mode === 'try' && folder && hasBreakpointsIn(folder)) {
    // Run and Debug in front, as F5 does: the Executions view selects the run once shown.
    await vscode.commands.executeCommand('workbench.view.debug');
    await debugFlow(flow.uri, flow.flowName, input, 'Try');
    return;
  }
  await startFlow(ctx, flow.flowName, input, mode);
}

/** Whether an enabled breakpoint is set in a file of `folder` (the flow or a module it imports). */
function hasBreakpointsIn(folder: string): boolean {
  const inside = path.join(path.resolve(folder), path.sep);
  return vscode.debug.breakpoints.some(
    (b) => b.enabled && b instanceof vscode.SourceBreakpoint && b.location.uri.fsPath.startsWith(inside),
  );
}

/** Starts `flowName` and follows it until it ends (in the background of the notification). */
export async function startFlow(
  ctx: Ctx,
  flowName: string,
  input: unknown,
  mode: Mode,
): Promise<ExecutionRecord> {
  const conn = await ctx.runner.ensure();
  // A team runner runs deployed flows: this folder's changed ones go first (deployFlows.ts).
  await deployBeforeRun(ctx, conn);
  const rec = await conn.api.createExecution({
    flow_name: flowName,
    input_value: input,
    is_productive: mode === 'run',
  });
  void ctx.executions.reveal(rec);
  follow(ctx, conn, rec).catch((err) => showError(err));
  return rec;
}

/**
 * Follows an execution that was just started (a run, a schedule's run-now): progress in a
 * notification that can cancel it, then its end as a toast (the one a debugged run ends with too).
 *
 * The progress notification comes only once the run has taken PROGRESS_AFTER_MS: a run that ends
 * in 30 ms gets its end toast alone. Besides the flash, VS Code drops toasts past three within
 * 800 ms (its spam protection) into the notification center, and two quick runs with a progress
 * and an end notification each lost the second end toast that way (seen in the e2e suite).
 */
export async function follow(ctx: Ctx, conn: RunnerConnection, started: ExecutionRecord): Promise<void> {
  const title = `${started.is_productive ? 'Running' : 'Trying'} ${started.name}`;
  let latest = started;
  // One wait for the end; the progress notification, once shown, hears its changes too.
  let report = (_rec: ExecutionRecord): void => undefined;
  const end = waitForEnd(ctx, conn, started, (rec) => {
    latest = rec;
    report(rec);
  });
  let timer: NodeJS.Timeout | undefined;
  const quick = await Promise.race([
    end,
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), PROGRESS_AFTER_MS))),
  ]).finally(() => clearTimeout(timer));
  const ended =
    quick ??
    (await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      (progress, token) => {
        token.onCancellationRequested(() => {
          conn.api.act(started.id, 'cancel').catch(() => undefined);
        });
        report = (rec) => progress.report({ message: statusVerb(rec.status) });
        report(latest);
        return end;
      },
    ));
  await tellEnded(ctx, ended);
}

/**
 * Resolves with the execution's final record, reporting each change on the way; rejects when the
 * runner goes away first.
 */
export function waitForEnd(
  ctx: Ctx,
  conn: RunnerConnection,
  rec: ExecutionRecord,
  onChange: (rec: ExecutionRecord) => void = () => undefined,
): Promise<ExecutionRecord> {
  return new Promise((resolve, reject) => {
    const subs: vscode.Disposable[] = [];
    let done = false;
    const finish = (end: () => void) => {
      done = true;
      subs.forEach((s) => s.dispose());
      end();
    };
    const cache = ctx.runner.executions;
    const seen = (r: ExecutionRecord) => {
      if (done || r.id !== rec.id) return;
      onChange(r);
      if (isEnded(r.status)) finish(() => resolve(r));
    };
    // A REST answer goes through the cache: it is told only when it is not older than an event.
    const fetched = (r: ExecutionRecord) => cache.put(r) && seen(r);
    subs.push(
      ctx.runner.onDidChangeState(() => {
        if (!done && ctx.runner.connection !== conn)
          finish(() => reject(new UserError(`The runner stopped while ${rec.name} was running.`)));
      }),
      cache.onDidChange(({ record }) => seen(record)),
      // It may have ended before we listened, or while the connection was down.
      ctx.runner.session.onDidConnect(
        () => void conn.api.getExecution(rec.id).then(fetched, () => undefined),
      ),
    );
    // Its end may have been told before anyone listened: the cache has it then.
    const known = cache.get(rec.id);
    if (known) seen(known);
    void conn.api.getExecution(rec.id).then(fetched, () => undefined);
  });
}
