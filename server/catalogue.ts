// The flow_api surface as the editor knows it. The data is generated from the Python package
// (runner/python/tools/gen_api.py writes server/generated/flowApi.json; esbuild bundles it), so
// completion, hover, signature help and diagnostics say what the package does. This module only
// types that data and answers questions about it.
import api from './generated/flowApi.json';

/** A flow_api class: any class of the generated data (records, Execution, System, enums, exceptions). */
export type ClassName = string;

/** Python parameter kinds, in the order Python requires them (flow_api has no positional-only ones). */
export type ParamKind = 'normal' | 'varargs' | 'keyword' | 'kwargs';

/**
 * String values a parameter takes, offered inside its string literal: `flows` (the workspace's
 * flows, see workspaceFlows.ts) or a key of the generated value sets (`connectorTypes`,
 * `returnWhen`, `wrappers`, `fields:<Class>`).
 */
export type ValueSet = string;

export interface Param {
  name: string;
  kind: ParamKind;
  /** Python type expression (`str | None`). */
  type: string;
  /** Python default expression; absent means required (or variadic). */
  default?: string;
  doc: string;
  values?: ValueSet;
  /**
   * A record field given as a keyword (`priority=` of `this.flow`, `value=` of `setting.save`).
   * Python receives these through `**kwargs`; the catalogue names them so editors can.
   */
  field?: boolean;
}

export interface Method {
  name: string;
  params: Param[];
  /** Python type expression of the result. */
  returns: string;
  doc: string;
  /** The class that defines it (inherited methods are listed in every class). */
  from: string;
  /** Deprecated platform API (declared in flow_api with `@deprecated`): it still works, but say so. */
  deprecated?: Deprecation;
}

/** What flow_api's `@deprecated(replacement, usage)` declares about a method. */
export interface Deprecation {
  /** As the runtime logs it: `task() is deprecated and will be removed: use connect(…) instead`. */
  message: string;
  /** The method of the same class to call instead (`connect`). */
  replacement: string;
  /** How to call it (`connect(connector_type=...)`). */
  usage: string;
}

export interface Attribute {
  name: string;
  type: string;
  doc: string;
  /** Set on the class (`System.return_when`, enum members) rather than by `__init__`. */
  classVar: boolean;
  /** An enum member's value. */
  value?: string;
  from: string;
}

/** A named value with its meaning: record fields, connector types, statuses, … */
export interface Field {
  name: string;
  doc: string;
  type?: string;
}

export interface ApiClass {
  name: ClassName;
  module: string;
  /** Enums and exceptions also have the members of `str` / `Exception`, which are not listed. */
  kind: 'class' | 'enum' | 'exception';
  doc: string;
  bases: string[];
  methods: Method[];
  attributes: Attribute[];
  /** Record classes: the record type and the fields `get`/`load` read. */
  resource?: string;
  fields?: Field[];
}

export interface ModuleMember {
  name: string;
  kind: 'class' | 'exception' | 'constant' | 'module';
  /** For constants, the Python type; for exceptions, the base class. */
  type?: string;
  doc: string;
  /** Another name of a class (`CloudomationException` is `EngineException`). */
  aliasOf?: string;
}

export interface Status extends Field {
  ended: boolean;
  /** The name flows see (`ENDED_SUCCESS` for SUCCEEDED). */
  flowName?: string;
}

interface ApiData {
  classes: Record<string, ApiClass>;
  module: ModuleMember[];
  submodules: Record<string, ModuleMember[]>;
  statuses: Status[];
  connectorTypes: Field[];
  valueSets: Record<string, Field[]>;
}

// The JSON's literal types are plain strings; the generator guarantees the shapes above.
const API = api as unknown as ApiData;

export const CLASSES: Readonly<Record<ClassName, ApiClass>> = API.classes;
export const CLASS_NAMES: readonly ClassName[] = Object.keys(CLASSES);

/** Everything `import flow_api` gives a flow. */
export const MODULE_MEMBERS: readonly ModuleMember[] = API.module;

/** Submodules of flow_api (`flow_api.exceptions`) and their members. */
export const SUBMODULES: Readonly<Record<string, readonly ModuleMember[]>> = API.submodules;

/** The status vocabulary, in lifecycle order (the runner's names). */
export const STATUSES: readonly Status[] = API.statuses;

/**
 * Every name a status compares equal to inside a flow: the runner's names, then the platform's
 * (`execution.get('status')` returns `ENDED_SUCCESS`, which also equals `SUCCEEDED`).
 */
