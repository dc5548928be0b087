// What the cursor is in, answered without waiting for a reparse. The statement around the cursor
// is found in the last tree (edited to the current text), its current text up to the cursor is
// cut out, completed with a placeholder name at the cursor plus the quotes and brackets still
// open, and parsed on its own: a few hundred characters, well under a millisecond. The
// placeholder's place in that small tree says whether we complete a member, a keyword argument,
// a string argument or a new statement.
import type { Node, Tree } from 'web-tree-sitter';
import type { ClassName, Method, Param } from './catalogue';
import type { FlowDocument } from './document';
import { resolveName, scopeAt } from './analysis';
import { inferType, targetTypes, type ApiType, type Lookup, type TextOf } from './inference';
import type { PythonParser } from './parser';
import { readArguments, type ArgInfo } from './syntax';
import { logicalLines, maskBroken, type Breakage } from './tolerant';

const PLACEHOLDER = '__flows_cursor__';
const MAX_SNIPPET_LINES = 60;
/** How far back unparsed edits are taken into the snippet (their assignments count too). */
const MAX_PENDING_LINES = 20;

/** Statements with a body: a cursor after their header is in the body, not in them. */
const COMPOUND = new Set([
  'function_definition',
  'class_definition',
  'decorated_definition',
  'if_statement',
  'elif_clause',
  'else_clause',
  'for_statement',
  'while_statement',
  'with_statement',
  'try_statement',
  'except_clause',
  'finally_clause',
  'match_statement',
  'case_clause',
]);

/** The API call whose argument list holds the cursor. */
export interface CallSite {
  cls: ClassName;
  method: Method;
  args: ArgInfo[];
  /** Index in `args` of the argument the cursor is in (args.length when after the last one). */
  active: number;
  /** Positional arguments before the active one. */
  positionalBefore: number;
  /** The keyword of the active argument, when the cursor is in its value. */
  activeKeyword?: string;
  /** Keywords already given, other than the active one. */
  keywordsGiven: string[];
  /** The name being typed as the active argument, which may become a keyword (`prio|`). */
  typing?: string;
  /** The child flow the call starts or clones (`this.flow('child', …)`, `template.clone(…)`). */
  flow?: string;
}

/** Where the cursor is; `call` is the API call around it, if any (for signature help). */
export type CursorContext =
  /** `receiver.na|` */
  | { kind: 'member'; receiver: ApiType | undefined; call?: CallSite }
  /** A name being typed: as an argument of `call`, or a statement (`topLevel` at column 0). */
  | { kind: 'name'; call?: CallSite; asArgument: boolean; topLevel: boolean }
  /** Inside a string literal. */
  | {
      kind: 'string';
      /** Document offset where the string's content starts. */
      contentStart: number;
      call?: CallSite;
      /** The string is itself an argument of `call` (not nested in one). */
      direct: boolean;
      /** The string is compared with an execution's status. */
      status: boolean;
      /** The string is a key of the dict literal given as the active keyword (`inputs={'|`). */
      dictKey: boolean;
    }
  | { kind: 'none'; call?: CallSite };

/** Resolves names as at `offset`: scopes from the last analysis, indentation from the current text. */
export function lookupAt(doc: FlowDocument, offset: number): Lookup {
  const text = doc.text;
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let indent = 0;
  while (text[lineStart + indent] === ' ' || text[lineStart + indent] === '\t') indent++;
  const parseOffset = doc.toParseOffset(offset);
  const scope = scopeAt(doc.analysis, parseOffset, indent);
  return (name) => resolveName(doc.analysis, scope, name, parseOffset);
}

/** Classifies the cursor position; the snippet tree lives only for the duration of the call. */
export function cursorContext(doc: FlowDocument, parser: PythonParser, offset: number): CursorContext {
  const text = doc.text;
  const start = snippetStart(doc, offset);
  const raw = maskAbove(text.slice(start, offset));
  const open = openTokens(parser, raw);
  if (open.inComment) return { kind: 'none' };
  const snippet = raw + PLACEHOLDER + open.closers;
  const tree = parser.parse(snippet);
  try {
    const textOf: TextOf = (n) => snippet.slice(n.startIndex, n.endIndex);
    const lookup = snippetLookup(tree, textOf, withComprehensions(doc, offset, lookupAt(doc, offset)));
    return classify(tree, snippet, raw.length, start, lookup(raw.length));
  } finally {
    tree.delete();
  }
}

