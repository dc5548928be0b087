// Diagnostics from the analysis of the last parse: syntax errors, unknown API members, keyword
// and positional arguments the catalogue does not accept, `this.flow('name')` naming no flow,
// and a missing or wrong `handler`. Each says how to fix it; obvious fixes travel in `data` and
// become quick fixes (codeActions.ts). Problems of a unit are kept with the unit, so a reparse
// that reuses units does not recompute them.
import { DiagnosticSeverity, DiagnosticTag, type Diagnostic, type TextEdit } from 'vscode-languageserver';
import {
  acceptsAnyKeyword,
  CLASSES,
  fieldsOf,
  findMethod,
  keywordParams,
  memberNames,
  moduleMembers,
  type ClassName,
  type Method,
} from './catalogue';
import type { ApiCall, FlowRef, ScopeInfo, Unit } from './analysis';
import type { FlowDocument } from './document';
import { closest } from './suggest';
import type { Span } from './syntax';
import type { FlowInputs } from './flowInputs';
import type { FlowIndex } from './workspaceFlows';

export const SOURCE = 'flows';

/** A quick fix as it travels in `Diagnostic.data`. */
export interface Fix {
  title: string;
  edits: TextEdit[];
}

/** One edit of a fix: replaces `span`, or inserts before it (`before`), so a shifted span stays right. */
interface FixEdit {
  span: Span;
  newText: string;
  before?: boolean;
}

/** A diagnostic in offsets of the last parse (spans of a reused unit move with it). */
interface Problem {
  span: Span;
  severity: DiagnosticSeverity;
  code: string;
  message: string;
  tags?: DiagnosticTag[];
  fixes?: ({ title: string; more?: FixEdit[] } & FixEdit)[];
}

const unitProblems = new WeakMap<Unit, Problem[]>();

export function diagnostics(doc: FlowDocument, flows: FlowIndex): Diagnostic[] {
  const analysis = doc.analysis;
  if (!analysis.isFlow) return [];
  const problems: Problem[] = [];
  const resolved = new Map<string, ReturnType<FlowIndex['resolve']>>();
  const resolve = (name: string) => {
    let target = resolved.get(name);
    if (!target) resolved.set(name, (target = flows.resolve(name, doc.uri)));
    return target;
  };
  // Syntax problems (of the whole file) go first in the unit they are in.
  const syntax = [...analysis.syntax].sort((a, b) => a.span.start - b.span.start);
  let next = 0;
  const syntaxUntil = (end: number) => {
    for (; next < syntax.length && syntax[next].span.start < end; next++) {
      const p = syntax[next];
      problems.push({ span: p.span, severity: DiagnosticSeverity.Error, code: 'syntax', message: p.message });
    }
  };
  for (const unit of analysis.units) {
    syntaxUntil(unit.span.end);
    let cached = unitProblems.get(unit);
    if (!cached) unitProblems.set(unit, (cached = problemsOf(unit)));
    problems.push(...cached);
    for (const ref of unit.flowRefs) {
      const problem = flowProblem(ref, resolve, () => flows.names(doc.uri));
      if (problem) problems.push(problem);
      else problems.push(...inputProblems(ref, resolve, (name) => flows.inputs?.(name, doc.uri)));
    }
  }
  syntaxUntil(Infinity);
  problems.push(...handlerProblems(doc));
  return problems.map((p) => ({
    range: doc.rangeOf(p.span),
    severity: p.severity,
    source: SOURCE,
    code: p.code,
    message: p.message,
    ...(p.tags ? { tags: p.tags } : {}),
    data: p.fixes?.length
      ? {
          fixes: p.fixes.map((f): Fix => ({
            title: f.title,
            edits: [f, ...(f.more ?? [])].map((e) => ({
              range: doc.rangeOf(e.before ? { start: e.span.start, end: e.span.start } : e.span),
              newText: e.newText,
            })),
          })),
        }
      : undefined,
  }));
}

const replaceWith = (span: Span, newText: string) => [{ title: `Change to \`${newText}\``, span, newText }];

