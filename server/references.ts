// References and rename of flows: every `this.flow('name')` / `system.flow('name')` in the flows
// folder that names a flow file. Rename from a call site (or from the `handler` of the flow
// itself) rewrites every caller and renames the file; renaming or moving the file in the
// explorer (`workspace/willRenameFiles`) rewrites the callers, as Pylance does for imports.
import fs from 'node:fs';
import path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type {
  Location,
  Range,
  RenameFile,
  TextDocumentEdit,
  TextEdit,
  WorkspaceEdit,
} from 'vscode-languageserver';
import type { Analysis, Analyzer, FlowRef } from './analysis';
import type { FlowDocument } from './document';
import type { PythonParser } from './parser';
import { pathToUri, uriToPath, type FlowIndex } from './workspaceFlows';

export interface ReferencesEnv {
  parser: PythonParser;
  analyzer: Analyzer;
  flows: FlowIndex;
  /** Open documents are read from the editor, not the disk. */
  openDocument(uri: string): FlowDocument | undefined;
}

const MAX_BYTES = 1_000_000;

/** One reference: a flow name string's content in a file. */
interface Ref {
  uri: string;
  range: Range;
  name: string;
  /** The flow file it names. */
  target: string;
}

/** The flow the cursor names: a flow-name string of a call, or the `handler` of a flow file. */
export function flowAt(
  doc: FlowDocument,
  offset: number,
  flows: FlowIndex,
): { uri: string; name: string; range?: Range } | undefined {
  const at = doc.toParseOffset(offset);
  for (const unit of doc.analysis.units) {
    if (unit.span.end < at || unit.span.start > at) continue;
    const ref = unit.flowRefs.find((r) => r.span.start <= at && at <= r.span.end);
    if (!ref) continue;
    const uri = flows.resolve(ref.name, doc.uri).uri;
    return uri ? { uri, name: ref.name, range: doc.rangeOf(ref.span) } : undefined;
  }
  const handler = doc.analysis.handler;
  if (handler && handler.nameSpan.start <= at && at <= handler.nameSpan.end) {
    const self = flows.all().find((f) => f.uri === doc.uri);
    return self ? { uri: self.uri, name: self.name } : undefined;
  }
  return undefined;
}

/** Every reference in the folder to any of `targets` (flow file uris). */
function referencesTo(targets: Set<string>, names: string[], env: ReferencesEnv): Ref[] {
  const out: Ref[] = [];
  // A file can only name the flow in a string holding its name (or its last part, relative).
  const needles = [...new Set(names.flatMap((n) => [n, n.split('/').pop()!]))];
  for (const flow of env.flows.all()) {
    const open = env.openDocument(flow.uri);
    let analysis: Analysis;
    let toRange: (s: { start: number; end: number }) => Range;
    if (open) {
      if (!needles.some((n) => open.text.includes(n))) continue;
      analysis = open.analysis;
      toRange = (s) => open.rangeOf(s);
    } else {
      const text = readSmall(flow.uri);
      if (text === undefined || !needles.some((n) => text.includes(n))) continue;
      const tree = env.parser.parse(text);
      try {
        analysis = env.analyzer.analyze(tree, text);
        env.analyzer.release(analysis);
      } finally {
        tree.delete();
      }
      const lines = TextDocument.create(flow.uri, 'python', 0, text);
      toRange = (s) => ({ start: lines.positionAt(s.start), end: lines.positionAt(s.end) });
    }
    for (const unit of analysis.units)
      for (const ref of unit.flowRefs) {
        const target = resolveRef(ref, flow.uri, env.flows);
        if (target && targets.has(target))
          out.push({ uri: flow.uri, range: toRange(ref.span), name: ref.name, target });
      }
  }
  return out;
}

function resolveRef(ref: FlowRef, from: string, flows: FlowIndex): string | undefined {
  return flows.resolve(ref.name, from).uri;
}

