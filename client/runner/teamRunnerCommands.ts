/** The commands of teamRunner.ts: connect this workspace to a team runner, and back. */
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { askTeamRunner, checkTeamRunner, type TeamRunner, type TeamRunnerStore } from './teamRunner';

/** The `flows.teamRunner` context key: whether "Disconnect from the Team Runner" applies. */
export function showTeamContext(store: TeamRunnerStore): void {
  void vscode.commands.executeCommand('setContext', 'flows.teamRunner', store.url !== undefined);
}

function storeOf(ctx: Ctx): TeamRunnerStore {
  const store = ctx.runner.team;
  if (!store) throw new Error('no team runner store');
  return store;
}

/** Asks (or takes) URL and token, checks them on the runner, keeps them, and switches to it. */
export async function connectTeamRunner(ctx: Ctx, given?: Partial<TeamRunner>): Promise<void> {
  const store = storeOf(ctx);
  const team = await askTeamRunner(store.url, given);
  if (!team) return;
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Connecting to ${team.url}…` },
    () => checkTeamRunner(team),
  );
  const running = ctx.runner.executions.inProgressCount;
  if (running > 0 && ctx.runner.connection?.kind === 'bundled') {
    const pick = await vscode.window.showWarningMessage(
      `${running} execution(s) run on the bundled runner. Switching to the team runner stops them.`,
      { modal: true },
      'Stop Them and Connect',
    );
    if (!pick) return;
  }
  await store.set(team);
  showTeamContext(store);
  await ctx.runner.restart();
  // Short enough to read in a toast; where the token is kept, the token prompt said.
  void vscode.window.showInformationMessage(`Connected to the team runner at ${team.url}.`);
}

/** Forgets the team runner (URL and token) and goes back to the bundled runner. */
export async function disconnectTeamRunner(ctx: Ctx): Promise<void> {
  const store = storeOf(ctx);
  const url = store.url;
  if (!url) {
    void vscode.window.showInformationMessage('This workspace is not connected to a team runner.');
    return;
  }
  await store.clear();
  showTeamContext(store);
  await ctx.runner.restart();
  void vscode.window.showInformationMessage(
    `Disconnected from ${url}: this workspace uses the bundled runner.`,
  );
}
