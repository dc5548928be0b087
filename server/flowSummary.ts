// What a child flow is, for the hover and completion of its name in `this.flow('…')`: its
// docstring and the inputs it reads (see flowInputs.ts), read from its file, cached by mtime.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Node, Tree } from 'web-tree-sitter';
import { readInputs, type FlowInputs, type InputKey } from './flowInputs';
import type { PythonParser } from './parser';

/** Files above this are not read for a summary (a flow this big is not read on hover). */
const MAX_BYTES = 1_000_000;
const MAX_DOC = 600;

export interface FlowSummary {
  docstring?: string;
  inputs: InputKey[];
  /** The inputs with their types, and whether they are all of them. */
  read: FlowInputs;
}

interface Cached {
  mtimeMs: number;
  summary: FlowSummary;
}

export class FlowSummaries {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly parser: PythonParser) {}

  /** The summary of the flow in `file`, or undefined when it cannot be read. */
  of(file: string): FlowSummary | undefined {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      return undefined;
    }
    if (!stat.isFile() || stat.size > MAX_BYTES) return undefined;
    const cached = this.cache.get(file);
    if (cached && cached.mtimeMs === stat.mtimeMs) return cached.summary;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    const tree = this.parser.parse(text);
    try {
      const read = readInputs(tree);
      const inputs = read.inputs.map(({ name, required }) => ({ name, required }));
      const summary = { docstring: docstring(tree), inputs, read };
      this.cache.set(file, { mtimeMs: stat.mtimeMs, summary });
      return summary;
    } finally {
      tree.delete();
    }
  }
}

/**
 * Markdown for a flow: its name and file (relative to the flows folder, a link), its docstring,
 * and what it reads. `root` is the flows folder.
 */
export function flowMarkdown(
  name: string,
  file: string,
  root: string,
  summary: FlowSummary | undefined,
): string {
  const rel = path.relative(root, file).split(path.sep).join('/');
  const link = `[${rel}](${pathToFileURL(file).toString()})`;
  const parts = [`**flow** \`${name}\` — ${link}`];
  if (summary?.docstring) parts.push(summary.docstring);
  if (summary?.inputs.length) {
    parts.push(
      `Inputs it reads: ${summary.inputs.map((k) => `\`${k.name}\`${k.required ? '' : ' (optional)'}`).join(', ')}`,
    );
  }
  return parts.join('\n\n');
}

/** The module's docstring, else the handler's; shortened to its first paragraph. */
function docstring(tree: Tree): string | undefined {
  const root = tree.rootNode;
  const handler = root.namedChildren.find(
    (n) => n?.type === 'function_definition' && n.childForFieldName('name')?.text === 'handler',
  );
  const text =
    leadingString(root) ?? (handler ? leadingString(handler.childForFieldName('body')) : undefined);
  if (!text) return undefined;
  const first = text
    .split(/\n\s*\n/)[0]
    .replace(/\s+/g, ' ')
    .trim();
  return first.length > MAX_DOC ? `${first.slice(0, MAX_DOC - 1)}…` : first;
}

function leadingString(block: Node | null | undefined): string | undefined {
  const first = block?.namedChildren.find((n) => n?.type !== 'comment');
  const str = first?.type === 'expression_statement' ? first.namedChildren[0] : undefined;
  if (str?.type !== 'string') return undefined;
  return str.namedChildren
    .filter((c) => c?.type === 'string_content')
    .map((c) => c!.text)
    .join('');
}