export const STATUS_VALUES: readonly Field[] = [
  ...STATUSES,
  ...[...new Set(STATUSES.map((s) => s.flowName).filter((n) => n !== undefined))].map((name) => ({
    name,
    doc: `The name flows see for ${STATUSES.filter((s) => s.flowName === name)
      .map((s) => `\`${s.name}\``)
      .join(' and ')}; it also equals that name.`,
  })),
];

export const CONNECTOR_TYPES: readonly Field[] = API.connectorTypes;

export function isClassName(name: string): name is ClassName {
  return Object.hasOwn(CLASSES, name);
}

export function findMethod(cls: ClassName, name: string): Method | undefined {
  return CLASSES[cls]?.methods.find((m) => m.name === name);
}

export function findAttribute(cls: ClassName, name: string): Attribute | undefined {
  return CLASSES[cls]?.attributes.find((a) => a.name === name);
}

/** Every member name of a class: methods, then attributes. */
export function memberNames(cls: ClassName): string[] {
  const c = CLASSES[cls];
  return c ? [...c.methods.map((m) => m.name), ...c.attributes.map((a) => a.name)] : [];
}

/** Members of `flow_api` (no `module`) or of one of its submodules. */
export function moduleMembers(module?: string): readonly ModuleMember[] {
  return module === undefined ? MODULE_MEMBERS : (SUBMODULES[module] ?? []);
}

export function findModuleMember(name: string, module?: string): ModuleMember | undefined {
  return moduleMembers(module).find((m) => m.name === name);
}

/** The record fields of a class (`get('…')` reads them), if it is a record class. */
export function fieldsOf(cls: ClassName): readonly Field[] {
  return CLASSES[cls]?.fields ?? [];
}

/** The parameters a call can name with `name=…` (all but the variadic ones). */
export function keywordParams(method: Method): Param[] {
  return method.params.filter((p) => p.kind === 'normal' || p.kind === 'keyword');
}

export function acceptsAnyKeyword(method: Method): boolean {
  return method.params.some((p) => p.kind === 'kwargs');
}

/** What a string argument of this kind may be, for completion and hover (flows: see workspaceFlows.ts). */
export function valuesOf(set: ValueSet): readonly Field[] {
  return API.valueSets[set] ?? [];
}

/** How hovers name a value of the set: "connector type", "field of the setting", … */
export function valueSetLabel(set: ValueSet): string {
  if (set.startsWith('fields:')) {
    const cls = CLASSES[set.slice('fields:'.length)];
    return `field of the ${cls?.resource ?? 'record'} record`;
  }
  const labels: Record<string, string> = {
    connectorTypes: 'connector type',
    returnWhen: 'return_when condition',
    wrappers: 'wrapper',
  };
  return labels[set] ?? 'value';
}

/** One parameter as Python writes it in a signature: `name: type = default` (`name=…` for a field). */
export function paramLabel(p: Param): string {
  if (p.field) return `${p.name}=…`;
  const prefix = p.kind === 'varargs' ? '*' : p.kind === 'kwargs' ? '**' : '';
  const def = p.default === undefined ? '' : ` = ${p.default}`;
  return `${prefix}${p.name}: ${p.type}${def}`;
}

/**
 * The parameter list as Python writes it, with `*` before keyword-only parameters (unless a
 * `*args` already separates them); each entry is either a parameter or that separator.
 */
export function signatureParts(method: Method): (Param | '*')[] {
  const parts: (Param | '*')[] = [];
  const params = method.params;
  params.forEach((p, i) => {
    if (p.kind === 'keyword' && !params.slice(0, i).some((q) => q.kind === 'varargs' || q.kind === 'keyword'))
      parts.push('*');
    parts.push(p);
  });
  return parts;
}

/** `flow(flow_name: str, *, run: bool = True, …) -> Execution` */
export function signatureLabel(method: Method): string {
  const parts = signatureParts(method).map((p) => (typeof p === 'string' ? p : paramLabel(p)));
  return `${method.name}(${parts.join(', ')}) -> ${method.returns}`;
}

/** The class a return annotation names, ignoring `| None` (`Execution | None` → `Execution`). */
export function typeFromReturn(returns: string): ClassName | undefined {
  const bare = returns
    .split('|')
    .map((p) => p.trim())
    .filter((p) => p !== 'None');
  return bare.length === 1 && isClassName(bare[0]) ? bare[0] : undefined;
}
