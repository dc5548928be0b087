// The language server's wiring: LSP requests to the pure providers. Run as
// `node dist/server.js --stdio` (or --node-ipc); no `vscode` import, plain Node.
import path from 'node:path';
import { INPUT_KEYS_REQUEST, InputKeysParams, type InputKeysResult } from '@flows/protocol/languageServer';
import {
  CodeActionKind,
  createConnection,
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  FileChangeType,
  ProposedFeatures,
  TextDocumentSyncKind,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { Analyzer } from './analysis';
import { quickFixes } from './codeActions';
import { completions, resolveCompletion } from './completion';
import { definition, type DefinitionEnv } from './definition';
import { diagnostics } from './diagnostics';
import type { FlowDocument } from './document';
import { Documents } from './documents';
import { inputKeys } from './flowInputs';
import { FlowSummaries } from './flowSummary';
import { hover } from './hover';
import { loadParser, type PythonParser } from './parser';
import { signatureHelp } from './signatureHelp';
import { documentSymbols, workspaceSymbols } from './symbols';
import { warmUp } from './warmup';
import { uriToPath, WorkspaceFlows } from './workspaceFlows';

const connection = createConnection(ProposedFeatures.all);
const flows = new WorkspaceFlows();
let parser: PythonParser;
let documents: Documents;
let workspaceFolders: string[] = [];
/** `flows.flowsFolder`: from the settings when the client has them, else from initializationOptions. */
let flowsFolderSetting: string | undefined;
let flowsFolderOption: string | undefined;
let canPullConfiguration = false;
let canWatchFiles = false;
/** Documents whose last published diagnostics were not empty (so other files get an empty list once). */
const withDiagnostics = new Set<string>();

connection.onInitialize(async (params: InitializeParams): Promise<InitializeResult> => {
  parser = await loadParser();
  flows.summaries = new FlowSummaries(parser);
  const engines = { parser, analyzer: new Analyzer(parser) };
  guard('warm-up', () => warmUp(engines, flows));
  documents = new Documents(engines, publishDiagnostics);
  workspaceFolders = (params.workspaceFolders ?? [])
    .map((f) => uriToPath(f.uri))
    .filter((p): p is string => p !== undefined);
  const root = params.rootUri ? uriToPath(params.rootUri) : undefined;
  if (!workspaceFolders.length && root) workspaceFolders = [root];
  const options = params.initializationOptions as { flowsFolder?: unknown } | undefined;
  if (typeof options?.flowsFolder === 'string') flowsFolderSetting = flowsFolderOption = options.flowsFolder;
  canPullConfiguration = params.capabilities.workspace?.configuration === true;
  canWatchFiles = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
  return {
    capabilities: {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
      completionProvider: { triggerCharacters: ['.', "'", '"', '/'], resolveProvider: true },
      hoverProvider: true,
      signatureHelpProvider: { triggerCharacters: ['(', ','], retriggerCharacters: ['='] },
      definitionProvider: true,
      documentSymbolProvider: true,
      workspaceSymbolProvider: true,
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
    },
    serverInfo: { name: 'flows-language-server' },
  };
});

connection.onInitialized(async () => {
  if (canWatchFiles)
    await connection.client.register(DidChangeWatchedFilesNotification.type, {
      watchers: [{ globPattern: '**/*.py' }],
    });
  if (canPullConfiguration)
    await connection.client.register(DidChangeConfigurationNotification.type, undefined);
  await refreshFlows();
});

connection.onDidChangeConfiguration(() => void refreshFlows());

connection.onDidChangeWatchedFiles(({ changes }) => {
  let changed = false;
  for (const c of changes)
    if (c.type !== FileChangeType.Changed)
      changed = flows.fileChanged(c.uri, c.type === FileChangeType.Created) || changed;
  if (changed) documents.all().forEach(publishDiagnostics);
});

/** Reads `flows.flowsFolder` (relative to each workspace folder) and rescans the flows. */
async function refreshFlows(): Promise<void> {
  try {
    await rescanFlows();
  } catch (err) {
    logError('flows folder scan', err);
  }
}

async function rescanFlows(): Promise<void> {
  if (canPullConfiguration) {
    const [setting] = (await connection.workspace.getConfiguration([
      { section: 'flows.flowsFolder' },
    ])) as unknown[];
    flowsFolderSetting = typeof setting === 'string' && setting.trim() ? setting.trim() : flowsFolderOption;
  }
  const folders = flowsFolderSetting
    ? path.isAbsolute(flowsFolderSetting)
      ? [flowsFolderSetting]
      : workspaceFolders.map((f) => path.join(f, flowsFolderSetting!))
    : workspaceFolders;
  await flows.setFolders(folders);
  documents.all().forEach(publishDiagnostics);
}

function publishDiagnostics(doc: FlowDocument): void {
  if (doc.isDirty) return; // the pending reparse publishes, for the current version
  const list = guard('diagnostics', () => diagnostics(doc, flows)) ?? [];
  if (!list.length && !withDiagnostics.has(doc.uri) && !doc.analysis.isFlow) return;
  if (list.length) withDiagnostics.add(doc.uri);
  else withDiagnostics.delete(doc.uri);
  void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: list });
}

