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

/** An input with the Python type it is used as, where the code tells (`int(inputs['n'])`). */
export interface FlowInput extends InputKey {
  type?: string;
}

export interface FlowInputs {
  inputs: FlowInput[];
  /**
   * Every read of the input is a literal key (or an `input_schema` lists them): a key passed
   * that is not among `inputs` is certainly unused. False when the input is handed on whole.
   */
  complete: boolean;
}

/** The keys the flow's handler reads from its input, in the order they are first read. */
export function inputKeys(tree: Tree): InputKey[] {
  return readInputs(tree).inputs.map(({ name, required }) => ({ name, required }));
}

const CONVERSIONS = new Set(['int', 'float', 'str', 'bool', 'list', 'dict']);

/** The flow's inputs: from a module-level `input_schema = {…}` when it declares one, else from its code. */
export function readInputs(tree: Tree): FlowInputs {
  const schema = schemaInputs(tree);
  return schema ?? codeInputs(tree);
}

function codeInputs(tree: Tree): FlowInputs {
  const handler = tree.rootNode.namedChildren.find(
    (n): n is Node =>
      !!n &&
      unwrapDecorated(n)?.type === 'function_definition' &&
      unwrapDecorated(n)?.childForFieldName('name')?.text === 'handler',
  );
  const fn = handler && unwrapDecorated(handler);
  if (!fn) return { inputs: [], complete: false };
  const params = (fn.childForFieldName('parameters')?.namedChildren ?? []).map((p) =>
    p ? paramName(p) : undefined,
  );
  const thisName = params[1];
  const inputNames = new Set<string>(params[2] ? [params[2]] : []);
  const keys = new Map<string, FlowInput>();
  let complete = true;
  const typeOf = (read: Node, fallback?: Node | null): string | undefined => {
    let outer = read.parent;
    while (outer?.type === 'parenthesized_expression') outer = outer.parent;
    if (outer?.type === 'argument_list' && outer.parent?.type === 'call') {
      const f = outer.parent.childForFieldName('function');
      if (f?.type === 'identifier' && CONVERSIONS.has(f.text)) return f.text;
    }
    return fallback ? literalType(fallback) : undefined;
  };
  const isInput = (node: Node | null): boolean => {
    const n = unwrap(node);
    if (!n) return false;
    if (n.type === 'identifier') return inputNames.has(n.text);
    return isInputValueCall(n, thisName);
  };
  const visit = (node: Node): void => {
    if (node.type === 'assignment') {
      const left = node.childForFieldName('left');
      if (left?.type === 'identifier' && isInput(node.childForFieldName('right'))) {
        inputNames.add(left.text);
        return;
      }
    } else if (node.type === 'subscript' && isInput(node.childForFieldName('value'))) {
      const key = stringValue(node.childForFieldName('subscript'));
      if (key === undefined) complete = false;
      else {
        const known = keys.get(key);
        const type = typeOf(node);
        if (!known) keys.set(key, { name: key, required: true, type });
        else known.type ??= type;
      }
      return;
    } else if (node.type === 'call') {
      const f = node.childForFieldName('function');
      if (
        f?.type === 'attribute' &&
        f.childForFieldName('attribute')?.text === 'get' &&
        isInput(f.childForFieldName('object'))
      ) {
        const args =
          node.childForFieldName('arguments')?.namedChildren.filter((c) => c?.type !== 'comment') ?? [];
        const key = stringValue(args[0] ?? null);
        if (key === undefined) complete = false;
        else if (!keys.has(key)) keys.set(key, { name: key, required: false, type: typeOf(node, args[1]) });
        return;
      }
    } else if ((node.type === 'identifier' || node.type === 'call') && isInput(node)) {
      // The input handed on whole (`process(inputs)`, `**inputs`): keys may be read elsewhere.
      complete = false;
    } else if (node.type === 'string' && stringValue(node) === 'input_value') {
      complete = false; // read some other way (`this.load('input_value')`)
    }
    for (const c of node.namedChildren) if (c) visit(c);
  };
  const body = fn.childForFieldName('body');
  if (body) visit(body);
  // A flow that seems to read nothing may read its input in ways not seen here: no hints then.
  return { inputs: [...keys.values()], complete: complete && keys.size > 0 };
}

const SCHEMA_TYPES: Record<string, string> = {
  string: 'str',
  integer: 'int',
  number: 'float',
  boolean: 'bool',
  array: 'list',
  object: 'dict',
};

/** `input_schema = {'properties': {'n': {'type': 'integer'}}, 'required': ['n']}` at the top level. */
function schemaInputs(tree: Tree): FlowInputs | undefined {
  for (const st of tree.rootNode.namedChildren) {
    const a = st?.type === 'expression_statement' ? st.namedChildren[0] : undefined;
    if (a?.type !== 'assignment' || a.childForFieldName('left')?.text !== 'input_schema') continue;
    const schema = a.childForFieldName('right');
    if (schema?.type !== 'dictionary') return undefined;
    const properties = dictValue(schema, 'properties');
    const required = new Set(
      (dictValue(schema, 'required')?.namedChildren ?? []).map((c) => stringValue(c)).filter((v) => v),
    );
    if (properties?.type !== 'dictionary') return undefined;
    const inputs: FlowInput[] = [];
    for (const pair of properties.namedChildren) {
      if (pair?.type !== 'pair') continue;
      const name = stringValue(pair.childForFieldName('key'));
      if (name === undefined) continue;
      const value = pair.childForFieldName('value');
      const type = value?.type === 'dictionary' ? stringValue(dictValue(value, 'type')) : undefined;
      inputs.push({
        name,
        required: required.has(name),
        type: type ? (SCHEMA_TYPES[type] ?? type) : undefined,
      });
    }
    return { inputs, complete: true };
  }
  return undefined;
}

function dictValue(dict: Node, key: string): Node | null {
  for (const pair of dict.namedChildren)
    if (pair?.type === 'pair' && stringValue(pair.childForFieldName('key')) === key)
      return pair.childForFieldName('value');
  return null;
}

/** The Python type of a literal default (`inputs.get('n', 3)` → int). */
function literalType(n: Node | null): string | undefined {
  switch (n?.type) {
    case 'integer':
      return 'int';
    case 'float':
      return 'float';
    case 'string':
      return 'str';
    case 'true':
    case 'false':
      return 'bool';
    case 'list':
    case 'list_comprehension':
      return 'list';
    case 'dictionary':
      return 'dict';
    default:
      return undefined;
  }
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
