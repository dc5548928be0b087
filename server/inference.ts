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
  | { kind: 'instance'; cls: ClassName }
  /** `list[X]`, `Iterator[X]`, `Iterable[X]`: what a `for` loop over it yields. */
  | { kind: 'list'; cls: ClassName; container: string }
  | { kind: 'method'; cls: ClassName; method: Method }
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
    if (method) return { kind: 'method', cls: receiver.cls, method };
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
      return name ? attributeType(sub(node.childForFieldName('object')), textOf(name)) : undefined;
    }
    case 'call': {
      const fn = sub(node.childForFieldName('function'));
      if (fn?.kind === 'method') return typeFromAnnotation(fn.method.returns);
      if (fn?.kind === 'class') return { kind: 'instance', cls: fn.cls };
      return undefined;
    }
    case 'subscript': {
      const value = sub(node.childForFieldName('value'));
      return value?.kind === 'list' ? { kind: 'instance', cls: value.cls } : undefined;
    }
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
    case 'method':
      return `method ${type.cls}.${type.method.name}`;
    case 'member':
      return `flow_api.${type.member.name}`;
    case 'attribute':
      return type.attribute.type;
  }
}
