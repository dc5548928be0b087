// Runs each provider a few times on a small flow at start-up, so the first requests of a session
// do not pay for JIT compilation (the same reason the runner keeps a warm fork server).
import { completions } from './completion';
import { diagnostics } from './diagnostics';
import { FlowDocument, type Engines } from './document';
import { hover } from './hover';
import { signatureHelp } from './signatureHelp';
import type { FlowIndex } from './workspaceFlows';

const SAMPLE = `import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    child = this.flow('child', priority=1)
    child.get('output_value')
    return this.success('done')
`;

export function warmUp(engines: Engines, flows: FlowIndex, rounds = 30): void {
  const doc = new FlowDocument('untitled:warm-up.py', 1, SAMPLE, engines);
  try {
    const line = SAMPLE.split('\n').indexOf("    return this.success('done')");
    for (let i = 0; i < rounds; i++) {
      const at = { line, character: 0 };
      doc.update([{ range: { start: at, end: at }, text: '    child.\n' }], 2 * i + 2);
      const offset = doc.offsetAt({ line, character: 10 });
      completions(doc, offset, { parser: engines.parser, flows });
      signatureHelp(doc, offset, engines.parser);
      doc.update([{ range: { start: at, end: { line: line + 1, character: 0 } }, text: '' }], 2 * i + 3);
      doc.reparse();
      hover(doc, SAMPLE.indexOf('flow('), flows);
      diagnostics(doc, flows);
    }
  } finally {
    doc.dispose();
  }
}
