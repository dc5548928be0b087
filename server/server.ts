// The language server's wiring: LSP requests to the pure providers. Run as
// `node dist/server.js --stdio` (or --node-ipc); no `vscode` import, plain Node.
import path from 'node:path';
import {
  INPUT_KEYS_REQUEST,
  InputKeysParams,
  RECORD_NAMES_NOTIFICATION,
  RecordNamesParams,
  type InputKeysResult,
} from '@flows/protocol/languageServer';
import {
  CodeActionKind,
  createConnection,
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  ErrorCodes,
  ResponseError,
  FileChangeType,
  ProposedFeatures,
  TextDocumentSyncKind,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { Analyzer } from './analysis';
import { quickFixes } from './codeActions';
import { inlayHints, LEGEND, semanticTokens } from './semantic';
import { prepareRename, references, renameFlow, willRenameFiles, type ReferencesEnv } from './references';
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
import { WorkspaceNames } from './workspaceNames';

const connection = createConnection(ProposedFeatures.all);
const flows = new WorkspaceFlows();
const records = new WorkspaceNames();
let recordsTimer: NodeJS.Timeout | undefined;
/** Re-reads the names the flows use, soon and off the request path. */
function refreshRecordNames(): void {
  clearTimeout(recordsTimer);
  recordsTimer = setTimeout(
    () => guard('record names', () => records.refresh(flows.all().map((f) => f.uri))),
    200,
  );
}
let parser: PythonParser;
let documents: Documents;
let workspaceFolders: string[] = [];
/** `flows.flowsFolder`: from the settings when the client has them, else from initializationOptions. */
let flowsFolderSetting: string | undefined;
let flowsFolderOption: string | undefined;
let canPullConfiguration = false;
let canRenameFiles = false;
let analyzer: Analyzer;
let canWatchFiles = false;
/** Documents whose last published diagnostics were not empty (so other files get an empty list once). */
const withDiagnostics = new Set<string>();

connection.onInitialize(async (params: InitializeParams): Promise<InitializeResult> => {
  parser = await loadParser();
  flows.summaries = new FlowSummaries(parser);
  analyzer = new Analyzer(parser);
  const engines = { parser, analyzer };
  guard('warm-up', () => warmUp(engines, flows));
  documents = new Documents(engines, publishDiagnostics, (err) => logError('reparse', err));
  workspaceFolders = (params.workspaceFolders ?? [])
    .map((f) => uriToPath(f.uri))
    .filter((p): p is string => p !== undefined);
  const root = params.rootUri ? uriToPath(params.rootUri) : undefined;
  if (!workspaceFolders.length && root) workspaceFolders = [root];
  const options = params.initializationOptions as { flowsFolder?: unknown } | undefined;
  if (typeof options?.flowsFolder === 'string') flowsFolderSetting = flowsFolderOption = options.flowsFolder;
  canPullConfiguration = params.capabilities.workspace?.configuration === true;
  canWatchFiles = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
  const edits = params.capabilities.workspace?.workspaceEdit;
  canRenameFiles = edits?.documentChanges === true && (edits.resourceOperations ?? []).includes('rename');
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
      referencesProvider: true,
      semanticTokensProvider: { legend: LEGEND, full: true },
      inlayHintProvider: true,
      renameProvider: { prepareProvider: true },
      workspace: {
        fileOperations: {
          // Renaming or moving a flow (or a folder of flows) in the explorer rewrites its callers.
          willRename: {
            filters: [
              { scheme: 'file', pattern: { glob: '**/*.py', matches: 'file' } },
              { scheme: 'file', pattern: { glob: '**/*', matches: 'folder' } },
            ],
          },
        },
      },
    },
    serverInfo: { name: 'flows-language-server' },
  };
});

/**
 * The first scan of the flows folders, set as `initialized` arrives: requests that name flows
 * (definition, hover, references, rename…) wait for it, so a request sent right after opening a
 * file does not find the folder empty.
 */
let firstScan: Promise<void> | undefined;

/** Runs `answer` now, or after the first scan when that is still going. */
function afterScan<T>(answer: () => T | Promise<T>): T | Promise<T> {
  return firstScan ? firstScan.then(answer) : answer();
}

connection.onInitialized(async () => {
  const scan = (async () => {
    if (canPullConfiguration)
      await connection.client.register(DidChangeConfigurationNotification.type, undefined);
    await refreshFlows();
  })();
  firstScan = scan.finally(() => (firstScan = undefined));
  if (canWatchFiles)
    await connection.client.register(DidChangeWatchedFilesNotification.type, {
      watchers: [{ globPattern: '**/*.py' }],
    });
  await scan;
});

connection.onDidChangeConfiguration(() => void refreshFlows());

connection.onDidChangeWatchedFiles(({ changes }) => {
  let changed = false;
  for (const c of changes)
    if (c.type !== FileChangeType.Changed)
      changed = flows.fileChanged(c.uri, c.type === FileChangeType.Created) || changed;
    // A saved flow may read other inputs now: its callers' diagnostics follow.
    else if (c.uri.endsWith('.py')) changed = true;
  if (changed) documents.all().forEach(publishDiagnostics);
  refreshRecordNames();
});

