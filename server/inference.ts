// Light type inference over tree-sitter nodes: what an expression is in terms of the catalogue
// (the flow_api module or a submodule, one of its classes, an instance, a bound method). Anything
// else is `undefined`: we only know the API, and stay quiet about the rest of Python.
import type { Node } from 'web-tree-sitter';
import {
  findAttribute,
  findMethod,
  findModuleMember,
  isClassName,
  type Attribute,
  type ClassName,
  type Method,
  type ModuleMember,
} from './catalogue';

export type ApiType =
  /** `flow_api`, or one of its submodules (`flow_api.exceptions`). */
  | { kind: 'module'; module?: string }
  | { kind: 'class'; cls: ClassName }
  /** `flow` names the flow of a child execution (`this.flow('child')`), where known. */
  | { kind: 'instance'; cls: ClassName; flow?: string }
  /** `list[X]`, `Iterator[X]`, `Iterable[X]`: what a `for` loop over it yields. */
  | { kind: 'list'; cls: ClassName; container: string }
  /** A dict whose values are `X` (`{'a': this.flow('a')}`); `items` when iterated as pairs. */
  | { kind: 'dict'; cls: ClassName; items?: boolean }
  /** A function of the file, and what it returns (when it returns API). */
  | { kind: 'function'; returns?: ApiType }
  | { kind: 'method'; cls: ClassName; method: Method; flow?: string }
  /** An attribute whose type is no API type (`Setting.FIELDS: dict[str, str]`). */
  | { kind: 'attribute'; cls: ClassName; attribute: Attribute }
  | { kind: 'member'; member: ModuleMember };

/** Resolves a name at the place of the expression being inferred. */
export type Lookup = (name: string) => ApiType | undefined;

/** Reads the source text of a node (the tree may be older than the text it was edited to match). */
export type TextOf = (node: Node) => string;

const annotationTypes = new Map<string, ApiType | undefined>();
const CONTAINERS = new Set(['list', 'Iterator', 'Iterable', 'typing.Iterator', 'typing.Iterable']);

/**
 * The type a generated annotation gives: `Execution`, `Execution | None`, `list[Execution]`,
 * `Iterator[Setting]`, `type[ReturnWhen]`. Unions other than `X | None` give nothing.
 */
export function typeFromAnnotation(annotation: string): ApiType | undefined {
  if (annotationTypes.has(annotation)) return annotationTypes.get(annotation);
  let result: ApiType | undefined;
  const parts = annotation.split('|').map((p) => p.trim());
  const bare = parts.filter((p) => p !== 'None');
  const generic = bare.length === 1 ? /^([\w.]+)\[(\w+)\]$/.exec(bare[0]) : null;
  if (generic && isClassName(generic[2])) {
    if (CONTAINERS.has(generic[1])) result = { kind: 'list', cls: generic[2], container: generic[1] };
    else if (generic[1] === 'type') result = { kind: 'class', cls: generic[2] };
  } else if (bare.length === 1 && isClassName(bare[0])) {
    result = { kind: 'instance', cls: bare[0] };
  }
  annotationTypes.set(annotation, result);
  return result;
}

/** The type of a member of `flow_api` (or of its submodule `module`), such as `flow_api.Execution`. */
export function moduleMemberType(name: string, module?: string): ApiType | undefined {
  const member = findModuleMember(name, module);
  if (!member) return undefined;
  if (member.kind === 'module') return { kind: 'module', module: member.name };
  const cls = member.aliasOf ?? member.name;
  if ((member.kind === 'class' || member.kind === 'exception') && isClassName(cls))
    return { kind: 'class', cls };
  return { kind: 'member', member };
}

/** The type of `receiver.name`, when the receiver is part of the API. */
export function attributeType(receiver: ApiType | undefined, name: string): ApiType | undefined {
  if (receiver?.kind === 'module') return moduleMemberType(name, receiver.module);
  if (receiver?.kind === 'instance' || receiver?.kind === 'class') {
    const method = findMethod(receiver.cls, name);
    if (method)
      return receiver.kind === 'instance' && receiver.flow
        ? { kind: 'method', cls: receiver.cls, method, flow: receiver.flow }
        : { kind: 'method', cls: receiver.cls, method };
    const attribute = findAttribute(receiver.cls, name);
    if (!attribute || (receiver.kind === 'class' && !attribute.classVar)) return undefined;
    return typeFromAnnotation(attribute.type) ?? { kind: 'attribute', cls: receiver.cls, attribute };
  }
  return undefined;
}

/** Infers an expression; `memo` (by node id) keeps chains like `a.b().c().d` linear. */
export function inferType(
  node: Node,
  textOf: TextOf,
  lookup: Lookup,
  memo?: Map<number, ApiType | undefined>,
): ApiType | undefined {
  if (memo?.has(node.id)) return memo.get(node.id);
  const result = infer(node, textOf, lookup, memo);
  memo?.set(node.id, result);
  return result;
}

