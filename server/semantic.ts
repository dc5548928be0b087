// Semantic tokens (flow names in `this.flow('name')`, calls into the API, deprecated API) and
// inlay hints (the child's inputs at `this.flow('child', …)`), both read from the last analysis.
import { InlayHintKind, type InlayHint, type SemanticTokensLegend } from 'vscode-languageserver';
import type { FlowRef } from './analysis';
import type { FlowDocument } from './document';
import type { Span } from './syntax';
import type { FlowIndex } from './workspaceFlows';

export const TOKEN_TYPES = ['namespace', 'method'] as const;
export const TOKEN_MODIFIERS = ['defaultLibrary', 'deprecated'] as const;
export const LEGEND: SemanticTokensLegend = {
  tokenTypes: [...TOKEN_TYPES],
  tokenModifiers: [...TOKEN_MODIFIERS],
};

const NAMESPACE = TOKEN_TYPES.indexOf('namespace');
const METHOD = TOKEN_TYPES.indexOf('method');
const DEFAULT_LIBRARY = 1 << TOKEN_MODIFIERS.indexOf('defaultLibrary');
const DEPRECATED = 1 << TOKEN_MODIFIERS.indexOf('deprecated');

/**
 * `textDocument/semanticTokens/full`: flow names as `namespace`, API methods called as
 * `method` + `defaultLibrary` (+ `deprecated` for deprecated platform API), in LSP's relative
 * encoding. VS Code's themes do not strike a `deprecated` token through by default; the
 * `deprecated` hint diagnostic (DiagnosticTag.Deprecated) is what does, see diagnostics.ts.
 */
export function semanticTokens(doc: FlowDocument): { data: number[] } {
  const tokens: { span: Span; type: number; modifiers: number }[] = [];
  for (const unit of doc.analysis.units) {
    for (const call of unit.calls)
      tokens.push({
        span: call.nameSpan,
        type: METHOD,
        modifiers: DEFAULT_LIBRARY | (call.method.deprecated ? DEPRECATED : 0),
      });
    for (const ref of unit.flowRefs) tokens.push({ span: ref.span, type: NAMESPACE, modifiers: 0 });
  }
  tokens.sort((a, b) => a.span.start - b.span.start);
  const data: number[] = [];
  let line = 0;
  let character = 0;
  for (const t of tokens) {
    const range = doc.rangeOf(t.span);
    if (range.start.line !== range.end.line || range.end.character <= range.start.character) continue;
    const deltaLine = range.start.line - line;
    const deltaChar = deltaLine ? range.start.character : range.start.character - character;
    data.push(deltaLine, deltaChar, range.end.character - range.start.character, t.type, t.modifiers);
    line = range.start.line;
    character = range.start.character;
  }
  return { data };
}

/**
 * `textDocument/inlayHint` at `this.flow('child', …)`, from what the child reads:
 * - after each input passed by name (a keyword, a key of `inputs={…}` / `input_value={…}`, a
 *   keyword of `inputs=dict(…)`), the type the child uses it as where it tells
 *   (`int(inputs['count'])`): `count: int=2`, `{'count': int: 2}`. The name is written there
 *   already, so it gets no hint of its own.
 * - before each value passed positionally after the flow name, the input it stands for: the
 *   child's inputs in the order it declares (`input_schema`) or first reads them, leaving out
 *   those passed by name, with the type: `this.flow('child', count: int=2)`. `flow()` takes
 *   inputs by keyword only (the call is an error, see diagnostics.ts), so the hint is also the
 *   fix: double-clicking it writes `count=`. Only when every input of the child is known
 *   (`complete`): with some unseen, which value is which cannot be told.
 */
export function inlayHints(
  doc: FlowDocument,
  range: { start: number; end: number },
  flows: FlowIndex,
): InlayHint[] {
  const out: InlayHint[] = [];
  const from = doc.toParseOffset(range.start);
  const to = doc.toParseOffset(range.end);
  for (const unit of doc.analysis.units) {
    if (unit.span.end < from || unit.span.start > to) continue;
    for (const ref of unit.flowRefs) {
      if (ref.span.start > to || ref.call.span.end < from) continue;
      const positional = positionalInputs(ref);
      if (!ref.passed.length && !positional.length) continue;
      const read = flows.inputs?.(ref.name, doc.uri);
      if (!read) continue;
      const hints: InlayHint[] = [];
      for (const p of ref.passed) {
        const input = read.inputs.find((i) => i.name === p.name);
        if (!input?.type) continue;
        hints.push({
          position: doc.rangeOf(p.after).end,
          label: `: ${input.type}`,
          kind: InlayHintKind.Type,
          tooltip: `${ref.name} uses its input \`${p.name}\` as \`${input.type}\``,
        });
      }
      if (positional.length && read.complete) {
        const named = new Set(ref.passed.map((p) => p.name));
        const free = read.inputs.filter((i) => !named.has(i.name));
        positional.forEach((span, i) => {
          const input = free[i];
          if (!input) return;
          const at = doc.rangeOf(span).start;
          hints.push({
            position: at,
            label: `${input.name}${input.type ? `: ${input.type}` : ''}=`,
            kind: InlayHintKind.Parameter,
            textEdits: [{ range: { start: at, end: at }, newText: `${input.name}=` }],
            tooltip: {
              kind: 'markdown',
              value:
                `The input \`${input.name}\` of \`${ref.name}\`${input.type ? ` (used as \`${input.type}\`)` : ''}` +
                `${input.required ? ', which it needs' : ''}. \`${ref.call.method.name}()\` takes a child's inputs ` +
                `by keyword only: double-click to write \`${input.name}=\`.`,
            },
          });
        });
      }
      hints.sort((a, b) => a.position.line - b.position.line || a.position.character - b.position.character);
      out.push(...hints);
    }
  }
  return out;
}

/**
 * The values a `this.flow('child', …)` call passes positionally after the flow name, where the
 * method's other keywords are the child's inputs (`**inputs_and_fields`): not `system.flow(name, by)`.
 */
function positionalInputs(ref: FlowRef): Span[] {
  const { method, args } = ref.call;
  if (!method.params.some((p) => p.kind === 'kwargs' && p.name === 'inputs_and_fields')) return [];
  if (method.params.some((p) => p.kind === 'varargs') || args.some((a) => a.kind === 'splat')) return [];
  const slots = method.params.filter((p) => p.kind === 'normal').length;
  return args
    .filter((a) => a.kind === 'positional')
    .slice(slots)
    .map((a) => a.span);
}
