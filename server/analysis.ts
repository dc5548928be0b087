// What a flow file holds, read once per parse: scopes (functions, classes) with typed parameters
// and variables, calls into the API, unknown members, `this.flow('name')` references and syntax
// errors. Each top-level statement is one unit; units the edit did not touch are kept (shifted)
// from the previous parse, so a keystroke in a 5,000-line flow re-reads one function, not all.
import type { Node, Query, Tree, TreeCursor } from 'web-tree-sitter';
import { CLASSES, findMethod, moduleMembers, type ClassName, type Method } from './catalogue';
import {
  annotationType,
  attributeType,
  inferType,
  moduleMemberType,
  targetTypes,
  type ApiType,
  type TextOf,
} from './inference';
import { drain, UNLIMITED, type Slice, type Steps } from './background';
import type { PythonParser } from './parser';
import { detached, readArguments, spanOf, stringValue, type ArgInfo, type Span } from './syntax';
import { logicalLines, maskBroken, type LogicalLine } from './tolerant';

export interface ParamInfo {
  name: string;
  span: Span;
  kind: 'normal' | 'varargs' | 'keyword' | 'kwargs';
  hasDefault: boolean;
  annotated: boolean;
  type?: ApiType;
}

export interface Binding {
  name: string;
  /** Where the name starts to hold this value (the end of the assignment). */
  at: Span;
  type?: ApiType;
  /** `c = helper(this)`: the local function whose return value it holds (typed at lookup). */
  call?: string;
}

export interface ScopeInfo {
  kind: 'function' | 'class';
  name: string;
  range: Span;
  nameSpan: Span;
  paramsSpan?: Span;
  /** From the definition to the next statement at the same level: where its body may grow. */
  extent: Span;
  /** Column of the definition's first line; body lines are indented further. */
  column: number;
  params: ParamInfo[];
  bindings: Binding[];
  children: ScopeInfo[];
  parent?: ScopeInfo;
  /** What a function returns, when that is API (`return this.flow('a')`). */
  returns?: ApiType;
}

/** `receiver.name` where the receiver is API and has no such member. */
export interface UnknownMember {
  receiver: ApiType;
  name: string;
  span: Span;
}

export interface ApiCall {
  cls: ClassName;
  method: Method;
  nameSpan: Span;
  span: Span;
  argsSpan: Span;
  args: ArgInfo[];
}

export interface FlowRef {
  name: string;
  /** The string's content. */
  span: Span;
  call: ApiCall;
  /**
   * The inputs the call passes: keywords that are no parameter or field, and the keys of
   * `inputs=` / `input_value=` given as `{…}` or `dict(…)`.
   */
  passed: { name: string; span: Span; /** After the keyword or the key's closing quote. */ after: Span }[];
  /** The call passes inputs we cannot list (`**kw`, `inputs=data`, `{key: …}` with a computed key). */
  opaque: boolean;
}

export interface SyntaxProblem {
  span: Span;
  message: string;
}

export interface Unit {
  span: Span;
  /** Every span of the unit, so a reused unit is shifted in one loop. */
  spans: Span[];
  scopes: ScopeInfo[];
  unknownMembers: UnknownMember[];
  calls: ApiCall[];
  flowRefs: FlowRef[];
}

export interface Analysis {
  units: Unit[];
  /** Syntax errors of the whole file (few; recomputed on every parse). */
  syntax: SyntaxProblem[];
  /** Names the imports bind: `flow_api` (or its alias) and names imported from it. */
  imports: Map<string, ApiType>;
  importsFlowApi: boolean;
  handler?: ScopeInfo;
  /** The functions defined at the top level, by name. */
  functions?: Map<string, ScopeInfo>;
  /** Whether this is a flow file the server speaks about at all. */
  isFlow: boolean;
}

/** How the previous analysis maps onto the new tree. */
export interface Previous {
  analysis: Analysis;
  /** Old offset → new offset, or undefined when an edit replaced it. */
  mapOffset(offset: number): number | undefined;
  /** Where the text or the tree changed since the previous parse (new coordinates). */
  changed: Span[];
  /** Where the text changed (new coordinates); `changed` less the tree's changed ranges. */
  edited?: Span[];
  /** The previous tree, edited to the new text (it is deleted after `analyze`). */
  tree?: Tree;
}

const QUERY = `
(function_definition name: (identifier) @name parameters: (parameters) @params) @function
(class_definition name: (identifier) @name) @class
(assignment left: (_) @target) @assignment
(for_statement left: (_) @target right: (_) @iter) @for
(return_statement (_) @value) @return
(call function: (attribute object: (_) @object attribute: (identifier) @method) arguments: (_) @args) @call
(attribute object: (_) @object attribute: (identifier) @member) @attribute
`;
const MAIN_CAPTURES = new Set(['function', 'class', 'assignment', 'for', 'call', 'attribute', 'return']);

/** Handler parameters by position when they carry no annotation. */
const HANDLER_PARAM_TYPES: (ClassName | undefined)[] = ['System', 'Execution', undefined];
/** The names flows use by convention, typed even where no handler signature says so. */
const CONVENTIONAL = new Map<string, ApiType>([
  ['this', { kind: 'instance', cls: 'Execution' }],
  ['system', { kind: 'instance', cls: 'System' }],
]);

