/**
 * The runner's lifecycle: start the bundled runner (or connect to the configured external one)
 * when something first needs it, restart it after a crash, stop it with the window. Everything
 * else asks `ensure()` for a connection and never sees processes.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readConfig } from '../config';
import { log, openOutput, openSettings, UserError } from '../log';
import { lockOwner, ownerConnection } from '@flows/runner-client/discovery';
import { startLocalRunner, RunnerStartError, type StartedRunner } from '@flows/runner-client/localRunner';
import { findInterpreter, selectInterpreter } from './pythonInterpreter';
import { RunnerApi } from '@flows/runner-client/runnerApi';
import { RunnerSocket } from '@flows/runner-client/runnerSocket';
import { ExecutionCache } from '../executions/executionCache';
import { RunnerSession } from './runnerSession';
import { checkTeamRunner, type TeamRunnerStore } from './teamRunner';

export interface RunnerConnection {
  /** external: flows.runner.url in settings; team: "Connect to a Team Runner…" (teamRunner.ts). */
  kind: 'bundled' | 'external' | 'team';
  /** An external runner that owns this workspace's data folder: another window's, or a `flows serve`. */
  sharedPid?: number;
  url: string;
  token: string;
  api: RunnerApi;
  /** Its WebSocket, reconnecting until closed; views listen through RunnerService.session. */
  events: RunnerSocket;
}

export type RunnerState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'running'; connection: RunnerConnection }
  | { kind: 'failed'; message: string };

/** How often the owner of a shared runner's folder is looked at while its connection is down. */
const SHARED_CHECK_MS = 250;
/** How long a runner that won the race for the folder may take to publish its address. */
const OWNER_ADDRESS_WAIT_MS = 10_000;

/** Crashes within this window count together; more than MAX_RESTARTS and we stop trying. */
const CRASH_WINDOW_MS = 60_000;
const MAX_RESTARTS = 3;

export class RunnerService implements vscode.Disposable {
  private current: RunnerState = { kind: 'stopped' };
  private starting: Promise<RunnerConnection> | undefined;
  private process: StartedRunner | undefined;
  private crashes: number[] = [];
  /** While a shared runner's connection is down: the timer that looks at its folder's owner. */
  private sharedCheck: NodeJS.Timeout | undefined;
  private readonly stateEmitter = new vscode.EventEmitter<RunnerState>();
  readonly onDidChangeState = this.stateEmitter.event;
  /** The runner's events, whichever runner it is: views subscribe here once. */
  readonly session = new RunnerSession();
  /** What the window knows of executions, from the session's events and REST answers. */
  readonly executions = new ExecutionCache(this.session);

  constructor(
    private readonly extensionPath: string,
    /** The team runner this workspace connected to, if any (none in tests that do not need it). */
    readonly team?: TeamRunnerStore,
  ) {}

  get state(): RunnerState {
    return this.current;
  }

  get connection(): RunnerConnection | undefined {
    return this.current.kind === 'running' ? this.current.connection : undefined;
  }

  private setState(state: RunnerState): void {
    this.current = state;
    this.session.use(state.kind === 'running' ? state.connection : undefined);
    if (state.kind !== 'running') this.executions.clearInProgress();
    this.stateEmitter.fire(state);
  }

  /** The running runner, started (or connected to) now if it is not yet. */
  ensure(): Promise<RunnerConnection> {
    if (this.current.kind === 'running') return Promise.resolve(this.current.connection);
    return (this.starting ??= this.start().finally(() => (this.starting = undefined)));
  }

  private async start(): Promise<RunnerConnection> {
    this.setState({ kind: 'starting' });
    try {
      const connection = await this.connect();
      this.setState({ kind: 'running', connection });
      return connection;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.setState({ kind: 'failed', message });
      throw err;
    }
  }

