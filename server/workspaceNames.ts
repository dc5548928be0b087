// Names of the workspace's records, offered inside `system.setting('|')`, `system.connection('|')`
// and `system.file('|')`: the names the flows of the folder already use (read from their text,
// cached by modification time, refreshed off the request path) and the names the client sends
// from the runner's store (`flows/recordNames`, see protocol/languageServer.ts).
import fs from 'node:fs';
import { uriToPath } from './workspaceFlows';

export type RecordKind = 'setting' | 'connection' | 'file';
export const RECORD_KINDS: RecordKind[] = ['setting', 'connection', 'file'];

/** `system.setting('x')`, `.setting(name='x')`, `this.connect('db'`, … */
const PATTERNS: Record<RecordKind, RegExp> = {
  setting: /\.setting\(\s*(?:(?:select|name)\s*=\s*)?(['"])([^'"\\\n]+)\1/g,
  connection: /\.(?:connection|connect)\(\s*(?:(?:select|name|connector_name)\s*=\s*)?(['"])([^'"\\\n]+)\1/g,
  file: /\.file\(\s*(?:(?:select|name)\s*=\s*)?(['"])([^'"\\\n]+)\1/g,
};
const MAX_BYTES = 1_000_000;
const MAX_FILES = 5_000;

interface Scanned {
  mtimeMs: number;
  names: Record<RecordKind, string[]>;
}

/** The names a text uses, by kind. */
export function namesInText(text: string): Record<RecordKind, string[]> {
  const out = { setting: [], connection: [], file: [] } as Record<RecordKind, string[]>;
  for (const kind of RECORD_KINDS) {
    const re = PATTERNS[kind];
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) out[kind].push(m[2]);
  }
  return out;
}

export class WorkspaceNames {
  private readonly files = new Map<string, Scanned>();
  /** From the runner's store, sent by the client. */
  private store: Record<RecordKind, string[]> = { setting: [], connection: [], file: [] };

  /** Re-reads the changed files among `uris` (the flows of the folders); forgets the others. */
  refresh(uris: string[]): void {
    const keep = new Set<string>();
    for (const uri of uris.slice(0, MAX_FILES)) {
      const file = uriToPath(uri);
      if (!file) continue;
      keep.add(file);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(file);
      } catch {
        continue;
      }
      if (!stat.isFile() || stat.size > MAX_BYTES) continue;
      if (this.files.get(file)?.mtimeMs === stat.mtimeMs) continue;
      try {
        this.files.set(file, { mtimeMs: stat.mtimeMs, names: namesInText(fs.readFileSync(file, 'utf8')) });
      } catch {
        this.files.delete(file);
      }
    }
    for (const file of this.files.keys()) if (!keep.has(file)) this.files.delete(file);
  }

  setStore(kind: RecordKind, names: string[]): void {
    this.store = { ...this.store, [kind]: [...new Set(names)] };
  }

  /** The names of `kind`: the store's first, then those the flows use, then `extra` (open documents). */
  names(kind: RecordKind, extra: string[] = []): string[] {
    const out = new Set(this.store[kind]);
    for (const scanned of this.files.values()) for (const n of scanned.names[kind]) out.add(n);
    for (const n of extra) out.add(n);
    return [...out];
  }
}