function problemsOf(unit: Unit): Problem[] {
  const out: Problem[] = [];
  for (const u of unit.unknownMembers) {
    const instance = u.receiver.kind === 'instance' ? u.receiver.cls : undefined;
    if (instance && fieldsOf(instance).some((f) => f.name === u.name)) {
      // A record field read as an attribute: the record API reads it with get().
      const read = `get('${u.name}')`;
      out.push({
        span: u.span,
        severity: DiagnosticSeverity.Error,
        code: 'unknown-member',
        message: `\`${u.name}\` is a field of the ${CLASSES[instance].resource} record, not an attribute: read it with \`.${read}\`.`,
        fixes: [{ title: `Change to \`${read}\``, span: u.span, newText: read }],
      });
      continue;
    }
    const module = u.receiver.kind === 'module' ? u.receiver.module : undefined;
    const names = instance ? memberNames(instance) : moduleMembers(module).map((m) => m.name);
    const guess = closest(u.name, names);
    const what = instance
      ? `\`${instance}\` has no attribute`
      : `\`flow_api${module ? `.${module}` : ''}\` has no member`;
    out.push({
      span: u.span,
      severity: DiagnosticSeverity.Error,
      code: 'unknown-member',
      message: `${what} \`${u.name}\`.${guess ? ` Did you mean \`${guess}\`?` : ` Available: ${names.join(', ')}.`}`,
      fixes: guess ? replaceWith(u.span, guess) : undefined,
    });
  }
  for (const call of unit.calls) {
    checkArguments(call, out);
    if (call.method.deprecated) out.push(deprecationProblem(call));
  }
  return out;
}

/**
 * A call of deprecated platform API: a hint tagged Deprecated, which VS Code draws struck through
 * (as Pylance reports `@deprecated`), naming the replacement, with a fix that calls it instead:
 * `this.task('REST', url=u)` → `this.connect(connector_type='REST', url=u)`. A positional
 * argument whose parameter the replacement takes by keyword only is passed by that keyword.
 */
function deprecationProblem(call: ApiCall): Problem {
  const { method } = call;
  const d = method.deprecated!;
  const receiver = callName(call.cls, method).slice(0, -`${method.name}()`.length);
  const problem: Problem = {
    span: call.nameSpan,
    severity: DiagnosticSeverity.Hint,
    code: 'deprecated',
    tags: [DiagnosticTag.Deprecated],
    message: `\`${receiver}${method.name}()\` is deprecated and will be removed from the platform: use \`${receiver}${d.usage}\` instead.`,
  };
  const replacement = findMethod(call.cls, d.replacement);
  if (!replacement) return problem;
  const oldSlots = method.params.filter((p) => p.kind === 'normal').map((p) => p.name);
  const newSlots = replacement.params.filter((p) => p.kind === 'normal').map((p) => p.name);
  const keywords = keywordParams(replacement).map((p) => p.name);
  const more: FixEdit[] = [];
  let index = 0;
  for (const arg of call.args) {
    if (arg.kind === 'splat') return problem; // `*args`: which parameter gets what is unknown
    if (arg.kind !== 'positional') continue;
    const name = oldSlots[index++];
    if (name === undefined) return problem;
    // Once one is passed by keyword, the positional ones after it must be too.
    if (more.length || newSlots[index - 1] !== name) {
      if (!keywords.includes(name)) return problem;
      more.push({ span: arg.span, newText: `${name}=`, before: true });
    }
  }
  problem.fixes = [
    { title: `Use \`${receiver}${d.replacement}()\``, span: call.nameSpan, newText: d.replacement, more },
  ];
  return problem;
}

function flowProblem(
  ref: FlowRef,
  resolve: (name: string) => ReturnType<FlowIndex['resolve']>,
  names: () => string[],
): Problem | undefined {
  if (ref.call.cls === 'System') return undefined; // system.flow(name) may ask whether a flow exists
  const target = resolve(ref.name);
  if (!target.known || target.uri) return undefined;
  const guess = closest(ref.name, names());
  return {
    span: ref.span,
    severity: DiagnosticSeverity.Warning,
    code: 'unknown-flow',
    message:
      `No flow \`${ref.name}\` in the flows folder (expected \`${ref.name}.py\`).` +
      (guess ? ` Did you mean \`${guess}\`?` : ' Create the file or correct the name.'),
    fixes: guess ? replaceWith(ref.span, guess) : undefined,
  };
}

/**
 * The inputs of `this.flow('child', …)` against what `child` reads: one it needs (reads by
 * subscript) and is not passed is a warning on the flow name; one it never reads is a hint on
 * the keyword (with a did-you-mean fix), when every read of its input is known.
 */
function inputProblems(
  ref: FlowRef,
  resolve: (name: string) => ReturnType<FlowIndex['resolve']>,
  inputsOf: (name: string) => FlowInputs | undefined,
): Problem[] {
  if (ref.call.cls !== 'Execution' || ref.call.method.name !== 'flow' || !resolve(ref.name).uri) return [];
  const read = inputsOf(ref.name);
  if (!read) return [];
  const out: Problem[] = [];
  const passed = new Set(ref.passed.map((p) => p.name));
  const missing = ref.opaque ? [] : read.inputs.filter((i) => i.required && !passed.has(i.name));
  if (missing.length) {
    const names = missing.map((i) => `\`${i.name}\``).join(', ');
    out.push({
      span: ref.span,
      severity: DiagnosticSeverity.Warning,
      code: 'missing-input',
      message: `\`${ref.name}\` needs the input${missing.length > 1 ? 's' : ''} ${names} (it reads ${missing.length > 1 ? 'them' : 'it'} with \`inputs[…]\`), and this call does not pass ${missing.length > 1 ? 'them' : 'it'}: add ${missing.map((i) => `\`${i.name}=…\``).join(', ')}.`,
    });
  }
  if (read.complete) {
    const known = read.inputs.map((i) => i.name);
    for (const p of ref.passed) {
      if (known.includes(p.name)) continue;
      const guess = closest(p.name, known);
      out.push({
        span: p.span,
        severity: DiagnosticSeverity.Hint,
        code: 'unknown-input',
        message: `\`${ref.name}\` does not read an input \`${p.name}\`.${guess ? ` Did you mean \`${guess}\`?` : known.length ? ` It reads ${known.map((k) => `\`${k}\``).join(', ')}.` : ' It reads no input.'}`,
        fixes: guess ? replaceWith(p.span, guess) : undefined,
      });
    }
  }
  return out;
}