/** Resolves `name` at `offset` inside `scope`: variables, then parameters, outer scopes, imports. */
export function resolveName(
  analysis: Pick<Analysis, 'imports' | 'functions'>,
  scope: ScopeInfo | undefined,
  name: string,
  offset: number,
): ApiType | undefined {
  const dot = name.indexOf('.');
  if (dot > 0) return resolveSelfAttribute(scope, name.slice(0, dot), name.slice(dot));
  for (let s = scope; s; s = s.parent) {
    if (s.kind === 'class' && s !== scope) continue; // class bodies are not visible from methods
    for (let i = s.bindings.length - 1; i >= 0; i--) {
      const b = s.bindings[i];
      if (b.name === name && b.at.start <= offset)
        return b.type ?? (b.call ? functionType(analysis, s, b.call)?.returns : undefined);
    }
    const param = s.params.find((p) => p.name === name);
    if (param) return param.type;
    const fn = s.children.find((c) => c.kind === 'function' && c.name === name);
    if (fn) return { kind: 'function', returns: fn.returns };
  }
  if (analysis.imports.has(name)) return analysis.imports.get(name);
  const fn = analysis.functions?.get(name);
  if (fn) return { kind: 'function', returns: fn.returns };
  return CONVENTIONAL.get(name);
}

/** A local function as seen from `scope`. */
function functionType(
  analysis: Pick<Analysis, 'functions'>,
  scope: ScopeInfo | undefined,
  name: string,
): { kind: 'function'; returns?: ApiType } | undefined {
  for (let s = scope; s; s = s.parent) {
    const fn = s.children.find((c) => c.kind === 'function' && c.name === name);
    if (fn) return { kind: 'function', returns: fn.returns };
  }
  const fn = analysis.functions?.get(name);
  return fn ? { kind: 'function', returns: fn.returns } : undefined;
}

/** `self.this` in a method: what the class's methods assigned to `self.this`. */
function resolveSelfAttribute(
  scope: ScopeInfo | undefined,
  object: string,
  attr: string,
): ApiType | undefined {
  for (let s = scope; s; s = s.parent) {
    if (s.kind !== 'function' || s.parent?.kind !== 'class') continue;
    if (s.params[0]?.name !== object) return undefined;
    return s.parent.bindings.find((b) => b.name === attr && b.type)?.type;
  }
  return undefined;
}

/** The innermost scope around `offset`; `indent` is the indentation of the line being typed. */
export function scopeAt(analysis: Analysis, offset: number, indent: number): ScopeInfo | undefined {
  const inside = (s: ScopeInfo) =>
    s.range.start < offset && offset <= s.extent.end && (offset <= s.range.end || indent > s.column);
  let scopes = unitAt(analysis, offset)?.scopes ?? [];
  let found: ScopeInfo | undefined;
  for (;;) {
    const next = scopes.find(inside);
    if (!next) return found;
    found = next;
    scopes = next.children;
  }
}

