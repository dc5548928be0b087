// How catalogue entries read in hovers and completion details.
import type { MarkupContent } from 'vscode-languageserver';
import {
  paramLabel,
  signatureLabel,
  type ClassName,
  type Field,
  type Method,
  type ModuleMember,
  type Param,
} from './catalogue';

export function markdown(value: string): MarkupContent {
  return { kind: 'markdown', value };
}

function code(python: string): string {
  return '```python\n' + python + '\n```';
}

export function methodDoc(cls: ClassName, method: Method): string {
  return `${code(`(method) ${cls}.${signatureLabel(method)}`)}\n\n${method.doc}`;
}

export function paramDoc(cls: ClassName, method: Method, param: Param): string {
  const what = param.field
    ? `Execution field${method.name === 'save' ? '' : ' of the child'}`
    : `parameter of ${cls}.${method.name}`;
  return `${code(`(${what}) ${paramLabel(param)}`)}\n\n${param.doc}`;
}

export function memberDoc(member: ModuleMember): string {
  const head =
    member.kind === 'constant'
      ? `(constant) flow_api.${member.name}: ${member.type}`
      : `class flow_api.${member.name}${member.type ? `(${member.type})` : ''}`;
  return `${code(head)}\n\n${member.doc}`;
}

export function valueDoc(what: string, value: Field): string {
  return `**${value.name}** — ${what}\n\n${value.doc}`;
}