  private async connect(): Promise<RunnerConnection> {
    const config = readConfig();
    if (config.runnerUrl) {
      if (!config.runnerToken) {
        throw new UserError(
          'flows.runner.url is set but flows.runner.token is empty: give the token of that runner (its <data>/runner.token file).',
          [openSettings('flows.runner.token')],
        );
      }
      const api = new RunnerApi(config.runnerUrl, config.runnerToken);
      await api.listExecutions({ limit: 1 }).catch((err: Error) => {
        throw new UserError(`Cannot use the runner at ${config.runnerUrl}: ${err.message}`, [
          openSettings('flows.runner.url'),
        ]);
      });
      log.info(`using the external runner at ${config.runnerUrl}`);
      return this.connectionTo('external', config.runnerUrl, config.runnerToken);
    }

    const team = await this.team?.get();
    if (team) {
      const reconnect = {
        title: 'Connect to a Team Runner…',
        run: () => vscode.commands.executeCommand('flows.connectTeamRunner'),
      };
      const disconnect = {
        title: 'Use the Bundled Runner',
        run: () => vscode.commands.executeCommand('flows.disconnectTeamRunner'),
      };
      if (!team.token) {
        throw new UserError(
          `The token for the team runner at ${team.url} is missing from VS Code's secret storage.`,
          [reconnect, disconnect],
        );
      }
      await checkTeamRunner({ url: team.url, token: team.token }).catch((err: Error) => {
        throw new UserError(err.message, [reconnect, disconnect]);
      });
      log.info(`using the team runner at ${team.url}`);
      return this.connectionTo('team', team.url, team.token);
    }

    if (!config.flowsFolder) {
      throw new UserError('Open a folder of flows first: the runner runs the flows of a workspace folder.', [
        { title: 'Open Folder', run: () => vscode.commands.executeCommand('vscode.openFolder') },
      ]);
    }
    // One runner per data folder (the runner enforces it): another window of this workspace,
    // or a `flows serve` in a terminal, may own it already. Then share that runner.
    const dataDir = config.dataFolder ?? path.join(config.flowsFolder, '.flows');
    const shared = this.shareOwner(dataDir);
    if (shared) return shared;
    const python = await findInterpreter(config.pythonPath, vscode.Uri.file(config.flowsFolder));
    log.info(`Python for flows: ${python.path} (from the ${python.source})`);
    let started: StartedRunner;
    try {
      started = await startLocalRunner({
        runnerScript: path.join(this.extensionPath, 'dist', 'runner.js'),
        flowsFolder: config.flowsFolder,
        dataFolder: config.dataFolder,
        python: python.path,
        concurrency: config.concurrency,
        isolation: config.workerIsolation,
        workerMaxExecutions: config.workerMaxExecutions,
        log: (line) => log.info(line),
        env: { FLOWS_FROM_EDITOR: '1' },
      });
    } catch (err) {
      // Another window started one on this folder at the same moment (both saw it free).
      if (err instanceof RunnerStartError && /in use by another Flows runner/.test(err.message)) {
        const winner = await this.waitForOwnerAddress(dataDir);
        if (winner) return winner;
      }
      if (err instanceof RunnerStartError && /python/i.test(err.message)) {
        throw new UserError(
          `The flows runner needs Python 3.8 or newer: ${firstLine(err.message)}`,
          [{ title: 'Select Interpreter', run: selectInterpreter }, openOutput],
          err.stderr,
        );
      }
      throw new UserError(
        `The flows runner did not start: ${firstLine((err as Error).message)}`,
        [openOutput],
        err instanceof RunnerStartError ? err.stderr : undefined,
      );
    }
    this.process = started;
    log.info(`runner ${started.pid} listening on ${started.url}`);
    void started.exited.then((exit) => this.onExit(started, exit));
    return this.connectionTo('bundled', started.url, started.token);
  }