function infer(
  node: Node,
  textOf: TextOf,
  lookup: Lookup,
  memo?: Map<number, ApiType | undefined>,
): ApiType | undefined {
  const sub = (n: Node | null) => (n ? inferType(n, textOf, lookup, memo) : undefined);
  switch (node.type) {
    case 'identifier':
      return lookup(textOf(node));
    case 'parenthesized_expression':
      return sub(node.namedChildren.find((c) => c?.type !== 'comment') ?? null);
    case 'attribute': {
      const name = node.childForFieldName('attribute');
      const object = node.childForFieldName('object');
      if (!name) return undefined;
      const receiver = sub(object);
      if (receiver === undefined && object?.type === 'identifier')
        return lookup(`${textOf(object)}.${textOf(name)}`); // `self.this`
      return attributeType(receiver, textOf(name));
    }
    case 'call': {
      const fnNode = node.childForFieldName('function');
      const fn = sub(fnNode);
      if (fn?.kind === 'method') {
        const result = typeFromAnnotation(fn.method.returns);
        const flow = result?.kind === 'instance' ? flowOfCall(node, fn.method, textOf) : undefined;
        return flow && result?.kind === 'instance' ? { ...result, flow } : result;
      }
      if (fn?.kind === 'class') return { kind: 'instance', cls: fn.cls };
      if (fn?.kind === 'function') return fn.returns;
      return containerCall(node, fnNode, textOf, sub);
    }
    case 'subscript': {
      const value = sub(node.childForFieldName('value'));
      if (value?.kind === 'dict' && !value.items) return { kind: 'instance', cls: value.cls };
      if (value?.kind !== 'list') return undefined;
      // `children[0]` is one of them, `children[1:]` still a list
      return node.childForFieldName('subscript')?.type === 'slice'
        ? value
        : { kind: 'instance', cls: value.cls };
    }
    case 'list':
    case 'set':
    case 'tuple': {
      const first = node.namedChildren.find((c) => c?.type !== 'comment' && c?.type !== 'list_splat');
      const t = sub(first ?? null);
      return t?.kind === 'instance' ? { kind: 'list', cls: t.cls, container: node.type } : undefined;
    }
    case 'dictionary': {
      const pair = node.namedChildren.find((c) => c?.type === 'pair');
      const t = sub(pair?.childForFieldName('value') ?? null);
      return t?.kind === 'instance' ? { kind: 'dict', cls: t.cls } : undefined;
    }
    case 'list_comprehension':
    case 'set_comprehension':
    case 'generator_expression':
    case 'dictionary_comprehension': {
      const inner = comprehensionLookup(node, textOf, lookup);
      const body = node.childForFieldName('body');
      if (!body) return undefined;
      if (node.type === 'dictionary_comprehension') {
        const t = inferType(body.childForFieldName('value') ?? body, textOf, inner);
        return t?.kind === 'instance' ? { kind: 'dict', cls: t.cls } : undefined;
      }
      const t = inferType(body, textOf, inner);
      return t?.kind === 'instance' ? { kind: 'list', cls: t.cls, container: 'list' } : undefined;
    }
    case 'boolean_operator':
    case 'conditional_expression':
      return (
        sub(node.namedChildren[0] ?? null) ??
        sub(node.namedChildren[node.type === 'boolean_operator' ? 1 : 2] ?? null)
      );
    case 'await':
      return sub(node.namedChildren[0] ?? null);
    case 'type':
      return sub(node.namedChild(0));
    case 'binary_operator': {
      // `flow_api.Execution | None` in annotations
      const left = annotationType(node.childForFieldName('left'), textOf, lookup);
      return left ?? annotationType(node.childForFieldName('right'), textOf, lookup);
    }
    default:
      return undefined;
  }
}

/** The flow a call such as `this.flow('child', …)` starts: its first argument, a plain string. */
export function flowOfCall(call: Node, method: Method, textOf: TextOf): string | undefined {
  if (method.params.find((p) => p.kind === 'normal')?.values !== 'flows') return undefined;
  const first = call.childForFieldName('arguments')?.namedChildren.find((c) => c?.type !== 'comment');
  if (first?.type !== 'string' || first.namedChildren.some((c) => c?.type === 'interpolation'))
    return undefined;
  const content = first.namedChildren.filter((c) => c?.type === 'string_content');
  return content.length === 1 ? textOf(content[0]!) : undefined;
}