/** The last unit (top-level statement) starting before `offset`: the one a cursor there is in. */
function unitAt(analysis: Analysis, offset: number): Unit | undefined {
  const units = analysis.units;
  let lo = 0;
  let hi = units.length - 1;
  let best: Unit | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (units[mid].span.start < offset) {
      best = units[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** The masked text and its tree behind an analysis (see `Analyzer.tolerant`). */
interface MaskedState {
  text: string;
  tree: Tree;
}

/** A `.` at the end of a line: a dangling dot tree-sitter may join to the next line. */
const DOT_AT_EOL = /\.[ \t]*(?:\r?\n|$)/g;

/**
 * Where broken lines may be (line-aligned, merged): around each error of the tree and each line
 * ending in `.` outside a comment — the statement there with its neighbours. The scanner of
 * tolerant.ts reads only these, not the whole file.
 */
function brokenRegions(tree: Tree, text: string, errors: Span[]): Span[] {
  const spots = [...errors];
  DOT_AT_EOL.lastIndex = 0;
  for (let m = DOT_AT_EOL.exec(text); m; m = DOT_AT_EOL.exec(text)) {
    const lineStart = text.lastIndexOf('\n', m.index - 1) + 1;
    if (text.slice(lineStart, m.index).includes('#')) continue; // in a comment (or a string with one)
    spots.push({ start: m.index, end: m.index + 1 });
    if (m[0].length === 0) break;
  }
  if (!spots.length) return [];
  const root = tree.rootNode;
  const regions = spots.map((spot) => {
    let node: Node | null = root.descendantForIndex(spot.start, Math.max(spot.start, spot.end - 1));
    while (node && node.parent && node.parent.type !== 'block' && node.parent.type !== 'module')
      node = node.parent;
    let start = spot.start;
    let end = spot.end;
    if (node && node.parent) {
      start = Math.min(start, (node.previousNamedSibling ?? node).startIndex);
      end = Math.max(end, (node.nextNamedSibling ?? node).endIndex);
    }
    start = text.lastIndexOf('\n', start - 1) + 1;
    const nl = text.indexOf('\n', end);
    return { start, end: nl < 0 ? text.length : nl };
  });
  regions.sort((a, b) => a.start - b.start);
  const merged: Span[] = [];
  for (const r of regions) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}

export class Analyzer {
  private readonly query: Query;
  private readonly masked = new WeakMap<Analysis, MaskedState>();

  constructor(private readonly parser: PythonParser) {
    this.query = parser.query(QUERY);
  }

  /** Frees what an analysis holds beyond its own objects (call when a document drops it). */
  release(analysis: Analysis): void {
    this.masked.get(analysis)?.tree.delete();
    this.masked.delete(analysis);
  }

  /**
   * The tree to analyse: `tree` itself, or, when lines are broken (see tolerant.ts), the tree of
   * the text with those lines masked, parsed incrementally from the previous masked tree.
   * Returns the syntax problems too, said where the lines are broken.
   */
  private *tolerant(
    tree: Tree,
    text: string,
    previous: Previous | undefined,
    slice: Slice,
  ): Steps<{ work: Tree; state?: MaskedState; changed?: Span[]; syntax: SyntaxProblem[] }> {
    const root = tree.rootNode;
    const old = previous ? this.masked.get(previous.analysis) : undefined;
    if (previous) this.masked.delete(previous.analysis);
    const plainText: TextOf = (n) => text.slice(n.startIndex, n.endIndex);
    let lines: LogicalLine[] = [];
    let maskedText = text;
    let errors: Span[] = [];
    const regions = brokenRegions(tree, text, (errors = root.hasError ? errorSpans(root) : []));
    if (regions.length) {
      lines = regions.flatMap((r) => logicalLines(text, r.start, r.end));
      const confirmed = (line: LogicalLine, i: number) => {
        if (line.broken?.kind === 'dot') return true;
        const end = lines[i + 1]?.end ?? text.length;
        return errors.some((e) => e.start <= end && e.end >= line.start);
      };
      const keep = new Set(lines.filter((l, i) => l.broken && !confirmed(l, i)));
      lines = lines.filter((l) => l.broken && !keep.has(l));
      maskedText = maskBroken(text, lines);
    }
    // The units were read from the previous work tree (masked or not): what changed for them is
    // the text and the difference between that tree and the new work tree, not the difference
    // between the plain trees (a broken line may turn the whole plain tree into one ERROR).
    const edited = previous?.edited ?? [];
    if (maskedText === text) {
      const syntax = root.hasError ? syntaxProblems(root, plainText) : [];
      if (!old) return { work: tree, syntax };
      // Back from a masked tree: compare it with the plain text's tree, parsed from it.
      const edit = singleEdit(old.text, text);
      if (edit) old.tree.edit(edit);
      let plain: Tree | undefined;
      try {
        plain = yield* this.parser.parseSteps(text, old.tree, slice);
      } finally {
        if (!plain) old.tree.delete(); // stopped in the parse: nothing else holds it now
      }
      const changed = [
        ...edited,
        ...old.tree.getChangedRanges(plain).map((r) => ({ start: r.startIndex, end: r.endIndex })),
      ];
      if (edit) changed.push({ start: edit.startIndex, end: edit.newEndIndex });
      plain.delete();
      old.tree.delete();
      return { work: tree, changed, syntax };
    }
    // Parsed incrementally: from the previous masked tree, or from the previous plain tree (the
    // mask and the user's edit are then the only changes), or from a copy of this one.
    const base = old ?? (previous?.tree ? { text, tree: previous.tree.copy() } : { text, tree: tree.copy() });
    const changed: Span[] = [...edited];
    const edit = singleEdit(base.text, maskedText);
    if (edit) base.tree.edit(edit);
    let masked: Tree | undefined;
    try {
      masked = yield* this.parser.parseSteps(maskedText, base.tree, slice);
    } finally {
      if (!masked) base.tree.delete(); // stopped in the parse
    }
    for (const r of base.tree.getChangedRanges(masked))
      changed.push({ start: r.startIndex, end: r.endIndex });
    if (edit) changed.push({ start: edit.startIndex, end: edit.newEndIndex });
    base.tree.delete();
    const maskedOf: TextOf = (n) => maskedText.slice(n.startIndex, n.endIndex);
    const syntax = lines.flatMap((l) => brokenProblems(l));
    if (masked.rootNode.hasError) syntax.push(...syntaxProblems(masked.rootNode, maskedOf));
    return { work: masked, state: { text: maskedText, tree: masked }, changed, syntax };
  }

  analyze(tree: Tree, text: string, previous?: Previous): Analysis {
    return drain(this.analyzeSteps(tree, text, previous, UNLIMITED));
  }

  /**
   * `analyze`, yielding when `slice` expires (between parses and between units). Stopped before
   * its end, it frees what it made; `previous` must then not be used again (its masked tree may be
   * gone), so the next analysis of that document starts afresh.
   */
  *analyzeSteps(tree: Tree, text: string, previous: Previous | undefined, slice: Slice): Steps<Analysis> {
    // Names and strings the units keep are copies: a slice would keep this version of the whole
    // text alive for as long as its unit is reused (see `detached` in syntax.ts).
    const tolerant = yield* this.tolerant(tree, text, previous, slice);
    let done = false;
    try {
      const analysis = yield* this.readUnits(tolerant, text, previous, slice);
      done = true;
      return analysis;
    } finally {
      if (!done) tolerant.state?.tree.delete();
    }
  }

  private *readUnits(
    tolerant: { work: Tree; state?: MaskedState; changed?: Span[]; syntax: SyntaxProblem[] },
    text: string,
    previous: Previous | undefined,
    slice: Slice,
  ): Steps<Analysis> {
    if (slice.expired()) yield;
    const tree = tolerant.work;
    const syntax = tolerant.syntax;
    const textOf: TextOf = (n) => detached((tolerant.state?.text ?? text).slice(n.startIndex, n.endIndex));
    // Top-level statements are read through a cursor: Node objects only where needed.
    const statements: { start: number; end: number; node: Node }[] = [];
    const importNodes: Node[] = [];
    let handlerParams = -1;
    forEachStatement(tree, (cursor) => {
      statements.push({ start: cursor.startIndex, end: cursor.endIndex, node: cursor.currentNode });
      const type = cursor.nodeType;
      if (type === 'import_statement' || type === 'import_from_statement')
        importNodes.push(cursor.currentNode);
      if (type === 'function_definition' || type === 'decorated_definition') {
        const node = cursor.currentNode;
        const fn = type === 'decorated_definition' ? node.childForFieldName('definition') : node;
        const name = fn?.childForFieldName('name');
        if (name && textOf(name) === 'handler')
          handlerParams = fn?.childForFieldName('parameters')?.namedChildCount ?? 0;
      }
    });
    const { names: imports, importsFlowApi } = readImports(importNodes, textOf);
    if (!importsFlowApi && handlerParams < 2) {
      // Not a flow: the server says nothing about it, so there is nothing more to read.
      if (tolerant.state) {
        const analysis: Analysis = { units: [], syntax, imports, importsFlowApi, isFlow: false };
        this.masked.set(analysis, tolerant.state);
        return analysis;
      }
      return { units: [], syntax, imports, importsFlowApi, isFlow: false };
    }
    const envKey = [...imports].map(([k, v]) => `${k}:${JSON.stringify(v)}`).join(',');
    const reusable = previous && previousEnvKey.get(previous.analysis) === envKey ? previous : undefined;
    const oldUnits = new Map<number, Unit>();
    if (reusable) {
      for (const u of reusable.analysis.units) {
        const start = reusable.mapOffset(u.span.start);
        const end = reusable.mapOffset(u.span.end);
        if (start !== undefined && end !== undefined && end - start === u.span.end - u.span.start)
          oldUnits.set(start, u);
      }
    }
    const changed = tolerant.changed ?? previous?.changed ?? [];
    const units: Unit[] = [];
    for (const { start, end, node } of statements) {
      if (slice.expired()) yield;
      const old = oldUnits.get(start);
      const touched = changed.some((c) => c.start <= end && c.end >= start);
      if (old && !touched && old.span.end - old.span.start === end - start) {
        const delta = start - old.span.start;
        if (delta) {
          for (const s of old.spans) {
            s.start += delta;
            s.end += delta;
          }
        }
        units.push(old);
      } else {
        units.push(this.analyzeUnit(node, textOf, imports));
      }
    }
    units.forEach((unit, i) => {
      const extentEnd = units[i + 1]?.span.start ?? text.length;
      for (const scope of unit.scopes) scope.extent = { start: scope.range.start, end: extentEnd };
      setColumns(unit.scopes, text);
    });
    const handler = units.flatMap((u) => u.scopes).find((s) => s.kind === 'function' && s.name === 'handler');
    const functions = new Map<string, ScopeInfo>();
    for (const u of units) for (const s of u.scopes) if (s.kind === 'function') functions.set(s.name, s);
    const analysis: Analysis = {
      units,
      syntax,
      imports,
      importsFlowApi,
      handler,
      functions,
      isFlow: importsFlowApi || (handler !== undefined && handler.params.length >= 2),
    };
    previousEnvKey.set(analysis, envKey);
    if (tolerant.state) this.masked.set(analysis, tolerant.state);
    return analysis;
  }

  private analyzeUnit(node: Node, textOf: TextOf, imports: Map<string, ApiType>): Unit {
    const spans: Span[] = [];
    const track = (n: Node): Span => {
      const s = spanOf(n);
      spans.push(s);
      return s;
    };
    const unit: Unit = {
      span: track(node),
      spans,
      scopes: [],
      unknownMembers: [],
      calls: [],
      flowRefs: [],
    };

    const matches = this.query
      .matches(node)
      .map((m) => {
        const main = m.captures.find((c) => MAIN_CAPTURES.has(c.name));
        const get = (name: string) => m.captures.find((c) => c.name === name)?.node ?? null;
        return main ? { kind: main.name, node: main.node, get } : undefined;
      })
      .filter((m) => m !== undefined)
      .sort((a, b) => a.node.startIndex - b.node.startIndex);

    const memo = new Map<number, ApiType | undefined>();
    const stack: ScopeInfo[] = [];
    const env = { imports };
    for (const m of matches) {
      const at = m.node.startIndex;
      while (stack.length && stack[stack.length - 1].range.end <= at) stack.pop();
      const scope = stack[stack.length - 1];
      const lookup = (name: string) => resolveName(env, scope, name, at);
      const infer = (n: Node | null) => (n ? inferType(n, textOf, lookup, memo) : undefined);

      switch (m.kind) {
        case 'function':
        case 'class': {
          const nameNode = m.get('name');
          if (!nameNode) break;
          const params = m.get('params');
          const isHandler = m.kind === 'function' && !scope && textOf(nameNode) === 'handler';
          const created: ScopeInfo = {
            kind: m.kind,
            name: textOf(nameNode),
            range: track(m.node),
            nameSpan: track(nameNode),
            paramsSpan: params ? track(params) : undefined,
            extent: { start: m.node.startIndex, end: m.node.endIndex },
            column: 0,
            params: params ? readParams(params, textOf, lookup, isHandler, track) : [],
            bindings: [],
            children: [],
            parent: scope,
          };
          (scope ? scope.children : unit.scopes).push(created);
          stack.push(created);
          break;
        }
        case 'assignment':
        case 'for': {
          const target = m.get('target');
          if (!scope || !target) break;
          const end = m.kind === 'for' ? (m.get('iter') ?? m.node).endIndex : m.node.endIndex;
          const bind = (name: string, type: ApiType | undefined, on = scope, call?: string) => {
            const binding: Binding = { name, at: { start: end, end }, type, call };
            spans.push(binding.at);
            on.bindings.push(binding);
          };
          const right = m.node.childForFieldName('right');
          if (m.kind === 'for') {
            const types = targetTypes(target, infer(m.get('iter')), textOf);
            for (const name of targetNames(target, textOf)) bind(name, types.get(name));
          } else if (target.type === 'identifier') {
            const type = annotationType(m.node.childForFieldName('type'), textOf, lookup) ?? infer(right);
            const fn = right?.type === 'call' ? right.childForFieldName('function') : null;
            bind(textOf(target), type, scope, !type && fn?.type === 'identifier' ? textOf(fn) : undefined);
          } else if (target.type === 'attribute') {
            // `self.this = this` in a method: an attribute of the class's objects
            const object = target.childForFieldName('object');
            const attr = target.childForFieldName('attribute');
            const type = infer(right);
            if (
              type &&
              attr &&
              object?.type === 'identifier' &&
              scope.kind === 'function' &&
              scope.parent?.kind === 'class' &&
              scope.params[0]?.name === textOf(object)
            )
              bind(`.${textOf(attr)}`, type, scope.parent);
          } else if (target.type === 'pattern_list' || target.type === 'tuple_pattern') {
            // `a, b = this.flow('a'), this.flow('b')`
            const values =
              right?.type === 'expression_list' || right?.type === 'tuple'
                ? right.namedChildren.filter((c) => c?.type !== 'comment')
                : [];
            const targets = target.namedChildren.filter((c) => c?.type !== 'comment');
            targets.forEach((t, i) => {
              if (t?.type === 'identifier')
                bind(textOf(t), values.length === targets.length ? infer(values[i] ?? null) : undefined);
            });
          }
          break;
        }
        case 'return': {
          if (scope?.kind !== 'function' || scope.returns) break;
          const type = infer(m.get('value'));
          if (type && type.kind !== 'function') scope.returns = type;
          break;
        }
        case 'attribute': {
          const member = m.get('member');
          const object = m.get('object');
          if (!member || !object) break;
          // Masked out before the analysis (tolerant.ts); never an unknown member.
          if (danglingDot(m.node, object, member, textOf)) break;
          const receiver = infer(object);
          const name = textOf(member);
          if (provesMissing(receiver, name) && !attributeType(receiver, name))
            unit.unknownMembers.push({ receiver: receiver!, name, span: track(member) });
          break;
        }
        case 'call': {
          const receiver = infer(m.get('object'));
          const nameNode = m.get('method');
          const argsNode = m.get('args');
          const object = m.get('object');
          if (
            scope &&
            object?.type === 'identifier' &&
            nameNode &&
            argsNode &&
            ['append', 'add', 'insert'].includes(textOf(nameNode)) &&
            (receiver === undefined || receiver.kind === 'list')
          ) {
            // `calls.append(this.flow('a'))`: a list of executions from here on
            const item = infer(argsNode.namedChildren[textOf(nameNode) === 'insert' ? 1 : 0] ?? null);
            if (item?.kind === 'instance' && (!receiver || receiver.cls !== item.cls)) {
              const end = m.node.endIndex;
              const binding: Binding = {
                name: textOf(object),
                at: { start: end, end },
                type: { kind: 'list', cls: item.cls, container: 'list' },
              };
              spans.push(binding.at);
              scope.bindings.push(binding);
            }
          }
          if (receiver?.kind !== 'instance' || !nameNode || !argsNode) break;
          const method = findMethod(receiver.cls, textOf(nameNode));
          if (!method) break;
          const args = readArguments(argsNode, textOf);
          for (const a of args) {
            spans.push(a.span);
            if (a.nameSpan) spans.push(a.nameSpan);
            if (a.str) spans.push(a.str.span);
          }
          const call: ApiCall = {
            cls: receiver.cls,
            method,
            nameSpan: track(nameNode),
            span: track(m.node),
            argsSpan: track(argsNode),
            args,
          };
          unit.calls.push(call);
          const first = args[0];
          const slot = method.params.find((p) => p.kind === 'normal');
          if (slot?.values === 'flows' && first?.kind === 'positional' && first.str) {
            const { passed, opaque } = passedInputs(argsNode, method, textOf);
            for (const p of passed) spans.push(p.span, p.after);
            unit.flowRefs.push({ name: first.str.value, span: first.str.span, call, passed, opaque });
          }
          break;
        }
      }
    }
    return unit;
  }
}

/**
 * Whether a missing `receiver.name` is certainly an AttributeError: on the flow_api module and
 * its submodules, and on instances of plain flow_api classes, whose every public member the
 * generated data lists (methods, attributes, inherited ones). Enums and exceptions also have the
 * members of `str` / `Exception`, and class objects those of `type`, so those stay unchecked;
 * `_private` names are left alone too.
 */
function provesMissing(receiver: ApiType | undefined, name: string): boolean {
  if (name.startsWith('_')) return false;
  if (receiver?.kind === 'module') return true;
  return receiver?.kind === 'instance' && CLASSES[receiver.cls]?.kind === 'class';
}

const DANGLING_DOT =
  'Syntax error: a name must follow `.` — complete the attribute or method name, or remove the dot.';
const BRACKETED = new Set([
  'argument_list',
  'parenthesized_expression',
  'list',
  'tuple',
  'dictionary',
  'set',
  'subscript',
  'generator_expression',
  'list_comprehension',
  'dictionary_comprehension',
  'set_comprehension',
  'parameters',
]);

/**
 * tree-sitter-python reads `child.` + newline + `x = 1` as `child.x = 1`; Python does not (outside
 * brackets a statement ends at the line break). Returns the dot's span in that case.
 */
function danglingDot(attribute: Node, object: Node, member: Node, textOf: TextOf): Span | undefined {
  const between = textOf(attribute).slice(
    object.endIndex - attribute.startIndex,
    member.startIndex - attribute.startIndex,
  );
  const newline = between.indexOf('\n');
  if (newline < 0 || between.slice(0, newline).trimEnd().endsWith('\\')) return undefined;
  for (let n = attribute.parent; n; n = n.parent) if (BRACKETED.has(n.type)) return undefined;
  const dot = object.endIndex + between.indexOf('.');
  return { start: dot, end: dot + 1 };
}

/** Calls `visit` with a cursor on each top-level statement (comments left out). */
function forEachStatement(tree: Tree, visit: (cursor: TreeCursor) => void): void {
  const cursor = tree.walk();
  try {
    if (!cursor.gotoFirstChild()) return;
    do {
      if (cursor.nodeIsNamed && cursor.nodeType !== 'comment') visit(cursor);
    } while (cursor.gotoNextSibling());
  } finally {
    cursor.delete();
  }
}

/** The import environment of each analysis, to know when reused units would resolve differently. */
const previousEnvKey = new WeakMap<Analysis, string>();

function setColumns(scopes: ScopeInfo[], text: string): void {
  for (const s of scopes) {
    s.column = s.range.start - (text.lastIndexOf('\n', s.range.start - 1) + 1);
    // A nested scope may grow up to its next sibling or the end of its parent's extent.
    for (const [j, c] of s.children.entries()) {
      const end = s.children[j + 1]?.range.start ?? s.extent.end;
      c.extent = { start: c.range.start, end: Math.max(c.range.end, end) };
    }
    setColumns(s.children, text);
  }
}

interface Imports {
  names: Map<string, ApiType>;
  importsFlowApi: boolean;
}

function readImports(statements: Node[], textOf: TextOf): Imports {
  const names = new Map<string, ApiType>();
  let importsFlowApi = false;
  for (const st of statements) {
    if (st.type === 'import_statement') {
      for (const n of st.namedChildren) {
        const name = n?.type === 'aliased_import' ? n.childForFieldName('name') : n;
        const path = name ? textOf(name).split('.') : [];
        if (!n || !name || path[0] !== 'flow_api') continue;
        importsFlowApi = true;
        const alias = n.type === 'aliased_import' ? n.childForFieldName('alias') : null;
        // `import flow_api.exceptions` binds `flow_api`; `… as exc` binds the submodule itself.
        if (alias)
          names.set(
            textOf(alias),
            path.length > 1 ? { kind: 'module', module: path[1] } : { kind: 'module' },
          );
        else names.set('flow_api', { kind: 'module' });
      }
    } else if (st.type === 'import_from_statement') {
      const from = st.childForFieldName('module_name');
      const moduleName = from ? textOf(from) : '';
      if (!from || (moduleName !== 'flow_api' && !moduleName.startsWith('flow_api.'))) continue;
      importsFlowApi = true;
      // `from flow_api.exceptions import X`: members of the submodule.
      const submodule = moduleName === 'flow_api' ? undefined : moduleName.slice('flow_api.'.length);
      for (const n of st.namedChildren) {
        if (!n || n.equals(from)) continue;
        if (n.type === 'wildcard_import') {
          for (const m of moduleMembers(submodule)) {
            const type = moduleMemberType(m.name, submodule);
            if (type) names.set(m.name, type);
          }
          continue;
        }
        const name = n.type === 'aliased_import' ? n.childForFieldName('name') : n;
        const alias = n.type === 'aliased_import' ? n.childForFieldName('alias') : n;
        const type = name ? moduleMemberType(textOf(name), submodule) : undefined;
        if (type && alias) names.set(textOf(alias), type);
      }
    }
  }
  return { names, importsFlowApi };
}

function readParams(
  params: Node,
  textOf: TextOf,
  lookup: (name: string) => ApiType | undefined,
  isHandler: boolean,
  track: (n: Node) => Span,
): ParamInfo[] {
  const out: ParamInfo[] = [];
  let keywordOnly = false;
  for (const p of params.namedChildren) {
    if (!p) continue;
    if (p.type === 'keyword_separator') {
      keywordOnly = true;
      continue;
    }
    if (p.type === 'positional_separator' || p.type === 'comment') continue;
    const typeNode = p.childForFieldName('type');
    let nameNode: Node | null = p;
    if (p.type === 'default_parameter' || p.type === 'typed_default_parameter')
      nameNode = p.childForFieldName('name');
    else if (p.type === 'typed_parameter') nameNode = p.namedChild(0); // the name comes before the type
    let kind: ParamInfo['kind'] = keywordOnly ? 'keyword' : 'normal';
    if (nameNode?.type === 'list_splat_pattern' || nameNode?.type === 'dictionary_splat_pattern') {
      kind = nameNode.type === 'list_splat_pattern' ? 'varargs' : 'kwargs';
      if (kind === 'varargs') keywordOnly = true;
      nameNode = nameNode.namedChild(0);
    }
    if (!nameNode || nameNode.type !== 'identifier') continue;
    const name = textOf(nameNode);
    const positional = kind === 'normal' ? out.filter((q) => q.kind === 'normal').length : -1;
    const annotated = annotationType(typeNode, textOf, lookup);
    const handlerType = isHandler && positional >= 0 ? HANDLER_PARAM_TYPES[positional] : undefined;
    const type: ApiType | undefined =
      annotated ??
      (typeNode
        ? undefined
        : handlerType
          ? { kind: 'instance', cls: handlerType }
          : isHandler
            ? undefined
            : CONVENTIONAL.get(name));
    out.push({
      name,
      span: track(nameNode),
      kind,
      hasDefault: p.type === 'default_parameter' || p.type === 'typed_default_parameter',
      annotated: typeNode !== null,
      type,
    });
  }
  return out;
}

/** The inputs a `this.flow('child', …)` call passes (see `FlowRef.passed`). */
function passedInputs(
  args: Node,
  method: Method,
  textOf: TextOf,
): { passed: FlowRef['passed']; opaque: boolean } {
  const passed: FlowRef['passed'] = [];
  let opaque = false;
  const params = new Set(method.params.map((p) => p.name));
  const keywordInput = (name: Node) =>
    passed.push({
      name: textOf(name),
      span: spanOf(name),
      after: { start: name.endIndex, end: name.endIndex },
    });
  /** `{'a': 1}` or `dict(a=1)` (or `dict({'a': 1}, b=2)`): its keys; anything else is opaque. */
  const dictInputs = (value: Node | null): void => {
    if (value?.type === 'none') return;
    if (value?.type === 'dictionary') {
      for (const pair of value.namedChildren) {
        if (pair?.type === 'dictionary_splat') opaque = true;
        if (pair?.type !== 'pair') continue;
        const key = pair.childForFieldName('key');
        const str = key ? stringValue(key, textOf) : undefined;
        if (str)
          passed.push({
            name: str.value,
            span: str.span,
            after: { start: key!.endIndex, end: key!.endIndex },
          });
        else opaque = true;
      }
      return;
    }
    const f = value?.type === 'call' ? value.childForFieldName('function') : null;
    const dictArgs =
      f?.type === 'identifier' && textOf(f) === 'dict' ? value!.childForFieldName('arguments') : null;
    if (dictArgs?.type !== 'argument_list') {
      opaque = true;
      return;
    }
    for (const a of dictArgs.namedChildren) {
      if (!a || a.type === 'comment') continue;
      if (a.type === 'keyword_argument') {
        const name = a.childForFieldName('name');
        if (name) keywordInput(name);
      } else dictInputs(a);
    }
  };
  for (const a of args.namedChildren) {
    if (!a) continue;
    if (a.type === 'list_splat' || a.type === 'dictionary_splat') opaque = true;
    if (a.type !== 'keyword_argument') continue;
    const name = a.childForFieldName('name');
    if (!name) continue;
    const keyword = textOf(name);
    // Both are the child's inputs (`input_value` merged under the others).
    if (keyword === 'inputs' || keyword === 'input_value') dictInputs(a.childForFieldName('value'));
    else if (!params.has(keyword)) keywordInput(name);
  }
  return { passed, opaque };
}

/** The names a `for` target binds (`c`, `i, c`, `(k, v)`). */
function targetNames(target: Node, textOf: TextOf): string[] {
  if (target.type === 'identifier') return [textOf(target)];
  if (target.type === 'pattern_list' || target.type === 'tuple_pattern')
    return target.namedChildren.filter((c) => c?.type === 'identifier').map((c) => textOf(c!));
  return [];
}

/** Where the tree has ERROR nodes or missing tokens. */
function errorSpans(root: Node): Span[] {
  const out: Span[] = [];
  const visit = (n: Node) => {
    if (n.isMissing || n.type === 'ERROR') out.push(spanOf(n));
    else for (const c of n.children) if (c && (c.hasError || c.isMissing)) visit(c);
  };
  visit(root);
  return out;
}

/** The one edit that turns `before` into `after` (common prefix and suffix kept). */
function singleEdit(before: string, after: string) {
  if (before === after) return undefined;
  let start = 0;
  const min = Math.min(before.length, after.length);
  while (start < min && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let tail = 0;
  while (
    tail < min - start &&
    before.charCodeAt(before.length - 1 - tail) === after.charCodeAt(after.length - 1 - tail)
  )
    tail++;
  const point = (text: string, offset: number) => {
    let row = 0;
    let lineStart = 0;
    for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
      row++;
      lineStart = i + 1;
    }
    return { row, column: offset - lineStart };
  };
  const oldEnd = before.length - tail;
  const newEnd = after.length - tail;
  return {
    startIndex: start,
    oldEndIndex: oldEnd,
    newEndIndex: newEnd,
    startPosition: point(before, start),
    oldEndPosition: point(before, oldEnd),
    newEndPosition: point(after, newEnd),
  };
}

/** The syntax problems of a line tolerant.ts found broken, said where it breaks. */
function brokenProblems(line: LogicalLine): SyntaxProblem[] {
  return [line.broken!, ...(line.strings ?? [])].map((b): SyntaxProblem => {
    switch (b.kind) {
      case 'dot':
        return { span: { start: b.at, end: b.at + 1 }, message: DANGLING_DOT };
      case 'bracket':
        return {
          span: { start: b.at, end: b.at + 1 },
          message: `Syntax error: \`${b.bracket}\` is never closed — add \`${CLOSERS[b.bracket]}\`.`,
        };
      case 'colon':
        return {
          span: { start: b.at, end: b.at },
          message: 'Syntax error: `:` expected here (a `def`, `if`, `for`… line ends with `:`).',
        };
      case 'string':
        return {
          span: { start: b.at, end: b.end },
          message: `Syntax error: this string is never closed — add the closing \`${b.quote}\` on the same line (or use \`${b.quote[0].repeat(3)}\` for a string over several lines).`,
        };
    }
  });
}

/** Syntax errors under a node, one per ERROR node or missing token, with a message saying how to fix it. */
function syntaxProblems(node: Node, textOf: TextOf): SyntaxProblem[] {
  const out: SyntaxProblem[] = [];
  const visit = (n: Node) => {
    if (n.isMissing) {
      out.push(missingProblem(n));
    } else if (n.type === 'ERROR') {
      out.push(errorProblem(n, textOf));
    } else {
      for (const c of n.children) if (c && (c.hasError || c.isMissing)) visit(c);
    }
  };
  visit(node);
  return out;
}

const CLOSERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

function missingProblem(n: Node): SyntaxProblem {
  const span = { start: n.startIndex, end: n.startIndex };
  const tok = n.type;
  if (tok === ')' || tok === ']' || tok === '}')
    return { span, message: `Syntax error: \`${tok}\` expected here to close the bracket opened before.` };
  if (tok === ':')
    return { span, message: 'Syntax error: `:` expected here (a `def`, `if`, `for`… line ends with `:`).' };
  if (tok === 'identifier') return { span, message: 'Syntax error: a name is missing here.' };
  return { span, message: `Syntax error: \`${tok}\` expected here.` };
}

function errorProblem(n: Node, textOf: TextOf): SyntaxProblem {
  const children = n.children.filter((c): c is Node => c !== null);
  const last = children[children.length - 1];
  if (last?.type === '.') return { span: spanOf(last), message: DANGLING_DOT };
  const open: Node[] = [];
  for (const c of children) {
    if (CLOSERS[c.type]) open.push(c);
    else if (open.length && CLOSERS[open[open.length - 1].type] === c.type) open.pop();
  }
  const unclosed = open[open.length - 1];
  if (unclosed)
    return {
      span: spanOf(unclosed),
      message: `Syntax error: \`${unclosed.type}\` is never closed — add \`${CLOSERS[unclosed.type]}\`.`,
    };
  const first = children[0] ?? n;
  const text = textOf(first).split('\n')[0];
  return {
    span: { start: first.startIndex, end: first.startIndex + text.length },
    message: `Syntax error: unexpected \`${text.length > 40 ? text.slice(0, 40) + '…' : text}\` — check the line for a typo or a missing bracket, quote or colon.`,
  };
}
