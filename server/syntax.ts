// Small readers of tree-sitter-python nodes shared by the analysis and the cursor contexts.
import type { Node, Tree } from 'web-tree-sitter';
import type { TextOf } from './inference';

/** Offsets into the document text (UTF-16 code units, like LSP positions and web-tree-sitter). */
export interface Span {
  start: number;
  end: number;
}

export interface ArgInfo {
  kind: 'positional' | 'keyword' | 'splat';
  /** For keyword arguments. */
  name?: string;
  nameSpan?: Span;
  span: Span;
  /** A plain string literal argument (or keyword value): its content. */
  str?: { value: string; span: Span };
}

const WORDS = new Set(['identifier', 'string', 'string_content', 'string_start', 'string_end']);

/** The name or string at a position; at the end of a word (`child|.`) the word before it. */
export function nodeAt(doc: { tree: Tree }, offset: number): Node | null {
  const root = doc.tree.rootNode;
  const node = root.descendantForIndex(offset);
  if (node && WORDS.has(node.type)) return node;
  return offset > 0 ? root.descendantForIndex(offset - 1) : node;
}

/** The string literal a node is part of. */
export function stringAround(node: Node): Node | null {
  if (node.type === 'string') return node;
  return ['string_content', 'string_start', 'string_end'].includes(node.type) &&
    node.parent?.type === 'string'
    ? node.parent
    : null;
}

/** The content of a plain string literal (no f-string interpolation, not concatenated). */
export function stringValue(node: Node, textOf: TextOf): { value: string; span: Span } | undefined {
  if (node.type !== 'string') return undefined;
  const open = node.firstChild;
  const close = node.lastChild;
  if (open?.type !== 'string_start' || close?.type !== 'string_end') return undefined;
  if (node.namedChildren.some((c) => c?.type === 'interpolation')) return undefined;
  const span = { start: open.endIndex, end: close.startIndex };
  return {
    value: textOf(node).slice(open.endIndex - node.startIndex, close.startIndex - node.startIndex),
    span,
  };
}

/** The arguments of a call's `arguments` node, in order. */
export function readArguments(args: Node, textOf: TextOf): ArgInfo[] {
  if (args.type !== 'argument_list') return [{ kind: 'positional', span: spanOf(args) }]; // a generator argument
  const out: ArgInfo[] = [];
  for (const a of args.namedChildren) {
    if (!a || a.type === 'comment') continue;
    if (a.type === 'keyword_argument') {
      const name = a.childForFieldName('name');
      const value = a.childForFieldName('value');
      out.push({
        kind: 'keyword',
        name: name ? textOf(name) : undefined,
        nameSpan: name ? spanOf(name) : undefined,
        span: spanOf(a),
        str: value ? stringValue(value, textOf) : undefined,
      });
    } else if (a.type === 'list_splat' || a.type === 'dictionary_splat') {
      out.push({ kind: 'splat', span: spanOf(a) });
    } else {
      out.push({ kind: 'positional', span: spanOf(a), str: stringValue(a, textOf) });
    }
  }
  return out;
}

/**
 * A copy of a piece of a larger string that does not keep the larger one alive. V8 represents a
 * slice of 13 characters or more as a view into its parent, so a name the analysis keeps would
 * otherwise hold on to the whole document text of its version (hundreds of KB) for as long as its
 * unit is reused, and every replaced text would outlive the young generation.
 */
export function detached(slice: string): string {
  return (' ' + slice).slice(1);
}

export function spanOf(n: Node): Span {
  return { start: n.startIndex, end: n.endIndex };
}
