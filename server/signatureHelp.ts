// Signature help for API calls, with the active parameter tracked (positional or by keyword).
import type { ParameterInformation, SignatureHelp } from 'vscode-languageserver';
import { paramLabel, signatureParts } from './catalogue';
import { cursorContext, paramOfArgument } from './cursorContext';
import type { FlowDocument } from './document';
import { deprecationNote, markdown } from './markdown';
import type { PythonParser } from './parser';

export function signatureHelp(doc: FlowDocument, offset: number, parser: PythonParser): SignatureHelp | null {
  const call = cursorContext(doc, parser, offset).call;
  if (!call) return null;
  const { method } = call;
  const parameters: ParameterInformation[] = [];
  let label = `${method.name}(`;
  signatureParts(method).forEach((part, i) => {
    if (i > 0) label += ', ';
    if (typeof part === 'string') {
      label += part;
      return;
    }
    const text = paramLabel(part);
    parameters.push({ label: [label.length, label.length + text.length], documentation: markdown(part.doc) });
    label += text;
  });
  label += `) -> ${method.returns}`;
  const active = paramOfArgument(call);
  return {
    signatures: [
      {
        label,
        // Typing `this.task(` says what to call instead, before the hover does.
        documentation: markdown([deprecationNote(method), method.doc].filter(Boolean).join('\n\n')),
        parameters,
      },
    ],
    activeSignature: 0,
    activeParameter: active ? method.params.indexOf(active) : parameters.length,
  };
}
