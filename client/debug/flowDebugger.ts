/**
 * The `flow` debug type: F5 on a flow without a launch.json, launch.json snippets, launch and
 * attach arguments checked at the boundary (with the debugger's own schemas), and the adapter run
 * inline in the extension host, connected to the runner this window manages.
 */
import * as vscode from 'vscode';
import { AttachArgs, LaunchArgs } from '@flows/debug-adapter/launchConfig';
import { DEBUGGED_EXECUTION_EVENT, DebuggedExecutionBody, isEnded } from '@flows/protocol';
import type { Ctx } from '../ctx';
import { tellEnded } from '../executions/endToast';
import { showError, UserError } from '../log';
import { flowNameOf, isFlowSource, readsInputs } from '../flows/flowSource';
import { deployBeforeRun } from '../runner/deployFlows';
import { createDebugAdapter } from './debugAdapterFactory';

export function registerFlowDebugger(ctx: Ctx): vscode.Disposable[] {
  const provider = new FlowDebugConfigurationProvider(ctx);
  return [
    vscode.debug.registerDebugConfigurationProvider('flow', provider),
    vscode.debug.registerDebugConfigurationProvider(
      'flow',
      provider,
      vscode.DebugConfigurationProviderTriggerKind.Dynamic,
    ),
    vscode.debug.registerDebugAdapterDescriptorFactory('flow', {
      createDebugAdapterDescriptor: (session) => createDebugAdapter(ctx, session),
    }),
    vscode.debug.onDidReceiveDebugSessionCustomEvent(({ session, event, body }) => {
      if (session.type !== 'flow' || event !== DEBUGGED_EXECUTION_EVENT) return;
      const parsed = DebuggedExecutionBody.safeParse(body);
      if (!parsed.success) return;
      const rec = parsed.data.execution;
      // The end of the debugged execution: told as a Run's end is, in the same words and icon.
      if (isEnded(rec.status)) tellEnded(ctx, rec).catch((err) => showError(err));
      // Run and Debug is in front while debugging: select it there once the user looks.
      else ctx.executions.revealWhenShown(rec);
    }),
  ];
}

/** Starts debugging a flow file (CodeLens "Debug", "Debug again" in the tree). */
export async function debugFlow(
  uri: vscode.Uri,
  flowName: string,
  input: unknown,
  verb: 'Debug' | 'Try' = 'Debug',
): Promise<void> {
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  const started = await vscode.debug.startDebugging(folder, {
    type: 'flow',
    request: 'launch',
    name: `${verb} ${flowName}`,
    program: uri.fsPath,
    input: input ?? {},
  });
  if (!started) throw new UserError(`The debugger did not start for ${flowName}.`);
}

class FlowDebugConfigurationProvider implements vscode.DebugConfigurationProvider {
  constructor(private readonly ctx: Ctx) {}

  /** What "Add Configuration" and the launch.json generator offer. */
  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [
      {
        type: 'flow',
        request: 'launch',
        name: 'Debug the current flow',
        program: '${file}',
        stopOnEntry: false,
      },
      {
        type: 'flow',
        request: 'attach',
        name: 'Attach to an execution',
        executionId: '${command:flows.pickExecution}',
      },
    ];
  }

  /** F5 with no launch.json: debug the flow in the active editor. */
  resolveDebugConfiguration(
    _folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): vscode.DebugConfiguration | undefined {
    if (config.type || config.request || config.name) return config;
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || doc.languageId !== 'python' || !isFlowSource(doc.getText())) {
      void vscode.window.showInformationMessage(
        'Open a flow (a .py file with "def handler(system, this)") to debug it, or add a launch configuration.',
      );
      return undefined;
    }
    return { type: 'flow', request: 'launch', name: 'Debug the current flow', program: doc.uri.fsPath };
  }

  /** Checks the arguments, asks for the input when needed, and points the adapter at our runner. */
  async resolveDebugConfigurationWithSubstitutedVariables(
    _folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): Promise<vscode.DebugConfiguration | undefined> {
    const schema = config.request === 'attach' ? AttachArgs : LaunchArgs;
    // Attach requires a runner address; ours is filled in below, so check without that rule.
    const given =
      config.request === 'attach' ? { runnerUrl: 'http://127.0.0.1:1', runnerToken: 'x', ...config } : config;
    const parsed = schema.safeParse(given);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `"${issue.path.join('.')}"` : 'the configuration';
      throw new UserError(`Launch configuration "${config.name}": ${where} ${issue?.message}.`, [
        { title: 'Open launch.json', run: () => vscode.commands.executeCommand('debug.configureLaunch') },
      ]);
    }
    const resolved: vscode.DebugConfiguration = { ...config };
    const folder = this.ctx.flowsFolder();
    if (config.request === 'launch') {
      const program = String(config.program);
      const flowName = folder ? flowNameOf(folder, program) : undefined;
      if (config.input === undefined && flowName) {
        const doc = await vscode.workspace.openTextDocument(program);
        if (doc.isDirty) await doc.save();
        if (readsInputs(doc.getText())) {
          const input = await this.ctx.inputs.ask(flowName, 'Debug', doc.getText());
          if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input)))
            throw new UserError('The input of a debugged flow must be a JSON object, like {"order_id": 7}.');
          resolved.input = input ?? {};
        }
      }
    }
    // No runner named in launch.json: the adapter gets the one this window manages (started now),
    // through its constructor rather than the configuration, so the token stays out of it.
    if (!resolved.runnerUrl) {
      const conn = await this.ctx.runner.ensure();
      // A launch on a team runner runs the deployed flow: this folder's changed flows go first.
      if (config.request === 'launch') await deployBeforeRun(this.ctx, conn);
    }
    return resolved;
  }
}