/** `d.values()`, `d.items()`, `d.get(k)`, `list(xs)`, `sorted(xs)`, `enumerate(xs)`, … */
function containerCall(
  node: Node,
  fnNode: Node | null,
  textOf: TextOf,
  sub: (n: Node | null) => ApiType | undefined,
): ApiType | undefined {
  const args = node.childForFieldName('arguments');
  const first = args?.namedChildren.find((c) => c?.type !== 'comment') ?? null;
  if (fnNode?.type === 'attribute') {
    const receiver = sub(fnNode.childForFieldName('object'));
    const name = textOf(fnNode.childForFieldName('attribute') ?? fnNode);
    if (receiver?.kind === 'dict') {
      if (name === 'values') return { kind: 'list', cls: receiver.cls, container: 'list' };
      if (name === 'items') return { kind: 'dict', cls: receiver.cls, items: true };
      if (name === 'get' || name === 'pop' || name === 'setdefault')
        return { kind: 'instance', cls: receiver.cls };
    }
    if (receiver?.kind === 'list' && name === 'pop') return { kind: 'instance', cls: receiver.cls };
    if (receiver?.kind === 'list' && name === 'copy') return receiver;
    return undefined;
  }
  if (fnNode?.type !== 'identifier') return undefined;
  const fn = textOf(fnNode);
  const arg = sub(first);
  if (['list', 'sorted', 'reversed', 'tuple', 'set', 'iter', 'filter'].includes(fn))
    return arg?.kind === 'list' ? arg : undefined;
  if (fn === 'next' || fn === 'min' || fn === 'max')
    return arg?.kind === 'list' ? { kind: 'instance', cls: arg.cls } : undefined;
  if (fn === 'enumerate')
    return arg?.kind === 'list' ? { kind: 'dict', cls: arg.cls, items: true } : undefined;
  if (fn === 'dict') return arg?.kind === 'dict' ? { kind: 'dict', cls: arg.cls } : undefined;
  return undefined;
}

/** What one element of an iterable is, as a `for` target or a comprehension variable. */
export function elementType(iter: ApiType | undefined): ApiType | undefined {
  if (iter?.kind === 'list') return { kind: 'instance', cls: iter.cls };
  return undefined;
}

/**
 * The types a `for` target gets from what it iterates: `for c in calls` (c), `for i, c in
 * enumerate(calls)` and `for k, c in d.items()` (c). Returns name → type for identifiers.
 */
export function targetTypes(target: Node, iter: ApiType | undefined, textOf: TextOf): Map<string, ApiType> {
  const out = new Map<string, ApiType>();
  if (target.type === 'identifier') {
    const t = elementType(iter);
    if (t) out.set(textOf(target), t);
  } else if (
    (target.type === 'pattern_list' || target.type === 'tuple_pattern') &&
    iter?.kind === 'dict' &&
    iter.items
  ) {
    const names = target.namedChildren.filter((c) => c?.type === 'identifier');
    if (names.length === 2) out.set(textOf(names[1]!), { kind: 'instance', cls: iter.cls });
  }
  return out;
}

/** Names bound by the `for … in …` clauses of a comprehension, then the outer ones. */
function comprehensionLookup(node: Node, textOf: TextOf, outer: Lookup): Lookup {
  const bound = new Map<string, ApiType>();
  const lookup: Lookup = (name) => (bound.has(name) ? bound.get(name) : outer(name));
  for (const clause of node.namedChildren) {
    if (clause?.type !== 'for_in_clause') continue;
    const left = clause.childForFieldName('left');
    const right = clause.childForFieldName('right');
    if (!left || !right) continue;
    for (const [name, t] of targetTypes(left, inferType(right, textOf, lookup), textOf)) bound.set(name, t);
  }
  return lookup;
}

/** The instance type an annotation such as `flow_api.Execution` or `Execution | None` declares. */
export function annotationType(node: Node | null, textOf: TextOf, lookup: Lookup): ApiType | undefined {
  if (!node) return undefined;
  const t = inferType(node, textOf, lookup);
  if (t?.kind === 'class') return { kind: 'instance', cls: t.cls };
  if (t?.kind === 'instance') return t;
  if (node.type === 'string') {
    // a forward reference such as 'flow_api.Execution'
    const content = textOf(node).replace(/^[rRbBuU]*(['"])|['"]$/g, '');
    const cls = content.split('.').pop() ?? '';
    return isClassName(cls) && (content === cls || content === `flow_api.${cls}`)
      ? { kind: 'instance', cls }
      : undefined;
  }
  return undefined;
}

/** How a type reads in hovers: `flow_api.Execution`, `list[flow_api.Execution]`. */
export function describeType(type: ApiType): string {
  switch (type.kind) {
    case 'module':
      return `module flow_api${type.module ? `.${type.module}` : ''}`;
    case 'class':
      return `type[flow_api.${type.cls}]`;
    case 'instance':
      return `flow_api.${type.cls}`;
    case 'list':
      return `${type.container}[flow_api.${type.cls}]`;
    case 'dict':
      return type.items ? `Iterable[tuple[Any, flow_api.${type.cls}]]` : `dict[Any, flow_api.${type.cls}]`;
    case 'function':
      return type.returns ? `function → ${describeType(type.returns)}` : 'function';
    case 'method':
      return `method ${type.cls}.${type.method.name}`;
    case 'member':
      return `flow_api.${type.member.name}`;
    case 'attribute':
      return type.attribute.type;
  }
}