connection.onNotification(RECORD_NAMES_NOTIFICATION, (params: unknown) => {
  const parsed = RecordNamesParams.safeParse(params);
  if (parsed.success) records.setStore(parsed.data.kind, parsed.data.names);
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
  refreshRecordNames();
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

/** A served document as last parsed: for completion and signature help, answered at once. */
function served(uri: string): FlowDocument | undefined {
  const doc = documents.get(uri);
  return doc?.isServed ? doc : undefined;
}

/** A served document once its reparse caught up with the text (see `Documents.settled`). */
async function settled(uri: string): Promise<FlowDocument | undefined> {
  const doc = await documents.settled(uri);
  return doc?.isServed ? doc : undefined;
}

/** `settled`, and every other open document too (for requests that read them). */
async function allSettled(uri: string): Promise<FlowDocument | undefined> {
  await documents.allSettled();
  return settled(uri);
}

const definitionEnv: DefinitionEnv = {
  get parser() {
    return parser;
  },
  flows,
  openDocument: (uri) => documents.current(uri),
};

connection.onCompletion(({ textDocument, position }) =>
  afterScan(() => {
    const doc = served(textDocument.uri);
    return doc
      ? (guard('completion', () => completions(doc, doc.offsetAt(position), { parser, flows, records })) ??
          null)
      : null;
  }),
);

connection.onCompletionResolve(
  (item) => guard('completionResolve', () => resolveCompletion(item, flows)) ?? item,
);

connection.onSignatureHelp(({ textDocument, position }) => {
  const doc = served(textDocument.uri);
  return doc
    ? (guard('signatureHelp', () => signatureHelp(doc, doc.offsetAt(position), parser)) ?? null)
    : null;
});

connection.onHover(({ textDocument, position }) =>
  afterScan(async () => {
    const doc = await settled(textDocument.uri);
    return doc ? (guard('hover', () => hover(doc, doc.offsetAt(position), flows)) ?? null) : null;
  }),
);

connection.onDefinition(({ textDocument, position }) =>
  afterScan(async () => {
    const doc = await allSettled(textDocument.uri);
    return doc
      ? (guard('definition', () => definition(doc, doc.offsetAt(position), definitionEnv)) ?? null)
      : null;
  }),
);

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

connection.onDocumentSymbol(async ({ textDocument }) => {
  const doc = await settled(textDocument.uri);
  return doc ? (guard('documentSymbol', () => documentSymbols(doc)) ?? null) : null;
});

connection.onWorkspaceSymbol(({ query }) =>
  afterScan(() => guard('workspaceSymbol', () => workspaceSymbols(query, flows)) ?? null),
);

const referencesEnv: ReferencesEnv = {
  get parser() {
    return parser;
  },
  get analyzer() {
    return analyzer;
  },
  flows,
  openDocument: (uri) => documents.current(uri),
};

connection.onReferences(({ textDocument, position, context }) =>
  afterScan(async () => {
    const doc = await allSettled(textDocument.uri);
    return doc
      ? (guard('references', () =>
          references(doc, doc.offsetAt(position), context.includeDeclaration, referencesEnv),
        ) ?? null)
      : null;
  }),
);

connection.onPrepareRename(({ textDocument, position }) =>
  afterScan(async () => {
    const doc = await settled(textDocument.uri);
    return doc
      ? (guard('prepareRename', () => prepareRename(doc, doc.offsetAt(position), flows)) ?? null)
      : null;
  }),
);

connection.onRenameRequest(({ textDocument, position, newName }) =>
  afterScan(async () => {
    const doc = await allSettled(textDocument.uri);
    const result = doc
      ? guard('rename', () =>
          renameFlow(doc, doc.offsetAt(position), newName, referencesEnv, { canRenameFiles }),
        )
      : null;
    if (typeof result === 'string') throw new ResponseError(ErrorCodes.InvalidParams, result);
    return result ?? null;
  }),
);

connection.workspace.onWillRenameFiles(({ files }) =>
  afterScan(async () => {
    await documents.allSettled();
    return guard('willRenameFiles', () => willRenameFiles(files, referencesEnv)) ?? null;
  }),
);

connection.languages.semanticTokens.on(async ({ textDocument }) => {
  const doc = await settled(textDocument.uri);
  return (doc && guard('semanticTokens', () => semanticTokens(doc))) ?? { data: [] };
});

connection.languages.inlayHint.on(({ textDocument, range }) =>
  afterScan(async () => {
    const doc = await settled(textDocument.uri);
    if (!doc) return null;
    const span = { start: doc.offsetAt(range.start), end: doc.offsetAt(range.end) };
    return guard('inlayHint', () => inlayHints(doc, span, flows)) ?? null;
  }),
);

connection.onCodeAction(({ textDocument, context }) =>
  served(textDocument.uri) ? quickFixes(textDocument.uri, context.diagnostics) : null,
);

connection.listen();
