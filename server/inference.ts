// Light type inference over tree-sitter nodes: what an expression is in terms of the catalogue
// (the flow_api module, one of its classes, an instance, a bound method). Anything else is
// `undefined`: we only know the API, and stay quiet about the rest of Python.
import type { Node } from 'web-tree-sitter';
import {
  findMethod,
  findModuleMember,
  isClassName,
  type ClassName,
  type Method,
  type ModuleMember,
} from './catalogue';

export type ApiType =
  | { kind: 'module' }
  | { kind: 'class'; cls: ClassName }
  | { kind: 'instance'; cls: ClassName }
  | { kind: 'list'; cls: ClassName }
  | { kind: 'method'; cls: ClassName; method: Method }
  | { kind: 'member'; member: ModuleMember };

/** Resolves a name at the place of the expression being inferred. */
export type Lookup = (name: string) => ApiType | undefined;

/** Reads the source text of a node (the tree may be older than the text it was edited to match). */
export type TextOf = (node: Node) => string;

const returnTypes = new Map<string, ApiType | undefined>();

/** The type a catalogue return annotation gives: `Execution`, `list[Execution]`, `Execution | None`. */
function typeFromAnnotation(annotation: string): ApiType | undefined {
  if (returnTypes.has(annotation)) return returnTypes.get(annotation);
  let result: ApiType | undefined;
  const bare = annotation.replace(/\s*\|\s*None$/, '');
  const list = /^list\[(\w+)\]$/.exec(bare);
  if (list && isClassName(list[1])) result = { kind: 'list', cls: list[1] };
  else if (isClassName(bare)) result = { kind: 'instance', cls: bare };
  returnTypes.set(annotation, result);
  return result;
}

/** The type of a module attribute such as `flow_api.Execution`. */
export function moduleMemberType(name: string): ApiType | undefined {
  if (isClassName(name)) return { kind: 'class', cls: name };
  const member = findModuleMember(name);
  return member ? { kind: 'member', member } : undefined;
}

/** The type of `receiver.name`, when the receiver is part of the API. */
export function attributeType(receiver: ApiType | undefined, name: string): ApiType | undefined {
  if (receiver?.kind === 'module') return moduleMemberType(name);
  if (receiver?.kind === 'instance') {
    const method = findMethod(receiver.cls, name);
    return method ? { kind: 'method', cls: receiver.cls, method } : undefined;
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
      return 'module flow_api';
    case 'class':
      return `type[flow_api.${type.cls}]`;
    case 'instance':
      return `flow_api.${type.cls}`;
    case 'list':
      return `list[flow_api.${type.cls}]`;
    case 'method':
      return `method ${type.cls}.${type.method.name}`;
    case 'member':
      return `flow_api.${type.member.name}`;
  }
}
