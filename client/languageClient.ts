/**
 * The language client for dist/server.js (completions, hover, signature help, diagnostics of
 * flow_api). The server decides which Python files are flows and stays silent on the others, so
 * the client sends it every Python file.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { log } from './log';

export async function startLanguageClient(
  context: vscode.ExtensionContext,
  flowsFolder: string | undefined,
): Promise<LanguageClient> {
  const module = context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const outputChannel = vscode.window.createOutputChannel('Flows Language Server', { log: true });
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'python' },
      { scheme: 'untitled', language: 'python' },
    ],
    synchronize: { configurationSection: 'flows' },
    initializationOptions: { flowsFolder },
    outputChannel,
    // One clear message instead of VS Code's default retry dialog chain.
    initializationFailedHandler: (err) => {
      log.error(`the flows language server failed to start: ${String(err)}`);
      void vscode.window
        .showErrorMessage('The flows language server did not start; completions are off.', 'Open Output')
        .then((pick) => pick && outputChannel.show(true));
      return false;
    },
  };
  const client = new LanguageClient('flows', 'Flows Language Server', serverOptions, clientOptions);
  await client.start();
  context.subscriptions.push(client, outputChannel);
  return client;
}
