// A real LSP client over a child process's stdio, for the protocol tests and the benchmark
// (which drives pyright-langserver with the same code).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConfigurationRequest,
  createProtocolConnection,
  DidChangeTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  LogMessageNotification,
  PublishDiagnosticsNotification,
  RegistrationRequest,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type Diagnostic,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
  type ServerCapabilities,
  type TextDocumentContentChangeEvent,
} from 'vscode-languageserver-protocol/node';

export const REPO = path.resolve(__dirname, '..', '..');
export const SERVER_JS = path.join(REPO, 'dist', 'server.js');

export function fileUri(p: string): string {
  return pathToFileURL(p).toString();
}

/** Builds dist/server.js once per test run when it is missing or older than the sources. */
export function ensureServerBuilt(): void {
  const newestSource = fs
    .readdirSync(path.join(REPO, 'server'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => fs.statSync(path.join(REPO, 'server', f)).mtimeMs)
    .reduce((a, b) => Math.max(a, b), 0);
  const built = fs.existsSync(SERVER_JS) ? fs.statSync(SERVER_JS).mtimeMs : 0;
  if (built >= newestSource) return;
  const result = spawnSync(process.execPath, ['esbuild.js'], { cwd: REPO, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`node esbuild.js failed:\n${result.stderr}`);
}

export interface StartOptions {
  command: string;
  args: string[];
  /** The workspace folder. */
  root: string;
  /** Answers to workspace/configuration, by section. */
  settings?: Record<string, unknown>;
  initializationOptions?: unknown;
}

export class LspClient {
  readonly logs: string[] = [];
  private readonly diagnostics = new Map<string, PublishDiagnosticsParams>();
  private readonly waiters: {
    uri: string;
    test: (p: PublishDiagnosticsParams) => boolean;
    resolve: (d: Diagnostic[]) => void;
  }[] = [];
  private readonly versions = new Map<string, number>();
  /** What the server declared in its `initialize` answer. */
  serverCapabilities: ServerCapabilities = {};

  private constructor(
    readonly connection: ProtocolConnection,
    private readonly child: ChildProcess,
  ) {}

  /** The server process id (for its memory figures). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(options: StartOptions): Promise<LspClient> {
    const child = spawn(options.command, options.args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: options.root,
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const connection = createProtocolConnection(
      new StreamMessageReader(child.stdout!),
      new StreamMessageWriter(child.stdin!),
    );
    const client = new LspClient(connection, child);
    connection.onNotification(LogMessageNotification.type, (p) => {
      client.logs.push(p.message);
    });
    connection.onNotification(PublishDiagnosticsNotification.type, (p) => client.received(p));
    connection.onRequest(RegistrationRequest.type, () => undefined);
    connection.onRequest(ConfigurationRequest.type, (p) =>
      p.items.map((i) => options.settings?.[i.section ?? ''] ?? null),
    );
    connection.listen();
    child.on('exit', (code) => {
      if (code) client.logs.push(`server exited with ${code}: ${stderr}`);
    });
    const root = fileUri(options.root);
    const initialized = await connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: root,
      workspaceFolders: [{ uri: root, name: path.basename(options.root) }],
      initializationOptions: options.initializationOptions,
      capabilities: {
        workspace: {
          configuration: true,
          didChangeWatchedFiles: { dynamicRegistration: true },
          workspaceFolders: true,
        },
        textDocument: {
          synchronization: { didSave: false, dynamicRegistration: false },
          completion: {
            completionItem: { snippetSupport: true, documentationFormat: ['markdown', 'plaintext'] },
          },
          hover: { contentFormat: ['markdown', 'plaintext'] },
          signatureHelp: { signatureInformation: { parameterInformation: { labelOffsetSupport: true } } },
          publishDiagnostics: { versionSupport: true },
        },
      },
    });
    client.serverCapabilities = initialized.capabilities;
    await connection.sendNotification(InitializedNotification.type, {});
    return client;
  }

  private received(p: PublishDiagnosticsParams): void {
    this.diagnostics.set(p.uri, p);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w.uri === p.uri && w.test(p)) {
        this.waiters.splice(i, 1);
        w.resolve(p.diagnostics);
      }
    }
  }

  /** Resolves with the first diagnostics published for `uri` at `version` or later. */
  diagnosticsFor(
    uri: string,
    version = this.versions.get(uri) ?? 0,
    timeoutMs = 10_000,
  ): Promise<Diagnostic[]> {
    const test = (p: PublishDiagnosticsParams) => (p.version ?? version) >= version;
    const last = this.diagnostics.get(uri);
    if (last && test(last)) return Promise.resolve(last.diagnostics);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri} v${version}`)), timeoutMs);
      this.waiters.push({
        uri,
        test,
        resolve: (d) => {
          clearTimeout(timer);
          resolve(d);
        },
      });
    });
  }

  /** The latest diagnostics published for `uri`, if any. */
  lastDiagnostics(uri: string): Diagnostic[] | undefined {
    return this.diagnostics.get(uri)?.diagnostics;
  }

  async open(uri: string, text: string): Promise<void> {
    this.versions.set(uri, 1);
    await this.connection.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: 'python', version: 1, text },
    });
  }

  /** Sends changes and returns the new version. */
  async change(uri: string, changes: TextDocumentContentChangeEvent[]): Promise<number> {
    const version = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, version);
    await this.connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version },
      contentChanges: changes,
    });
    return version;
  }

  async stop(): Promise<void> {
    try {
      await Promise.race([
        this.connection.sendRequest(ShutdownRequest.type),
        new Promise((r) => setTimeout(r, 2000)),
      ]);
      await this.connection.sendNotification(ExitNotification.type);
    } catch {
      // already gone
    }
    this.connection.dispose();
    if (this.child.exitCode === null) this.child.kill();
  }
}
