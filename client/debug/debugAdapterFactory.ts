/**
 * The debug adapter runs inline in the extension host (no extra process): a FlowDebugSession
 * talking to the runner this window manages, unless launch.json names another one.
 */
import * as vscode from 'vscode';
import { FlowDebugSession } from '@flows/debug-adapter/flowDebugSession';
import type { Ctx } from '../ctx';
import { log } from '../log';

export async function createDebugAdapter(
  ctx: Ctx,
  session: vscode.DebugSession,
): Promise<vscode.DebugAdapterDescriptor> {
  const named = typeof session.configuration.runnerUrl === 'string';
  const conn = named ? undefined : await ctx.runner.ensure();
  return new vscode.DebugAdapterInlineImplementation(
    new FlowDebugSession({
      runnerUrl: conn?.url,
      runnerToken: conn?.token,
      log: (msg) => log.info(`[debug] ${msg}`),
    }),
  );
}