/** One failing request is logged, answered empty, and never takes the server down. */
function guard<T>(what: string, run: () => T): T | undefined {
  try {
    return run();
  } catch (err) {
    logError(what, err);
    return undefined;
  }
}

function logError(what: string, err: unknown): void {
  connection.console.error(
    `${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
}

connection.onDidOpenTextDocument(({ textDocument: d }) =>
  guard('open', () => documents.open(d.uri, d.version, d.text)),
);
connection.onDidChangeTextDocument(({ textDocument: d, contentChanges }) =>
  guard('change', () => documents.change(d.uri, contentChanges, d.version)),
);
connection.onDidCloseTextDocument(({ textDocument: d }) => {
  documents.close(d.uri);
  if (withDiagnostics.delete(d.uri)) void connection.sendDiagnostics({ uri: d.uri, diagnostics: [] });
});

/** A served document: as last parsed (`fresh` false) or reparsed now. */
function served(uri: string, fresh: boolean): FlowDocument | undefined {
  const doc = fresh ? documents.current(uri) : documents.get(uri);
  return doc?.isServed ? doc : undefined;
}

const definitionEnv: DefinitionEnv = {
  get parser() {
    return parser;
  },
  flows,
  openDocument: (uri) => documents.current(uri),
};

connection.onCompletion(({ textDocument, position }) => {
  const doc = served(textDocument.uri, false);
  return doc
    ? (guard('completion', () => completions(doc, doc.offsetAt(position), { parser, flows })) ?? null)
    : null;
});

connection.onCompletionResolve(
  (item) => guard('completionResolve', () => resolveCompletion(item, flows)) ?? item,
);

connection.onSignatureHelp(({ textDocument, position }) => {
  const doc = served(textDocument.uri, false);
  return doc
    ? (guard('signatureHelp', () => signatureHelp(doc, doc.offsetAt(position), parser)) ?? null)
    : null;
});

connection.onHover(({ textDocument, position }) => {
  const doc = served(textDocument.uri, true);
  return doc ? (guard('hover', () => hover(doc, doc.offsetAt(position), flows)) ?? null) : null;
});

connection.onDefinition(({ textDocument, position }) => {
  const doc = served(textDocument.uri, true);
  return doc
    ? (guard('definition', () => definition(doc, doc.offsetAt(position), definitionEnv)) ?? null)
    : null;
});

// The input prompt of Run and Try is prefilled with the keys the flow reads.
connection.onRequest(INPUT_KEYS_REQUEST, (params: unknown): InputKeysResult => {
  const parsed = InputKeysParams.safeParse(params);
  if (!parsed.success || !parser) return [];
  return (
    guard('inputKeys', () => {
      const tree = parser.parse(parsed.data.text);
      try {
        return inputKeys(tree);
      } finally {
        tree.delete();
      }
    }) ?? []
  );
});

connection.onDocumentSymbol(({ textDocument }) => {
  const doc = served(textDocument.uri, true);
  return doc ? (guard('documentSymbol', () => documentSymbols(doc)) ?? null) : null;
});

connection.onWorkspaceSymbol(
  ({ query }) => guard('workspaceSymbol', () => workspaceSymbols(query, flows)) ?? null,
);

connection.onCodeAction(({ textDocument, context }) =>
  served(textDocument.uri, false) ? quickFixes(textDocument.uri, context.diagnostics) : null,
);

connection.listen();
