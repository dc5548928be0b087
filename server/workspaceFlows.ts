// The flows of the workspace: every `.py` file under a flows folder, named by its path relative to
// that folder without `.py` (`this.flow('reports/daily')` → `reports/daily.py`). Kept current by
// file-watcher events; providers read it through the small `FlowIndex` interface.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FlowInputs } from './flowInputs';
import { flowMarkdown, type FlowSummaries } from './flowSummary';

export interface FlowIndex {
  /** Flow names visible from a document (those of the flows folder holding it). */
  names(fromUri: string): string[];
  /** The file of a flow, or undefined when there is none; `known` is false when no folder is open. */
  resolve(name: string, fromUri: string): { known: boolean; uri?: string };
  /** Every flow of every folder. */
  all(): { name: string; uri: string; root: string }[];
  /** Markdown about a flow (file, docstring, inputs), or undefined when there is no such flow. */
  describe?(name: string, fromUri: string): string | undefined;
  /** The inputs a flow reads (from its file), or undefined when there is no such flow. */
  inputs?(name: string, fromUri: string): FlowInputs | undefined;
}

/** Directories that never hold flows and can be huge. */
const SKIP_DIRS = new Set(['node_modules', '__pycache__', 'venv', 'site-packages']);
const MAX_FILES = 20_000;

export function uriToPath(uri: string): string | undefined {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
  } catch {
    return undefined;
  }
}

export function pathToUri(p: string): string {
  return pathToFileURL(p).toString();
}

export class WorkspaceFlows implements FlowIndex {
  /** Flows folder (absolute path) → flow name → file path. */
  private folders = new Map<string, Map<string, string>>();

  /** Replaces the flows folders and scans them. */
  async setFolders(folders: string[]): Promise<void> {
    const next = new Map<string, Map<string, string>>();
    for (const folder of folders) next.set(path.resolve(folder), await scan(path.resolve(folder)));
    this.folders = next;
  }

  get folderPaths(): string[] {
    return [...this.folders.keys()];
  }

  /** Records a created (`exists`) or deleted file; returns whether a flow appeared or vanished. */
  fileChanged(uri: string, exists: boolean): boolean {
    const file = uriToPath(uri);
    if (!file?.endsWith('.py')) return false;
    const folder = this.folderOf(file);
    if (!folder || !file.startsWith(folder + path.sep)) return false;
    const flows = this.folders.get(folder)!;
    const name = flowName(folder, file);
    if (exists === flows.has(name)) return false;
    if (exists) flows.set(name, file);
    else flows.delete(name);
    return true;
  }

  names(fromUri: string): string[] {
    const flows = this.flowsFor(fromUri);
    const self = uriToPath(fromUri);
    return flows ? [...flows].filter(([, file]) => file !== self).map(([name]) => name) : [];
  }

  resolve(name: string, fromUri: string): { known: boolean; uri?: string } {
    const flows = this.flowsFor(fromUri);
    if (!flows) return { known: false };
    const file = flows.get(name.replace(/\.py$/, ''));
    return { known: true, uri: file ? pathToUri(file) : undefined };
  }

  /** Set once the parser is loaded: flow summaries need it. */
  summaries: FlowSummaries | undefined;

  describe(name: string, fromUri: string): string | undefined {
    const flows = this.flowsFor(fromUri);
    const file = flows?.get(name.replace(/\.py$/, ''));
    const root = file && this.folderOf(file);
    if (!file || !root) return undefined;
    return flowMarkdown(name.replace(/\.py$/, ''), file, root, this.summaries?.of(file));
  }

  inputs(name: string, fromUri: string): FlowInputs | undefined {
    const file = this.flowsFor(fromUri)?.get(name.replace(/\.py$/, ''));
    return file ? this.summaries?.of(file)?.read : undefined;
  }

  all(): { name: string; uri: string; root: string }[] {
    return [...this.folders].flatMap(([root, flows]) =>
      [...flows].map(([name, file]) => ({ name, uri: pathToUri(file), root })),
    );
  }

  /** The flows folder holding a document (the deepest), or the only folder for files elsewhere. */
  private folderOf(file: string): string | undefined {
    let best: string | undefined;
    for (const folder of this.folders.keys())
      if (file.startsWith(folder + path.sep) && (!best || folder.length > best.length)) best = folder;
    return best;
  }

  private flowsFor(uri: string): Map<string, string> | undefined {
    const file = uriToPath(uri);
    const folder = file ? this.folderOf(file) : undefined;
    if (folder) return this.folders.get(folder);
    return this.folders.size === 1 ? [...this.folders.values()][0] : undefined;
  }
}

function flowName(folder: string, file: string): string {
  return path.relative(folder, file).replace(/\.py$/, '').split(path.sep).join('/');
}

async function scan(folder: string): Promise<Map<string, string>> {
  const flows = new Map<string, string>();
  const pending = [folder];
  while (pending.length && flows.size < MAX_FILES) {
    const dir = pending.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch {
      continue; // missing or unreadable: no flows there
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      if (e.isDirectory() && !SKIP_DIRS.has(e.name)) pending.push(full);
      else if (e.isFile() && e.name.endsWith('.py')) flows.set(flowName(folder, full), full);
    }
  }
  return flows;
}
