// The inputs a flow reads, inferred from its code: keys read from the handler's third parameter
// (`inputs['who']`, `inputs.get('times')`) or from `this.get('input_value')` (directly, or through
// a name it was assigned to, `data = this.get('input_value') or {}`). A subscript means the flow
// needs the key; `.get` means it copes without. Used to prefill the input prompt of Run and Try.
import type { Node, Tree } from 'web-tree-sitter';

export interface InputKey {
  name: string;
  /** Read by subscript (`inputs['who']`): the flow fails without it. */
  required: boolean;
}

/** The keys the flow's handler reads from its input, in the order they are first read. */
export function inputKeys(tree: Tree): InputKey[] {
  const handler = tree.rootNode.namedChildren.find(
    (n): n is Node =>
      !!n &&
      unwrapDecorated(n)?.type === 'function_definition' &&
      unwrapDecorated(n)?.childForFieldName('name')?.text === 'handler',
  );
  const fn = handler && unwrapDecorated(handler);
  if (!fn) return [];
  const params = (fn.childForFieldName('parameters')?.namedChildren ?? []).map((p) =>
    p ? paramName(p) : undefined,
  );
  const thisName = params[1];
  const inputNames = new Set<string>(params[2] ? [params[2]] : []);
  const keys = new Map<string, boolean>();
  const isInput = (node: Node | null): boolean => {
    const n = unwrap(node);
    if (!n) return false;
    if (n.type === 'identifier') return inputNames.has(n.text);
    return isInputValueCall(n, thisName);
  };
  const visit = (node: Node): void => {
    if (node.type === 'assignment') {
      const left = node.childForFieldName('left');
      if (left?.type === 'identifier' && isInput(node.childForFieldName('right'))) inputNames.add(left.text);
    } else if (node.type === 'subscript' && isInput(node.childForFieldName('value'))) {
      const key = stringValue(node.childForFieldName('subscript'));
      if (key !== undefined) keys.set(key, true);
    } else if (node.type === 'call') {
      const f = node.childForFieldName('function');
      if (
        f?.type === 'attribute' &&
        f.childForFieldName('attribute')?.text === 'get' &&
        isInput(f.childForFieldName('object'))
      ) {
        const key = stringValue(node.childForFieldName('arguments')?.namedChildren[0] ?? null);
        if (key !== undefined && !keys.has(key)) keys.set(key, false);
      }
    }
    for (const c of node.namedChildren) if (c) visit(c);
  };
  const body = fn.childForFieldName('body');
  if (body) visit(body);
  return [...keys].map(([name, required]) => ({ name, required }));
}

function unwrapDecorated(n: Node): Node | null {
  return n.type === 'decorated_definition' ? n.childForFieldName('definition') : n;
}

/** `(x)` → x, and `x or {}` → x: the input read with a fallback is still the input. */
function unwrap(node: Node | null): Node | null {
  let n = node;
  while (n) {
    if (n.type === 'parenthesized_expression') n = n.namedChildren[0] ?? null;
    else if (n.type === 'boolean_operator' && n.child(1)?.type === 'or') n = n.childForFieldName('left');
    else return n;
  }
  return n;
}

/** `this.get('input_value')` */
function isInputValueCall(n: Node, thisName: string | undefined): boolean {
  if (n.type !== 'call' || !thisName) return false;
  const f = n.childForFieldName('function');
  if (f?.type !== 'attribute' || f.childForFieldName('attribute')?.text !== 'get') return false;
  if (f.childForFieldName('object')?.text !== thisName) return false;
  return stringValue(n.childForFieldName('arguments')?.namedChildren[0] ?? null) === 'input_value';
}

function paramName(p: Node): string | undefined {
  if (p.type === 'identifier') return p.text;
  const named = p.childForFieldName('name') ?? p.namedChildren.find((c) => c?.type === 'identifier');
  return named?.text;
}

/** The value of a plain string literal (no f-string, no concatenation). */
function stringValue(n: Node | null): string | undefined {
  if (n?.type !== 'string') return undefined;
  if (n.namedChildren.some((c) => c?.type === 'interpolation')) return undefined;
  const content = n.namedChildren.filter((c) => c?.type === 'string_content');
  if (content.length > 1) return undefined;
  return content[0]?.text ?? '';
}