  /** A connection to the runner that owns `dataDir` and serves an API, if one does. */
  private shareOwner(dataDir: string): RunnerConnection | undefined {
    const owner = lockOwner(dataDir);
    const address = owner && ownerConnection(owner);
    if (!address) return undefined;
    log.info(`using the runner (pid ${owner.pid}) that already serves this folder at ${address.url}`);
    const connection = { ...this.connectionTo('external', address.url, address.token), sharedPid: owner.pid };
    connection.events.on('disconnected', () => this.watchSharedOwner(connection, dataDir, owner.pid));
    return connection;
  }

  /**
   * A shared runner's connection dropped. A blip reconnects by itself; but when its window
   * closed (or its `flows serve` stopped), this window starts its own runner, or shares the one
   * that took the folder over, instead of reconnecting to nothing until "Restart Runner".
   */
  private watchSharedOwner(connection: RunnerConnection, dataDir: string, pid: number): void {
    clearTimeout(this.sharedCheck);
    const check = () => {
      this.sharedCheck = undefined;
      if (this.connection !== connection || connection.events.isConnected) return;
      if (lockOwner(dataDir)?.pid === pid) {
        this.sharedCheck = setTimeout(check, SHARED_CHECK_MS);
        return;
      }
      log.info(`the runner (pid ${pid}) this window shared has stopped; taking over its folder`);
      connection.events.close();
      this.setState({ kind: 'stopped' });
      this.ensure().catch((err) => log.error(`taking over the runner failed: ${(err as Error).message}`));
    };
    check();
  }

  /** After losing the race for the folder: the winner's connection once it serves. */
  private async waitForOwnerAddress(dataDir: string): Promise<RunnerConnection | undefined> {
    const deadline = Date.now() + OWNER_ADDRESS_WAIT_MS;
    while (Date.now() < deadline) {
      const shared = this.shareOwner(dataDir);
      if (shared) return shared;
      if (!lockOwner(dataDir)) return undefined; // the winner is gone again: report our error
      await new Promise((resolve) => setTimeout(resolve, SHARED_CHECK_MS));
    }
    return undefined;
  }

  private connectionTo(kind: RunnerConnection['kind'], url: string, token: string): RunnerConnection {
    const events = RunnerSocket.background({
      url,
      token,
      topics: ['executions', 'messages', 'schedules'],
      log: (msg) => log.debug(msg),
    });
    events.on('runnerError', (m) => log.warn(`runner WebSocket: ${m.message}`));
    return { kind, url, token, api: new RunnerApi(url, token), events };
  }

  /** The bundled runner ended: expected when we stopped it, a crash otherwise. */
  private onExit(which: StartedRunner, exit: { code: number | null; signal: string | null; stderr: string }) {
    if (this.process !== which) return; // stopped on purpose, or an older process
    this.process = undefined;
    this.connection?.events.close();
    const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`;
    log.error(`the runner ${how}`);
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => t > now - CRASH_WINDOW_MS), now];
    if (this.crashes.length > MAX_RESTARTS) {
      this.setState({ kind: 'failed', message: `The flows runner ${how} repeatedly.` });
      void vscode.window
        .showErrorMessage(
          `The flows runner ${how} ${this.crashes.length} times in a minute and was not restarted.`,
          'Start Runner',
          'Open Output',
        )
        .then((pick) => {
          if (pick === 'Start Runner') void vscode.commands.executeCommand('flows.startRunner');
          if (pick === 'Open Output') log.show(true);
        });
      return;
    }
    this.setState({ kind: 'stopped' });
    void vscode.window
      .showWarningMessage(`The flows runner ${how}; it has been restarted.`, 'Open Output')
      .then((pick) => pick && log.show(true));
    this.ensure().catch((err) => log.error(`restart failed: ${(err as Error).message}`));
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    clearTimeout(this.sharedCheck);
    const process = this.process;
    this.process = undefined;
    this.connection?.events.close();
    this.setState({ kind: 'stopped' });
    await process?.stop();
  }

  async restart(): Promise<RunnerConnection> {
    this.crashes = [];
    await this.stop();
    return this.ensure();
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
    this.executions.dispose();
    this.session.dispose();
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}
