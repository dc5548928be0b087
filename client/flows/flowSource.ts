/**
 * What the extension needs to know about a flow file from its text and path, without VS Code
 * (unit-tested in plain Node). The language server parses flows properly; these answers only
 * decide where CodeLenses go and whether to ask for input, so a line scan is enough.
 */
import * as path from 'node:path';
import { FLOW_HANDLER as HANDLER } from '@flows/protocol';

// What makes a file a flow is the protocol's (`flows deploy` finds the flows of a folder so too).
export { handlerLine, isFlowSource } from '@flows/protocol';

/**
 * Whether the flow reads its input, so Run should ask for one: it takes `inputs`, reads
 * `input_value`, or loads fields of its record.
 */
export function readsInputs(text: string): boolean {
  const m = HANDLER.exec(text);
  if (m && m[1].split(',').length >= 3) return true;
  return /input_value|\bthis\s*\.\s*load\s*\(|\binputs\b/.test(text);
}

/** The flow's name: its path in the flows folder, `/`-separated, without `.py`; undefined outside. */
export function flowNameOf(flowsFolder: string, file: string): string | undefined {
  const rel = path.relative(flowsFolder, file);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel) || !rel.endsWith('.py')) return undefined;
  return rel.slice(0, -3).split(path.sep).join('/');
}

/** The file of a flow name. */
export function flowFileOf(flowsFolder: string, flowName: string): string {
  return path.join(flowsFolder, ...`${flowName}.py`.split('/'));
}
