/**
 * The extension's one context: it owns the runner's lifecycle, the views, the status bar and
 * everything that must be disposed with the window. Commands get it and nothing else.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { INPUT_KEYS_REQUEST, InputKeysResult } from '@flows/protocol/languageServer';
import { registerCommands } from './commands';
import { ConfigError, readConfig, RUNNER_SETTINGS } from './config';
import { registerFlowDebugger } from './debug/flowDebugger';
import { RunErrors } from './errors/runErrors';
import { ExecutionDocuments } from './executions/executionDocuments';
import { ExecutionTree } from './executions/executionTree';
import { FlowCodeLens } from './flows/flowCodeLens';
import { FlowInputs } from './flows/flowInputs';
import { flowNameOf, isFlowSource } from './flows/flowSource';
import { feedRecordNames } from './flows/recordNames';
import { startLanguageClient } from './languageClient';
import { log, showError } from './log';
import { ExecutionLog } from './logs/executionLog';
import { MessagePrompts } from './messages/messagePrompts';
import { RunnerService } from './runner/runnerService';
import { TeamRunnerStore } from './runner/teamRunner';
import { showTeamContext } from './runner/teamRunnerCommands';
import { ScheduleTree } from './schedules/scheduleTree';
import { StatusBar } from './statusBar';
import { FlowTestController } from './testing/flowTestController';

/** The input prompt does not wait longer than this for the language server's keys. */
const INPUT_KEYS_TIMEOUT_MS = 1500;

export class Ctx {
  readonly runner: RunnerService;
  readonly executions: ExecutionTree;
  readonly schedules: ScheduleTree;
  readonly logs: ExecutionLog;
  readonly documents: ExecutionDocuments;
  readonly inputs: FlowInputs;
  readonly messages: MessagePrompts;
  readonly statusBar: StatusBar;
  readonly codeLens: FlowCodeLens;
  readonly errors: RunErrors;
  readonly tests: FlowTestController;
  languageClient: LanguageClient | undefined;

  constructor(readonly extension: vscode.ExtensionContext) {
    const subs = extension.subscriptions;
    subs.push(log);
    this.runner = new RunnerService(
      extension.extensionPath,
      new TeamRunnerStore(extension.workspaceState, extension.secrets),
    );
    this.messages = new MessagePrompts(this.runner);
    this.executions = new ExecutionTree(this.runner, this.messages);
    this.schedules = new ScheduleTree(this.runner);
    this.logs = new ExecutionLog(this.runner);
    this.documents = new ExecutionDocuments(this.runner);
    this.inputs = new FlowInputs(extension.workspaceState, (source) => this.inputKeysOf(source));
    this.statusBar = new StatusBar(this.runner);
    this.codeLens = new FlowCodeLens(() => this.flowsFolder());
    this.errors = new RunErrors(this.runner, () => this.flowsFolder());
    this.tests = new FlowTestController(extension.extensionPath, () => this.flowsFolder());
    subs.push(
      this.executions,
      this.schedules,
      this.logs,
      this.documents,
      this.messages,
      this.statusBar,
      this.errors,
      this.tests,
      vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, this.codeLens),
    );
  }

  async activate(): Promise<void> {
    const subs = this.extension.subscriptions;
    registerCommands(this);
    if (this.runner.team) showTeamContext(this.runner.team);
    subs.push(...registerFlowDebugger(this));
    subs.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.updateActiveFlow()),
      vscode.workspace.onDidSaveTextDocument(
        (d) => d === vscode.window.activeTextEditor?.document && this.updateActiveFlow(),
      ),
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigChange(e)),
      // The views show the runner's history: start it when they are first looked at.
      this.executions.view.onDidChangeVisibility((e) => e.visible && this.startRunnerQuietly()),
      this.schedules.view.onDidChangeVisibility((e) => e.visible && this.startRunnerQuietly()),
    );
    this.updateActiveFlow();
    void this.tests.discoverAll().catch((err) => showError(err, 'finding flow tests'));
    if (this.executions.view.visible || this.schedules.view.visible) this.startRunnerQuietly();
    try {
      readConfig();
    } catch (err) {
      void showError(err);
    }
    try {
      this.languageClient = await startLanguageClient(this.extension, this.flowsFolder());
      subs.push(feedRecordNames(this.runner, this.languageClient));
    } catch (err) {
      void showError(err, 'starting the language server');
    }
  }

  /** The keys a flow's source reads, from the language server; none when it is not up (yet). */
  private async inputKeysOf(source: string): Promise<InputKeysResult> {
    const client = this.languageClient;
    if (!client?.isRunning()) return [];
    // A server busy past the timeout costs the prefill, not the prompt.
    let timer: NodeJS.Timeout | undefined;
    const answer = await Promise.race([
      client.sendRequest(INPUT_KEYS_REQUEST, { text: source }).catch(() => []),
      new Promise<unknown>((resolve) => (timer = setTimeout(() => resolve([]), INPUT_KEYS_TIMEOUT_MS))),
    ]).finally(() => clearTimeout(timer));
    const parsed = InputKeysResult.safeParse(answer);
    return parsed.success ? parsed.data : [];
  }

  /** The flows folder, or undefined (a bad setting has been reported when it was read). */
  flowsFolder(): string | undefined {
    try {
      return readConfig().flowsFolder;
    } catch {
      return undefined;
    }
  }

  private startRunnerQuietly(): void {
    if (this.runner.state.kind !== 'stopped') return;
    this.runner.ensure().catch((err) => showError(err, 'starting the runner'));
  }

  /** The `flows.activeFlow` context key (editor title buttons, keybindings) and the status bar. */
  private updateActiveFlow(): void {
    const doc = vscode.window.activeTextEditor?.document;
    const folder = this.flowsFolder();
    const isFlow =
      !!doc &&
      doc.languageId === 'python' &&
      doc.uri.scheme === 'file' &&
      !!folder &&
      !!flowNameOf(folder, doc.uri.fsPath) &&
      isFlowSource(doc.getText());
    void vscode.commands.executeCommand('setContext', 'flows.activeFlow', isFlow);
    this.statusBar.setFlowOpen(isFlow);
  }

  private async onConfigChange(e: vscode.ConfigurationChangeEvent): Promise<void> {
    if (!e.affectsConfiguration('flows')) return;
    try {
      readConfig();
    } catch (err) {
      if (err instanceof ConfigError) return showError(err);
      throw err;
    }
    this.codeLens.refresh();
    this.updateActiveFlow();
    if (e.affectsConfiguration('flows.executions')) this.executions.refresh();
    if (!RUNNER_SETTINGS.some((s) => e.affectsConfiguration(s)) || this.runner.state.kind !== 'running')
      return;
    const pick = await vscode.window.showInformationMessage(
      'The flows settings changed. Restart the runner to use them? Running executions are stopped.',
      'Restart Runner',
    );
    if (pick) await this.runner.restart().catch((err) => showError(err, 'restarting the runner'));
  }

  async dispose(): Promise<void> {
    await this.runner.stop();
    this.runner.dispose();
    await this.languageClient?.stop().catch(() => undefined);
  }
}