/** What argument checks need of a method, worked out once. */
interface Shape {
  keywords: string[];
  anyKeyword: boolean;
  slots: string[];
  varargs: boolean;
  required: { name: string; doc: string }[];
}
const shapes = new Map<Method, Shape>();

function shapeOf(method: Method): Shape {
  let shape = shapes.get(method);
  if (!shape) {
    shape = {
      keywords: keywordParams(method).map((p) => p.name),
      anyKeyword: acceptsAnyKeyword(method),
      slots: method.params.filter((p) => p.kind === 'normal').map((p) => p.name),
      varargs: method.params.some((p) => p.kind === 'varargs'),
      required: method.params.filter(
        (p) => p.default === undefined && (p.kind === 'normal' || p.kind === 'keyword'),
      ),
    };
    shapes.set(method, shape);
  }
  return shape;
}

function checkArguments(call: ApiCall, out: Problem[]): void {
  const shape = shapeOf(call.method);
  const where = `\`${callName(call.cls, call.method)}\``;
  let positional = 0;
  let splat = false;
  for (const arg of call.args) {
    if (arg.kind === 'positional') positional++;
    else if (arg.kind === 'splat') splat = true;
    else if (arg.name && arg.nameSpan && !shape.anyKeyword && !shape.keywords.includes(arg.name)) {
      const guess = closest(arg.name, shape.keywords);
      const list = shape.keywords.length
        ? ` It accepts: ${shape.keywords.join(', ')}.`
        : ' It takes no keyword arguments.';
      out.push({
        span: arg.nameSpan,
        severity: DiagnosticSeverity.Error,
        code: 'unknown-keyword',
        message: `${where} has no keyword argument \`${arg.name}\`.${guess ? ` Did you mean \`${guess}\`?` : list}`,
        fixes: guess ? replaceWith(arg.nameSpan, guess) : undefined,
      });
    }
  }
  if (splat) return; // *args / **kwargs: the counts are unknown

  const { slots } = shape;
  if (!shape.varargs && positional > slots.length) {
    const extra = call.args.filter((a) => a.kind === 'positional')[slots.length];
    const takes = slots.length
      ? `takes ${slots.length} positional argument${slots.length > 1 ? 's' : ''} (${slots.join(', ')})`
      : 'takes no positional arguments';
    out.push({
      span: extra.span,
      severity: DiagnosticSeverity.Error,
      code: 'too-many-arguments',
      message: `${where} ${takes}; remove the extra ones or pass them by keyword.`,
    });
  }
  const filledByPosition = new Set(slots.slice(0, positional));
  const missing = shape.required.filter(
    (p) => !filledByPosition.has(p.name) && !call.args.some((a) => a.name === p.name),
  );
  if (missing.length) {
    const docs = missing.map((p) => p.doc).filter(Boolean);
    out.push({
      span: call.nameSpan,
      severity: DiagnosticSeverity.Error,
      code: 'missing-argument',
      message: `${where} needs ${missing.map((p) => `\`${p.name}\``).join(' and ')}${docs.length ? `: ${docs.join(' ')}` : '.'}`,
    });
  }
}

function callName(cls: ClassName, method: Method): string {
  const receiver = cls === 'Execution' ? 'this' : cls === 'System' ? 'system' : cls.toLowerCase();
  return `${receiver}.${method.name}()`;
}

const HANDLER_SKELETON = "\n\ndef handler(system, this):\n    return this.success('done')\n";

function handlerProblems(doc: FlowDocument): Problem[] {
  const handler = doc.analysis.handler;
  if (!handler) {
    const text = doc.text;
    const lineEnd = text.indexOf('\n');
    const end = doc.toParseOffset(text.length);
    return [
      {
        span: { start: 0, end: lineEnd < 0 ? text.length : lineEnd },
        severity: DiagnosticSeverity.Warning,
        code: 'missing-handler',
        message:
          'This flow has no `handler` function. The runner calls `def handler(system, this):` (optionally with a third parameter `inputs`).',
        fixes: [{ title: 'Add a `handler` function', span: { start: end, end }, newText: HANDLER_SKELETON }],
      },
    ];
  }
  const problem = handlerProblem(handler);
  if (!problem || !handler.paramsSpan) return [];
  return [
    {
      span: handler.paramsSpan,
      severity: DiagnosticSeverity.Warning,
      code: 'handler-signature',
      message: problem,
      fixes: [
        { title: 'Change to `handler(system, this)`', span: handler.paramsSpan, newText: '(system, this)' },
      ],
    },
  ];
}

/** What is wrong with the handler's parameters, if anything. */
function handlerProblem(handler: ScopeInfo): string | undefined {
  const positional = handler.params.filter((p) => p.kind === 'normal');
  const required = positional.filter((p) => !p.hasDefault);
  const canTakeTwo = positional.length >= 2 || handler.params.some((p) => p.kind === 'varargs');
  const found = `found (${handler.params.map((p) => p.name).join(', ')})`;
  if (!canTakeTwo || required.length > 3 || handler.params.some((p) => p.kind === 'keyword' && !p.hasDefault))
    return `\`handler\` must take \`(system, this)\` or \`(system, this, inputs)\`; ${found}.`;
  const expected: ClassName[] = ['System', 'Execution'];
  for (const [i, cls] of expected.entries()) {
    const p = positional[i];
    if (p?.annotated && p.type?.kind === 'instance' && p.type.cls !== cls)
      return `The ${i === 0 ? 'first' : 'second'} parameter of \`handler\` receives a \`flow_api.${cls}\`, but \`${p.name}\` is annotated as \`flow_api.${p.type.cls}\`.`;
  }
  return undefined;
}
