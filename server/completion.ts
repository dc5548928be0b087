// Completions from the catalogue. Answers from the last tree plus the text around the cursor
// (cursorContext.ts), never waiting for a reparse. Where we know nothing (plain Python names) we
// return nothing, leaving those to Pylance.
import {
  CompletionItemKind,
  CompletionItemTag,
  InsertTextFormat,
  type CompletionItem,
  type TextEdit,
} from 'vscode-languageserver';
import {
  CLASSES,
  findAttribute,
  findMethod,
  isClassName,
  keywordParams,
  moduleMembers,
  signatureLabel,
  STATUS_VALUES,
  valuesOf,
  type Attribute,
  type ClassName,
  type Field,
  type ModuleMember,
} from './catalogue';
import { cursorContext, paramOfArgument, type CallSite } from './cursorContext';
import type { FlowDocument } from './document';
import type { ApiType } from './inference';
import { attributeDoc, markdown, memberDoc, methodDoc, paramDoc } from './markdown';
import type { PythonParser } from './parser';
import type { FlowInput } from './flowInputs';
import { namesInText, RECORD_KINDS, type RecordKind } from './workspaceNames';
import type { FlowIndex } from './workspaceFlows';

export interface CompletionEnv {
  parser: PythonParser;
  flows: FlowIndex;
  /** Names of settings, connections and files (workspaceNames.ts). */
  records?: { names(kind: RecordKind, extra?: string[]): string[] };
}

export function completions(doc: FlowDocument, offset: number, env: CompletionEnv): CompletionItem[] {
  const ctx = cursorContext(doc, env.parser, offset);
  switch (ctx.kind) {
    case 'member':
      return memberItems(ctx.receiver);
    case 'name':
      if (ctx.asArgument && ctx.call)
        return [...inputItems(ctx.call, doc, env.flows), ...keywordItems(ctx.call)];
      if (ctx.topLevel && !doc.analysis.handler) return [handlerSnippet(doc)];
      return [];
    case 'string': {
      const range = { start: doc.positionAt(ctx.contentStart), end: doc.positionAt(offset) };
      if (ctx.dictKey && ctx.call?.activeKeyword === 'inputs' && ctx.call.flow) {
        const inputs = env.flows.inputs?.(ctx.call.flow, doc.uri)?.inputs ?? [];
        return inputs.map((input, i) => ({
          label: input.name,
          kind: CompletionItemKind.Property,
          detail: inputDetail(ctx.call!.flow!, input),
          sortText: String(i).padStart(4, '0'),
          textEdit: { range, newText: input.name } satisfies TextEdit,
        }));
      }
      const record = ctx.direct ? recordKind(ctx.call) : undefined;
      if (record) {
        // Names used elsewhere in this document count too; the one being typed does not.
        const lineEnd = doc.text.indexOf('\n', offset);
        const others = doc.text.slice(0, ctx.contentStart) + (lineEnd < 0 ? '' : doc.text.slice(lineEnd));
        const names = env.records?.names(record, namesInText(others)[record]) ?? namesInText(others)[record];
        return names.map((name, i) => ({
          label: name,
          kind: CompletionItemKind.Value,
          detail: record,
          sortText: String(i).padStart(4, '0'),
          textEdit: { range, newText: name } satisfies TextEdit,
        }));
      }
      const values: Value[] = ctx.status
        ? [...STATUS_VALUES]
        : ctx.direct
          ? stringValues(doc, ctx.call, env.flows)
          : [];
      return values.map((v, i) => ({
        label: v.name,
        kind: ctx.status ? CompletionItemKind.EnumMember : CompletionItemKind.Value,
        detail: v.type === 'flow' ? 'flow' : undefined,
        documentation: v.doc ? markdown(v.doc) : undefined,
        // The flow's docstring and inputs come with completionItem/resolve (each reads a file).
        data: v.type === 'flow' ? ({ flow: v.name, from: doc.uri } satisfies ItemData) : undefined,
        sortText: String(i).padStart(4, '0'),
        textEdit: { range, newText: v.name } satisfies TextEdit,
      }));
    }
    case 'none':
      return [];
  }
}

/** What `completionItem/resolve` needs to add the documentation (kept out of the list's payload). */
type ItemData =
  | { flow: string; from: string }
  | { member: string; module?: string }
  | { cls: ClassName; method: string; param?: string }
  | { cls: ClassName; attribute: string };

