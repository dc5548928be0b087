// Go to definition on a flow name (`this.flow('name')`, `system.flow('name')`): the child flow's
// file, at its `handler`; on an API member (`this.log`): its definition in the shipped stubs.
import fs from 'node:fs';
import path from 'node:path';
import type { Location, Range } from 'vscode-languageserver';
import type { Node } from 'web-tree-sitter';
import { callSite, lookupAt, paramOfArgument } from './cursorContext';
import type { FlowDocument } from './document';
import { attributeType, inferType, type TextOf } from './inference';
import type { PythonParser } from './parser';
import { nodeAt, stringAround, stringValue } from './syntax';
import { pathToUri, uriToPath, type FlowIndex } from './workspaceFlows';

export interface DefinitionEnv {
  parser: PythonParser;
  flows: FlowIndex;
  /** Open documents are read from the editor, not the disk. */
  openDocument(uri: string): FlowDocument | undefined;
}

export function definition(doc: FlowDocument, offset: number, env: DefinitionEnv): Location | null {
  const node = nodeAt(doc, offset);
  const text = doc.text;
  const textOf: TextOf = (n) => text.slice(n.startIndex, n.endIndex);
  const member = node && apiMember(node, textOf, lookupAt(doc, offset));
  if (member) return stubLocation(member.cls, member.name);
  const str = node && stringAround(node);
  if (!str) return null;
  const call = callSite(str, offset, textOf, lookupAt(doc, offset));
  const name = stringValue(str, textOf)?.value;
  if (!call || name === undefined || paramOfArgument(call)?.values !== 'flows') return null;
  const uri = env.flows.resolve(name, doc.uri).uri;
  return uri ? { uri, range: handlerRange(uri, env) } : null;
}

/** The `handler` name in a flow file, or the file's start. */
function handlerRange(uri: string, env: DefinitionEnv): Range {
  const open = env.openDocument(uri);
  const start = { line: 0, character: 0 };
  if (open)
    return open.analysis.handler ? open.rangeOf(open.analysis.handler.nameSpan) : { start, end: start };
  const file = uriToPath(uri);
  let text: string;
  try {
    text = file ? fs.readFileSync(file, 'utf8') : '';
  } catch {
    return { start, end: start };
  }
  const tree = env.parser.parse(text);
  try {
    for (const st of tree.rootNode.namedChildren) {
      const fn = st?.type === 'decorated_definition' ? st.childForFieldName('definition') : st;
      const name = fn?.type === 'function_definition' ? fn.childForFieldName('name') : null;
      if (name && name.text === 'handler') {
        const at = (p: { row: number; column: number }) => ({ line: p.row, character: p.column });
        return { start: at(name.startPosition), end: at(name.endPosition) };
      }
    }
  } finally {
    tree.delete();
  }
  return { start, end: start };
}

/** `this.log` under the cursor: the API class and member it names, from the receiver's type. */
function apiMember(
  node: Node,
  textOf: TextOf,
  lookup: ReturnType<typeof lookupAt>,
): { cls: string; name: string } | undefined {
  const parent = node.parent;
  if (node.type !== 'identifier' || parent?.type !== 'attribute') return undefined;
  if (!parent.childForFieldName('attribute')?.equals(node)) return undefined;
  const object = parent.childForFieldName('object');
  const receiver = object ? inferType(object, textOf, lookup) : undefined;
  const type = attributeType(receiver, textOf(node));
  if (type?.kind === 'method') return { cls: type.cls, name: type.method.name };
  if (type && (receiver?.kind === 'instance' || receiver?.kind === 'class'))
    return { cls: receiver.cls, name: textOf(node) };
  return undefined;
}

/**
 * Where the shipped stubs (the `flow_api` package's .pyi, beside dist/server.js) define a member:
 * F12 on `this.log` opens its signature and docstring there.
 */
function stubLocation(cls: string, name: string): Location | null {
  const file = [
    path.join(__dirname, 'stubs', 'flow_api', '__init__.pyi'),
    path.join(__dirname, '..', 'server', 'stubs', 'flow_api', '__init__.pyi'),
  ].find((f) => fs.existsSync(f));
  if (!file) return null;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => new RegExp(`^class ${cls}\\b`).test(l));
  if (start < 0) return null;
  const def = new RegExp(`^\\s+(?:def ${name}\\(|${name}\\s*[:=])`);
  for (let i = start + 1; i < lines.length && !/^\S/.test(lines[i]); i++) {
    const m = def.exec(lines[i]);
    if (!m) continue;
    const col = lines[i].indexOf(name, lines[i].search(/\S/));
    return {
      uri: pathToUri(file),
      range: { start: { line: i, character: col }, end: { line: i, character: col + name.length } },
    };
  }
  const col = 'class '.length;
  return {
    uri: pathToUri(file),
    range: { start: { line: start, character: col }, end: { line: start, character: col + cls.length } },
  };
}
