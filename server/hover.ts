// Hover text from the catalogue: API methods, module members, keyword arguments, string
// arguments (flows, fields, connector types, statuses) and variables holding API objects.
// Hover reads the current tree (the server reparses a changed document before asking).
import type { Hover } from 'vscode-languageserver';
import type { Node } from 'web-tree-sitter';
import { CLASSES, findAttribute, keywordParams, STATUS_VALUES, valueSetLabel, valuesOf } from './catalogue';
import { callSite, comparedWithStatus, lookupAt, paramOfArgument } from './cursorContext';
import type { FlowDocument } from './document';
import { attributeType, describeType, inferType, type TextOf } from './inference';
import { attributeDoc, classDoc, markdown, memberDoc, methodDoc, paramDoc, valueDoc } from './markdown';
import { nodeAt, stringAround, stringValue } from './syntax';
import type { FlowIndex } from './workspaceFlows';

export function hover(doc: FlowDocument, offset: number, flows: FlowIndex): Hover | null {
  const node = nodeAt(doc, offset);
  if (!node) return null;
  const text = doc.text;
  const textOf: TextOf = (n) => text.slice(n.startIndex, n.endIndex);
  const lookup = lookupAt(doc, offset);
  const value = describe(node, doc, offset, textOf, lookup, flows);
  if (!value) return null;
  return {
    contents: markdown(value),
    range: { start: doc.positionAt(node.startIndex), end: doc.positionAt(node.endIndex) },
  };
}

function describe(
  node: Node,
  doc: FlowDocument,
  offset: number,
  textOf: TextOf,
  lookup: ReturnType<typeof lookupAt>,
  flows: FlowIndex,
): string | undefined {
  const parent = node.parent;
  if (node.type === 'identifier') {
    if (parent?.type === 'attribute' && parent.childForFieldName('attribute')?.equals(node)) {
      const object = parent.childForFieldName('object');
      const receiver = object ? inferType(object, textOf, lookup) : undefined;
      const name = textOf(node);
      const type = attributeType(receiver, name);
      if (type?.kind === 'method') return methodDoc(type.cls, type.method);
      if (!type) return undefined;
      // An attribute (`system.return_when`, an enum member) reads as itself, whatever its type.
      const owner = receiver?.kind === 'instance' || receiver?.kind === 'class' ? receiver.cls : undefined;
      const attribute = owner ? findAttribute(owner, name) : undefined;
      if (owner && attribute) return attributeDoc(owner, attribute);
      if (type.kind === 'member')
        return memberDoc(type.member, receiver?.kind === 'module' ? receiver.module : undefined);
      if (type.kind === 'module') return `\`\`\`python\n(module) flow_api.${type.module}\n\`\`\``;
      if (type.kind === 'class') return classDoc(type.cls);
      return undefined;
    }
    if (parent?.type === 'keyword_argument' && parent.childForFieldName('name')?.equals(node)) {
      const call = callSite(node, offset, textOf, lookup);
      const param = call && keywordParams(call.method).find((p) => p.name === textOf(node));
      if (call && param) return paramDoc(call.cls, call.method, param);
      if (call?.method.name === 'flow') return `\`${textOf(node)}\`: an input of the child flow.`;
      return undefined;
    }
    const type = lookup(textOf(node));
    if (type && type.kind !== 'method') {
      const doc =
        type.kind === 'instance' || type.kind === 'list' ? `\n\n${CLASSES[type.cls]?.doc ?? ''}` : '';
      return '```python\n' + `${textOf(node)}: ${describeType(type)}` + '\n```' + doc;
    }
    return undefined;
  }
  const str = stringAround(node);
  if (!str) return undefined;
  const content = stringValue(str, textOf)?.value;
  if (content === undefined) return undefined;
  if (comparedWithStatus(str, textOf, lookup)) {
    const status = STATUS_VALUES.find((s) => s.name === content);
    return status && valueDoc('execution status', status);
  }
  const call = callSite(str, offset, textOf, lookup);
  const param = call && paramOfArgument(call);
  if (!param?.values) return undefined;
  if (param.values === 'flows') {
    const target = flows.resolve(content, doc.uri);
    if (!target.known) return undefined;
    return target.uri
      ? (flows.describe?.(content, doc.uri) ?? `**flow** \`${content}\``)
      : `No flow \`${content}\` in the flows folder.`;
  }
  const value = valuesOf(param.values).find((v) => v.name === content);
  return value && valueDoc(valueSetLabel(param.values), value);
}