/**
 * Adds the variables of the comprehensions around the cursor in the document's tree (their
 * `for` clause comes after the cursor, out of the snippet): `[c.| for c in calls]`.
 */
function withComprehensions(doc: FlowDocument, offset: number, outer: Lookup): Lookup {
  const text = doc.text;
  const docText: TextOf = (n) => text.slice(n.startIndex, n.endIndex);
  let clauses: Node[] | undefined;
  return (name) => {
    const type = outer(name);
    if (type) return type;
    if (!clauses) {
      clauses = [];
      for (
        let n: Node | null = doc.tree.rootNode.descendantForIndex(Math.max(0, offset - 1));
        n;
        n = n.parent
      ) {
        if (!COMPREHENSIONS.has(n.type)) continue;
        for (const c of n.namedChildren) if (c?.type === 'for_in_clause') clauses.push(c);
      }
    }
    for (const clause of clauses) {
      const left = clause.childForFieldName('left');
      const right = clause.childForFieldName('right');
      if (!left || !right || right.endIndex > text.length) continue;
      const types = targetTypes(left, inferType(right, docText, outer), docText);
      if (types.has(name)) return types.get(name);
    }
    return undefined;
  };
}

const COMPREHENSIONS = new Set([
  'list_comprehension',
  'set_comprehension',
  'generator_expression',
  'dictionary_comprehension',
]);

/**
 * The snippet with the broken lines above the cursor's own statement masked (tolerant.ts), so an
 * unfinished `this.` or an unclosed call above does not swallow the line being typed.
 */
function maskAbove(raw: string): string {
  const lines = logicalLines(raw);
  const last = lines[lines.length - 1];
  if (last?.open) {
    // The cursor's own statement: only strings left open on its earlier lines are masked.
    lines.pop();
    const strings = [last.broken, ...(last.strings ?? [])].filter(
      (b) => b?.kind === 'string' && raw.indexOf('\n', b.end) >= 0,
    ) as Extract<Breakage, { kind: 'string' }>[];
    if (strings.length) lines.push({ ...last, broken: strings[0], strings: strings.slice(1) });
  }
  return lines.some((l) => l.broken) ? maskBroken(raw, lines) : raw;
}

/** Where the statement holding the cursor starts (a line start), judged from the last tree. */
function snippetStart(doc: FlowDocument, offset: number): number {
  const text = doc.text;
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const root = doc.tree.rootNode;
  let statement = statementAround(root.descendantForIndex(Math.max(0, offset - 1)));
  if (!statement) {
    // On a line of its own: it continues the statement above when that one is unfinished
    // (an argument list broken over lines, say).
    let above = lineStart - 1;
    while (above >= 0 && /\s/.test(text[above])) above--;
    const previous = above >= 0 ? statementAround(root.descendantForIndex(above)) : undefined;
    if (previous && (previous.type === 'ERROR' || previous.hasError)) statement = previous;
  }
  const inBody = (st: Node) => {
    const body = st.childForFieldName('body') ?? st.childForFieldName('consequence');
    return COMPOUND.has(st.type) && body !== null && body.startIndex < offset;
  };
  if (!statement || statement.startIndex >= offset || inBody(statement))
    return withPending(doc, lineStart, offset);
  const start = text.lastIndexOf('\n', statement.startIndex - 1) + 1;
  return linesBetween(text, start, offset) > MAX_SNIPPET_LINES ? lineStart : withPending(doc, start, offset);
}

/** Moves the snippet start up to unparsed edits just above it, so what they assign is known. */
function withPending(doc: FlowDocument, start: number, offset: number): number {
  const pending = doc.pendingStart;
  if (pending === undefined || pending >= start) return start;
  const pendingLine = doc.text.lastIndexOf('\n', pending - 1) + 1;
  return linesBetween(doc.text, pendingLine, offset) > MAX_PENDING_LINES ? start : pendingLine;
}