/** Member lists never change: built once per receiver (nothing mutates them; the server serialises them). */
const memberLists = new Map<string, CompletionItem[]>();

const MEMBER_KINDS: Record<ModuleMember['kind'], CompletionItemKind> = {
  class: CompletionItemKind.Class,
  exception: CompletionItemKind.Class,
  constant: CompletionItemKind.Constant,
  module: CompletionItemKind.Module,
};

function memberItems(receiver: ApiType | undefined): CompletionItem[] {
  let key: string;
  if (receiver?.kind === 'module') key = `module:${receiver.module ?? ''}`;
  else if (receiver?.kind === 'instance' || receiver?.kind === 'class')
    key = `${receiver.kind}:${receiver.cls}`;
  else return [];
  let items = memberLists.get(key);
  if (!items) {
    items =
      receiver.kind === 'module' ? moduleItems(receiver.module) : classItems(receiver.cls, receiver.kind);
    memberLists.set(key, items);
  }
  return items;
}

function moduleItems(module: string | undefined): CompletionItem[] {
  return moduleMembers(module).map((m) => ({
    label: m.name,
    kind: MEMBER_KINDS[m.kind],
    detail: m.kind === 'constant' ? m.type : m.kind,
    data: { member: m.name, module } satisfies ItemData,
  }));
}

/**
 * Members of an instance, or of the class object itself (class attributes such as enum members
 * and `FIELDS`, and the methods). Members of an enum's instances are its `str` methods: none here.
 */
function classItems(cls: ClassName, of: 'instance' | 'class'): CompletionItem[] {
  const c = CLASSES[cls];
  if (of === 'instance' && c.kind === 'enum') return [];
  const attributes = c.attributes
    .filter((a) => (of === 'class' ? a.classVar : !isClassMetadata(a)))
    .map((a) => ({
      label: a.name,
      kind: a.value !== undefined ? CompletionItemKind.EnumMember : CompletionItemKind.Property,
      detail: a.value !== undefined ? `${cls}.${a.name}` : a.type,
      data: { cls, attribute: a.name } satisfies ItemData,
    }));
  const methods = c.methods.map((m): CompletionItem => ({
    label: m.name,
    kind: CompletionItemKind.Method,
    detail: signatureLabel(m),
    // Struck through in the list, as the call is in the editor.
    ...(m.deprecated ? { tags: [CompletionItemTag.Deprecated] } : {}),
    data: { cls, method: m.name } satisfies ItemData,
  }));
  // Enum members are what `system.return_when.` is typed for: they come first.
  return c.kind === 'enum' ? [...attributes, ...methods] : [...methods, ...attributes];
}

/**
 * `RESOURCE`, `FIELDS`, `DEFAULT_BY`: class-level constants that describe a record type. They
 * are offered after `flow_api.Setting.`, not among the methods of every record a flow holds.
 */
function isClassMetadata(a: Attribute): boolean {
  return a.classVar && a.value === undefined && a.name === a.name.toUpperCase();
}

/** Adds the documentation to an item of the list (`completionItem/resolve`). */
export function resolveCompletion(item: CompletionItem, flows?: FlowIndex): CompletionItem {
  const data = item.data as ItemData | undefined;
  if (!data || item.documentation) return item;
  if ('flow' in data) {
    const doc = flows?.describe?.(data.flow, data.from);
    return doc ? { ...item, documentation: markdown(doc) } : item;
  }
  if ('member' in data) {
    const member = moduleMembers(data.module).find((m) => m.name === data.member);
    return member ? { ...item, documentation: markdown(memberDoc(member, data.module)) } : item;
  }
  if (!isClassName(data.cls)) return item;
  if ('attribute' in data) {
    const attribute = findAttribute(data.cls, data.attribute);
    return attribute ? { ...item, documentation: markdown(attributeDoc(data.cls, attribute)) } : item;
  }
  const method = findMethod(data.cls, data.method);
  const param = data.param === undefined ? undefined : method?.params.find((p) => p.name === data.param);
  if (!method) return item;
  const doc = param ? paramDoc(data.cls, method, param) : methodDoc(data.cls, method);
  return { ...item, documentation: markdown(doc) };
}

