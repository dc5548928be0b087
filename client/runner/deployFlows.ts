/**
 * Flows as flow records on a team runner: "Flows: Deploy Folder to Team Runner", and the deploy
 * Run and Try do first when this workspace is connected to a team runner, so that the runner's
 * nodes run this folder's flows without a copy of it. The bundled runner reads the folder itself
 * and gets nothing deployed.
 */
import * as vscode from 'vscode';
import { isFlowSource } from '@flows/protocol';
import { deployFlows, deploySummary, type LocalFlow } from '@flows/runner-client/flowDeploy';
import type { DeployResult } from '@flows/protocol';
import type { Ctx } from '../ctx';
import { listFlows } from '../flows/flowList';
import { log, messageOf, UserError } from '../log';
import type { RunnerConnection } from './runnerService';

/** Python files looked at in a folder (flows and the modules beside them). */
const MAX_FILES = 10_000;

/**
 * The folder's flows as the editor finds them (flowList.ts), with their source as saved: what
 * the bundled runner would run (Run saves the flow it runs first).
 */
export async function folderFlows(folder: string): Promise<LocalFlow[]> {
  const files = await listFlows(folder, MAX_FILES);
  const decoder = new TextDecoder();
  const flows: LocalFlow[] = [];
  for (const f of files) {
    const source = decoder.decode(await vscode.workspace.fs.readFile(f.uri));
    if (isFlowSource(source)) flows.push({ name: f.name, source });
  }
  return flows;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** "Flows: Deploy Folder to Team Runner": every flow of the folder, reported as deployed/unchanged. */
export async function deployFolder(ctx: Ctx): Promise<void> {
  const conn = await ctx.runner.ensure();
  if (conn.kind !== 'team') {
    throw new UserError('Deploying is for a team runner: the bundled runner runs the folder as it is.', [
      {
        title: 'Connect to a Team Runner…',
        run: () => vscode.commands.executeCommand('flows.connectTeamRunner'),
      },
    ]);
  }
  const folder = ctx.flowsFolder();
  if (!folder) throw new UserError('Open a folder of flows to deploy it.');
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Deploying flows to ${hostOf(conn.url)}…` },
    async () => {
      const flows = await folderFlows(folder);
      if (flows.length === 0)
        throw new UserError(`There are no flows (.py files with def handler) in ${folder}.`);
      return deployTo(conn, flows);
    },
  );
  void vscode.window.showInformationMessage(`${deploySummary(result)} to ${hostOf(conn.url)}.`);
}

/**
 * Run and Try on a team runner deploy first: which flows a run calls is known only as it runs
 * (`this.flow(name)` may compute the name), so every flow of the folder whose source the runner
 * does not have goes, in one transaction; the rest are compared by hash and not sent. Nothing
 * on any other runner.
 */
export async function deployBeforeRun(ctx: Ctx, conn: RunnerConnection): Promise<void> {
  if (conn.kind !== 'team') return;
  const folder = ctx.flowsFolder();
  if (!folder) return;
  const result = await deployTo(conn, await folderFlows(folder));
  if (result.deployed.length)
    log.info(`${deploySummary(result)} to ${conn.url}: ${result.deployed.join(', ')}`);
}

async function deployTo(conn: RunnerConnection, flows: LocalFlow[]): Promise<DeployResult> {
  try {
    return await deployFlows(conn.api, flows);
  } catch (err) {
    throw new UserError(`The flows could not be deployed to ${hostOf(conn.url)}: ${messageOf(err)}`);
  }
}
