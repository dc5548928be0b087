// Semantic tokens (flow names in `this.flow('name')`, calls into the API) and inlay hints (the
// type a child flow uses each input it is passed as), both read from the last analysis.
import { InlayHintKind, type InlayHint, type SemanticTokensLegend } from 'vscode-languageserver';
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

/**
 * `textDocument/semanticTokens/full`: flow names as `namespace`, API methods called as
 * `method` + `defaultLibrary`, in LSP's relative encoding.
 */
export function semanticTokens(doc: FlowDocument): { data: number[] } {
  const tokens: { span: Span; type: number; modifiers: number }[] = [];
  for (const unit of doc.analysis.units) {
    for (const call of unit.calls)
      tokens.push({ span: call.nameSpan, type: METHOD, modifiers: DEFAULT_LIBRARY });
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
 * `textDocument/inlayHint`: after each input passed to `this.flow('child', …)` (a keyword or a
 * key of `inputs={…}`), the type the child uses it as, where it tells (`int(inputs['count'])`).
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
      if (!ref.passed.length || ref.span.start > to || ref.call.span.end < from) continue;
      const inputs = flows.inputs?.(ref.name, doc.uri)?.inputs;
      if (!inputs) continue;
      for (const p of ref.passed) {
        const input = inputs.find((i) => i.name === p.name);
        if (!input?.type) continue;
        out.push({
          position: doc.rangeOf(p.after).end,
          label: `: ${input.type}`,
          kind: InlayHintKind.Type,
          tooltip: `${ref.name} uses its input \`${p.name}\` as \`${input.type}\``,
        });
      }
    }
  }
  return out;
}