function readSmall(uri: string): string | undefined {
  const file = uriToPath(uri);
  try {
    if (!file || fs.statSync(file).size > MAX_BYTES) return undefined;
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** `textDocument/references` on a flow name (or a flow's `handler`). */
export function references(
  doc: FlowDocument,
  offset: number,
  includeDeclaration: boolean,
  env: ReferencesEnv,
): Location[] | null {
  const flow = flowAt(doc, offset, env.flows);
  if (!flow) return null;
  const refs = referencesTo(new Set([flow.uri]), [flow.name, nameOf(flow.uri, env.flows) ?? flow.name], env);
  const out: Location[] = refs.map((r) => ({ uri: r.uri, range: r.range }));
  if (includeDeclaration) {
    const start = { line: 0, character: 0 };
    out.unshift({ uri: flow.uri, range: { start, end: start } });
  }
  return out;
}

function nameOf(uri: string, flows: FlowIndex): string | undefined {
  return flows.all().find((f) => f.uri === uri)?.name;
}

/** `textDocument/prepareRename`: the flow name string's content, when the cursor is on one. */
export function prepareRename(
  doc: FlowDocument,
  offset: number,
  flows: FlowIndex,
): { range: Range; placeholder: string } | null {
  const flow = flowAt(doc, offset, flows);
  return flow?.range ? { range: flow.range, placeholder: flow.name } : null;
}

export interface RenameOptions {
  /** The client applies `RenameFile` operations in `documentChanges`. */
  canRenameFiles: boolean;
}

/**
 * `textDocument/rename` of a flow: every caller names the new flow, and the file moves to match
 * (`reports/daily` → `reports/weekly.py`). Refused (an error message) when the name is not a
 * valid flow name or the file exists.
 */
export function renameFlow(
  doc: FlowDocument,
  offset: number,
  newName: string,
  env: ReferencesEnv,
  options: RenameOptions,
): WorkspaceEdit | string | null {
  const flow = flowAt(doc, offset, env.flows);
  if (!flow) return null;
  const clean = newName.trim().replace(/\.py$/, '');
  if (!/^[\w.-]+(\/[\w.-]+)*$/.test(clean) || clean.split('/').some((p) => p === '.' || p === '..'))
    return `\`${newName}\` is not a flow name: use letters, digits, \`_\`, \`-\`, \`.\` and \`/\` for folders.`;
  const root = env.flows.all().find((f) => f.uri === flow.uri)?.root;
  const oldFile = uriToPath(flow.uri);
  if (!root || !oldFile) return null;
  const newFile = path.join(root, ...clean.split('/')) + '.py';
  if (newFile !== oldFile && fs.existsSync(newFile)) return `A flow \`${clean}\` exists already.`;
  const refs = referencesTo(new Set([flow.uri]), [flow.name, nameOf(flow.uri, env.flows) ?? flow.name], env);
  const edits = editsFor(refs, () => clean, env);
  if (!options.canRenameFiles) return { changes: changesOf(edits) };
  const rename: RenameFile = { kind: 'rename', oldUri: flow.uri, newUri: pathToUri(newFile) };
  return { documentChanges: [...edits, ...(newFile === oldFile ? [] : [rename])] };
}

/**
 * `workspace/willRenameFiles`: files (or folders) of flows are about to move; their callers are
 * rewritten to the new names. Files that are not flows, or moves out of the flows folder, give
 * no edit for them.
 */
export function willRenameFiles(
  files: { oldUri: string; newUri: string }[],
  env: ReferencesEnv,
): WorkspaceEdit | null {
  const renamed = new Map<string, string>(); // flow uri → new name
  const all = env.flows.all();
  for (const { oldUri, newUri } of files) {
    const oldPath = uriToPath(oldUri);
    const newPath = uriToPath(newUri);
    if (!oldPath || !newPath) continue;
    for (const f of all) {
      const file = uriToPath(f.uri);
      if (!file) continue;
      let moved: string | undefined;
      if (file === oldPath) moved = newPath;
      else if (file.startsWith(oldPath + path.sep)) moved = newPath + file.slice(oldPath.length);
      if (!moved || !moved.endsWith('.py')) continue;
      const rel = path.relative(f.root, moved);
      if (rel.startsWith('..') || path.isAbsolute(rel)) continue;
      renamed.set(f.uri, rel.replace(/\.py$/, '').split(path.sep).join('/'));
    }
  }
  if (!renamed.size) return null;
  const names = all.filter((f) => renamed.has(f.uri)).map((f) => f.name);
  const refs = referencesTo(new Set(renamed.keys()), names, env).filter((r) => !renamed.has(r.uri));
  const edits = editsFor(refs, (r) => renamed.get(r.target)!, env);
  return edits.length ? { changes: changesOf(edits) } : null;
}

/** The text edits, one document at a time (open documents at their current version). */
function editsFor(refs: Ref[], newName: (r: Ref) => string, env: ReferencesEnv): TextDocumentEdit[] {
  const byUri = new Map<string, TextEdit[]>();
  for (const r of refs) {
    const list = byUri.get(r.uri) ?? [];
    list.push({ range: r.range, newText: newName(r) });
    byUri.set(r.uri, list);
  }
  return [...byUri].map(([uri, edits]) => ({
    textDocument: { uri, version: env.openDocument(uri)?.version ?? null },
    edits,
  }));
}

function changesOf(edits: TextDocumentEdit[]): Record<string, TextEdit[]> {
  return Object.fromEntries(
    edits.map((e) => [e.textDocument.uri, e.edits.filter((x): x is TextEdit => 'range' in x)]),
  );
}