/** `system.setting('|')`, `system.connection(name='|')`, `system.file('|')`: the record kind named. */
function recordKind(call: CallSite | undefined): RecordKind | undefined {
  if (call?.cls !== 'System' || !(RECORD_KINDS as string[]).includes(call.method.name)) return undefined;
  const param = paramOfArgument(call);
  return param?.name === 'select' || param?.name === 'name' ? (call.method.name as RecordKind) : undefined;
}

function inputDetail(flow: string, input: FlowInput): string {
  return `input of ${flow}${input.type ? `: ${input.type}` : ''}${input.required ? ' (required)' : ''}`;
}

/**
 * `count=` items for the inputs the child flow of `this.flow('child', …)` or `template.clone(…)`
 * reads and the call does not pass yet (required ones first). Inputs named like a record field
 * (`priority`) only travel in `inputs={…}`, so they are not offered as keywords.
 */
function inputItems(call: CallSite, doc: FlowDocument, flows: FlowIndex): CompletionItem[] {
  if (!call.flow || !call.method.params.some((p) => p.kind === 'kwargs')) return [];
  const read = flows.inputs?.(call.flow, doc.uri);
  if (!read) return [];
  const given = new Set(call.keywordsGiven);
  const taken = new Set(call.method.params.map((p) => p.name));
  return read.inputs
    .filter((input) => !given.has(input.name) && !taken.has(input.name) && /^[A-Za-z_]\w*$/.test(input.name))
    .sort((a, b) => Number(b.required) - Number(a.required))
    .map((input, i) => ({
      label: `${input.name}=`,
      kind: CompletionItemKind.Property,
      detail: inputDetail(call.flow!, input),
      documentation: markdown(
        `Input \`${input.name}\` of the flow \`${call.flow}\`${input.type ? ` (used as \`${input.type}\`)` : ''}: ${
          input.required ? 'it fails without it' : 'optional, it reads it with `.get()`'
        }.`,
      ),
      sortText: ` ${String(i).padStart(3, '0')}`,
      insertText: `${input.name}=`,
    }));
}

/** `name=` items for the keywords the call does not give yet. */
function keywordItems(call: CallSite): CompletionItem[] {
  const given = new Set(call.keywordsGiven);
  // Parameters already filled by position cannot be given again by name.
  const byPosition = new Set(
    call.args
      .map((_, i) =>
        i < call.active && call.args[i].kind === 'positional' ? paramOfArgument(call, i)?.name : undefined,
      )
      .filter((n) => n !== undefined),
  );
  return keywordParams(call.method)
    .filter((p) => !given.has(p.name) && !byPosition.has(p.name))
    .map((p, i) => ({
      label: `${p.name}=`,
      kind: p.field ? CompletionItemKind.Field : CompletionItemKind.Variable,
      detail: p.type,
      data: { cls: call.cls, method: call.method.name, param: p.name } satisfies ItemData,
      sortText: `0${String(i).padStart(3, '0')}`,
      insertText: `${p.name}=`,
    }));
}

interface Value extends Partial<Field> {
  name: string;
}

/** The values a string argument takes, from the parameter it binds to. */
function stringValues(doc: FlowDocument, call: CallSite | undefined, flows: FlowIndex): Value[] {
  const param = call && paramOfArgument(call);
  if (!param?.values) return [];
  if (param.values === 'flows') return flows.names(doc.uri).map((name) => ({ name, type: 'flow' }));
  return [...valuesOf(param.values)];
}

function handlerSnippet(doc: FlowDocument): CompletionItem {
  const imports = doc.analysis.imports;
  const annotated = !doc.analysis.importsFlowApi || imports.get('flow_api')?.kind === 'module';
  const header = doc.analysis.importsFlowApi ? '' : 'import flow_api\n\n\n';
  const params = annotated ? 'system: flow_api.System, this: flow_api.Execution' : 'system, this';
  return {
    label: 'handler',
    kind: CompletionItemKind.Snippet,
    detail: 'New flow: def handler(system, this)',
    filterText: 'handler def flow',
    documentation: markdown(
      'The entry point the runner calls with the workspace (`system`) and this execution (`this`).',
    ),
    insertTextFormat: InsertTextFormat.Snippet,
    insertText:
      `${header}def handler(${params}):\n` +
      "    inputs = this.get('input_value') or {}\n" +
      '    ${0}\n' +
      "    return this.success('${1:done}')\n",
  };
}