function linesBetween(text: string, start: number, end: number): number {
  let lines = 0;
  for (let i = text.indexOf('\n', start); i >= 0 && i < end; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

/** The statement (or the broken stretch, an ERROR node) a node belongs to; none between statements. */
function statementAround(node: Node | null): Node | undefined {
  let candidate: Node | undefined;
  for (let n = node; n; n = n.parent) {
    if (n.type === 'block' || n.type === 'module') break;
    const parentType = n.parent?.type ?? '';
    const statementLevel = parentType === 'block' || parentType === 'module';
    if (n.type === 'ERROR' || statementLevel) candidate = n;
    if (statementLevel || (n.type === 'ERROR' && COMPOUND.has(parentType))) break;
  }
  return candidate;
}

const OPENERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** The string quote and brackets still open at the end of `raw`, in closing order. */
function openTokens(parser: PythonParser, raw: string): { closers: string; inComment: boolean } {
  const tree = parser.parse(raw);
  const cursor = tree.walk();
  const stack: string[] = [];
  let quote: string | undefined;
  let inComment = false;
  try {
    for (;;) {
      if (cursor.gotoFirstChild()) continue;
      const type = cursor.nodeType;
      if (!cursor.nodeIsMissing) {
        if (type === 'string_start') quote = cursor.nodeText.replace(/^[a-zA-Z]+/, '');
        else if (type === 'string_end') quote = undefined;
        else if (quote === undefined) {
          if (OPENERS[type]) stack.push(OPENERS[type]);
          else if (stack[stack.length - 1] === type) stack.pop();
          else if (type === 'comment' && cursor.endIndex >= raw.length) inComment = true;
        }
      }
      while (!cursor.gotoNextSibling())
        if (!cursor.gotoParent()) return { closers: (quote ?? '') + stack.reverse().join(''), inComment };
    }
  } finally {
    cursor.delete();
    tree.delete();
  }
}

/**
 * Names assigned inside the snippet itself (edits not parsed yet), falling back to the document's
 * scopes. `lookup(limit)` sees the assignments that end before `limit`.
 */
function snippetLookup(tree: Tree, textOf: TextOf, outer: Lookup): (limit: number) => Lookup {
  const bindings = tree.rootNode
    .descendantsOfType(['assignment', 'for_statement'])
    .filter((n): n is Node => n !== null)
    .map((n) => {
      const target = n.childForFieldName('left');
      const value = n.childForFieldName('right');
      const visible = n.type === 'for_statement' ? (value?.endIndex ?? n.endIndex) : n.endIndex;
      return target?.type === 'identifier' && value
        ? { node: n, name: textOf(target), value, visible }
        : undefined;
    })
    .filter((b) => b !== undefined);
  const lookup =
    (limit: number): Lookup =>
    (name) => {
      for (let i = bindings.length - 1; i >= 0; i--) {
        const b = bindings[i];
        if (b.name !== name || b.visible > limit) continue;
        const type = inferType(b.value, textOf, lookup(b.node.startIndex));
        if (b.node.type !== 'for_statement') return type;
        return type?.kind === 'list' ? { kind: 'instance', cls: type.cls } : undefined;
      }
      return outer(name);
    };
  return lookup;
}

function classify(
  tree: Tree,
  snippet: string,
  cursor: number,
  docStart: number,
  lookup: Lookup,
): CursorContext {
  const textOf: TextOf = (n) => snippet.slice(n.startIndex, n.endIndex);
  const leaf = tree.rootNode.descendantForIndex(cursor + PLACEHOLDER.length - 1);
  if (!leaf) return { kind: 'none' };
  const call = callSite(leaf, cursor, textOf, lookup);

  if (leaf.type === 'identifier' && textOf(leaf).endsWith(PLACEHOLDER)) {
    const parent = leaf.parent;
    if (parent?.type === 'attribute' && parent.childForFieldName('attribute')?.equals(leaf)) {
      const object = parent.childForFieldName('object');
      return {
        kind: 'member',
        receiver: object ? inferType(object, textOf, lookup) : undefined,
        call,
      };
    }
    const topLevel =
      parent?.type === 'expression_statement' &&
      parent.parent?.type === 'module' &&
      leaf.startIndex === snippet.lastIndexOf('\n', leaf.startIndex - 1) + 1;
    return { kind: 'name', call, asArgument: parent?.type === 'argument_list', topLevel };
  }

  const str = leaf.type === 'string_content' ? leaf.parent : leaf.type === 'string' ? leaf : null;
  const open = str?.firstChild;
  if (str && open?.type === 'string_start' && open.endIndex <= cursor) {
    const container = str.parent;
    return {
      kind: 'string',
      contentStart: docStart + open.endIndex,
      call,
      direct: container?.type === 'argument_list' || container?.type === 'keyword_argument',
      status: comparedWithStatus(str, textOf, lookup),
      dictKey: isDictKey(str),
    };
  }
  return { kind: 'none', call };
}

/** `{'a|` (read as a set), `{'a|': 1}`: a key of a dict literal that is a keyword's value. */
function isDictKey(str: Node): boolean {
  let parent = str.parent;
  if (parent?.type === 'ERROR') parent = parent.parent; // `{'a': 1, '|'}`
  if (parent?.type === 'pair') {
    if (!parent.childForFieldName('key')?.equals(str)) return false;
    parent = parent.parent;
  }
  return (
    (parent?.type === 'dictionary' || parent?.type === 'set') && parent.parent?.type === 'keyword_argument'
  );
}

/** The innermost API call whose argument list holds the cursor. */
export function callSite(leaf: Node, cursor: number, textOf: TextOf, lookup: Lookup): CallSite | undefined {
  let list: Node | null = leaf;
  while (list && !(list.type === 'argument_list' && list.parent?.type === 'call')) list = list.parent;
  const fn = list?.parent?.childForFieldName('function');
  if (!list || fn?.type !== 'attribute') return undefined;
  const type = inferType(fn, textOf, lookup);
  if (type?.kind !== 'method') return undefined;
  const args = readArguments(list, textOf);
  let active = args.findIndex((a) => a.span.start <= cursor && cursor <= a.span.end);
  if (active < 0) active = args.filter((a) => a.span.end <= cursor).length;
  const activeArg = args[active];
  const typingName = activeArg?.kind === 'keyword' && activeArg.nameSpan && activeArg.nameSpan.end >= cursor;
  const activeText =
    activeArg?.kind === 'positional'
      ? textOf(list).slice(activeArg.span.start - list.startIndex, activeArg.span.end - list.startIndex)
      : '';
  const typing = activeText.replace(PLACEHOLDER, '');
  const first = args[0];
  const flowSlot = type.method.params.find((p) => p.kind === 'normal')?.values === 'flows';
  return {
    flow: type.flow ?? (flowSlot && first?.kind === 'positional' && first.str ? first.str.value : undefined),
    cls: type.cls,
    method: type.method,
    args,
    active,
    typing: /^[A-Za-z_]\w*$/.test(typing) ? typing : undefined,
    positionalBefore: args.slice(0, active).filter((a) => a.kind === 'positional').length,
    activeKeyword: activeArg?.kind === 'keyword' && !typingName ? activeArg.name : undefined,
    keywordsGiven: args.filter((a, i) => a.kind === 'keyword' && i !== active && a.name).map((a) => a.name!),
  };
}

/** `x.get('status') == '…'` (or `in ('…', …)`): the string is a status name. */
export function comparedWithStatus(str: Node, textOf: TextOf, lookup: Lookup): boolean {
  let node: Node = str;
  if (node.parent && ['tuple', 'list', 'set'].includes(node.parent.type)) node = node.parent;
  const comparison = node.parent;
  if (comparison?.type !== 'comparison_operator') return false;
  return comparison.namedChildren.some((other) => {
    if (!other || other.equals(node) || other.type !== 'call') return false;
    const fn = other.childForFieldName('function');
    const type = fn ? inferType(fn, textOf, lookup) : undefined;
    if (type?.kind !== 'method' || type.cls !== 'Execution' || !['get', 'load'].includes(type.method.name))
      return false;
    const args = other.childForFieldName('arguments');
    const first = args ? readArguments(args, textOf)[0] : undefined;
    return first?.str?.value === 'status';
  });
}

/** The catalogue parameter an argument of a call binds to. */
export function paramOfArgument(call: CallSite, index = call.active): Param | undefined {
  const arg = call.args[index];
  const method = call.method;
  const keyword = index === call.active ? call.activeKeyword : arg?.kind === 'keyword' ? arg.name : undefined;
  if (keyword !== undefined)
    return (
      method.params.find((p) => p.name === keyword && (p.kind === 'normal' || p.kind === 'keyword')) ??
      method.params.find((p) => p.kind === 'kwargs')
    );
  if (arg?.kind === 'splat') return undefined;
  const positional = method.params.filter((p) => p.kind === 'normal');
  const before =
    index === call.active
      ? call.positionalBefore
      : call.args.slice(0, index).filter((a) => a.kind === 'positional').length;
  const slot = positional[before] ?? method.params.find((p) => p.kind === 'varargs');
  if (slot || index !== call.active || !call.typing) return slot;
  // No positional place left: the name being typed is the start of a keyword.
  return method.params.find(
    (p) => (p.kind === 'keyword' || p.kind === 'normal') && p.name.startsWith(call.typing!),
  );
}
