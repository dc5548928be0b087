// How catalogue entries read in hovers and completion details.
import type { MarkupContent } from 'vscode-languageserver';
import {
  CLASSES,
  paramLabel,
  signatureLabel,
  typeFromReturn,
  type Attribute,
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

function withDoc(head: string, doc: string): string {
  return doc ? `${code(head)}\n\n${doc}` : code(head);
}

export function methodDoc(cls: ClassName, method: Method): string {
  const head = `(method) ${cls}.${signatureLabel(method)}`;
  return withDoc(head, [deprecationNote(method), method.doc].filter(Boolean).join('\n\n'));
}

/** `**Deprecated**: use \`connect(connector_type=...)\` instead of \`task()\`.` for deprecated API. */
export function deprecationNote(method: Method): string {
  const d = method.deprecated;
  if (!d) return '';
  return `**Deprecated**: use \`${d.usage}\` instead of \`${method.name}()\`; the platform will remove \`${method.name}()\`.`;
}

/** Whose record a field keyword sets: the child's for `this.flow(…)`, the setting's for `system.setting(…)`. */
function fieldOwner(cls: ClassName, method: Method): string {
  if (method.name === 'save' || method.name === 'set') return `the ${CLASSES[cls]?.resource ?? 'record'}`;
  const target = typeFromReturn(method.returns);
  if (cls === 'Execution' && target === 'Execution') return 'the child execution';
  return `the ${(target && CLASSES[target]?.resource) ?? 'record'}`;
}

export function paramDoc(cls: ClassName, method: Method, param: Param): string {
  const what = param.field ? `field of ${fieldOwner(cls, method)}` : `parameter of ${cls}.${method.name}`;
  return withDoc(`(${what}) ${paramLabel(param)}`, param.doc);
}

export function attributeDoc(cls: ClassName, attribute: Attribute): string {
  const head =
    attribute.value !== undefined
      ? `(enum member) ${cls}.${attribute.name} = ${attribute.value}`
      : `(attribute) ${cls}.${attribute.name}: ${attribute.type}`;
  return withDoc(head, attribute.doc);
}

export function memberDoc(member: ModuleMember, module?: string): string {
  const where = module ? `flow_api.${module}` : 'flow_api';
  const head =
    member.kind === 'constant'
      ? `(constant) ${where}.${member.name}: ${member.type}`
      : member.kind === 'module'
        ? `(module) ${where}.${member.name}`
        : `class ${where}.${member.name}${member.type ? `(${member.type})` : ''}`;
  return withDoc(head, member.doc);
}

export function classDoc(cls: ClassName): string {
  const c = CLASSES[cls];
  const bases = c.bases.length ? `(${c.bases.join(', ')})` : '';
  return withDoc(`class flow_api.${cls}${bases}`, c.doc);
}

export function valueDoc(what: string, value: Field): string {
  return `**${value.name}** — ${what}\n\n${value.doc}`;
}
