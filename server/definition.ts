// Go to definition on a flow name (`this.flow('name')`, `system.flow('name')`): the child flow's
// file, at its `handler`.
import fs from 'node:fs';
import type { Location, Range } from 'vscode-languageserver';
import { callSite, lookupAt, paramOfArgument } from './cursorContext';
import type { FlowDocument } from './document';
import type { TextOf } from './inference';
import type { PythonParser } from './parser';
import { nodeAt, stringAround, stringValue } from './syntax';
import { uriToPath, type FlowIndex } from './workspaceFlows';

export interface DefinitionEnv {
  parser: PythonParser;
  flows: FlowIndex;
  /** Open documents are read from the editor, not the disk. */
  openDocument(uri: string): FlowDocument | undefined;
}

export function definition(doc: FlowDocument, offset: number, env: DefinitionEnv): Location | null {
  const node = nodeAt(doc, offset);
  const str = node && stringAround(node);
  if (!str) return null;
  const text = doc.text;
  const textOf: TextOf = (n) => text.slice(n.startIndex, n.endIndex);
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
