// Builds documents for the provider unit tests: `|` in the text marks the cursor.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Analyzer } from '../../server/analysis';
import { FlowDocument, type Engines } from '../../server/document';
import { loadParser } from '../../server/parser';
import { FlowSummaries } from '../../server/flowSummary';
import { pathToUri, WorkspaceFlows, type FlowIndex } from '../../server/workspaceFlows';

let engines: Promise<Engines> | undefined;

const CHILD = `"""Counts things."""
def handler(system, this, inputs):
    n = int(inputs['count'])
    region = this.get('input_value')['region']
    verbose = inputs.get('verbose', False)
    return this.success(n)
`;
const SCHEMA = `input_schema = {
    'type': 'object',
    'properties': {'order_id': {'type': 'integer'}, 'note': {'type': 'string'}},
    'required': ['order_id'],
}

def handler(system, this):
    data = this.get('input_value')
    return this.success(data)
`;
const OPEN_ENDED = `def handler(system, this, inputs):
    process(inputs)
    return this.success(inputs['a'])
`;

export function loadEngines(): Promise<Engines> {
  engines ??= loadParser().then((parser) => ({ parser, analyzer: new Analyzer(parser) }));
  return engines;
}

export const URI = 'file:///flows/main.py';

/** A document from text with one `|` marking the cursor (removed from the text). */
export function docAt(e: Engines, textWithCursor: string, uri = URI): { doc: FlowDocument; offset: number } {
  const offset = textWithCursor.indexOf('|');
  if (offset < 0) throw new Error('no | cursor in the text');
  const text = textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1);
  return { doc: new FlowDocument(uri, 1, text, e), offset };
}

/** Types `typed` at the `|` of a document parsed without it: the tree is now stale, like mid-typing. */
export function typedAt(
  e: Engines,
  textWithCursor: string,
  typed: string,
): { doc: FlowDocument; offset: number } {
  const { doc, offset } = docAt(e, textWithCursor);
  const at = doc.positionAt(offset);
  doc.update([{ range: { start: at, end: at }, text: typed }], 2);
  return { doc, offset: offset + typed.length };
}

/** A fixed set of flows in one folder. */
export function fakeFlows(names: string[]): FlowIndex {
  return {
    names: () => names,
    resolve: (name) => ({ known: true, uri: names.includes(name) ? `file:///flows/${name}.py` : undefined }),
    all: () => names.map((name) => ({ name, uri: `file:///flows/${name}.py`, root: '/flows' })),
  };
}

/**
 * A real folder of flows (`files`, by file name) indexed as the server indexes a workspace, with
 * an empty main.py to type in.
 */
export async function flowsFolder(
  e: Engines,
  files: Record<string, string>,
): Promise<{ root: string; flows: WorkspaceFlows; mainUri: string }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-folder-'));
  for (const [name, text] of Object.entries({ ...files, 'main.py': '' }))
    fs.writeFileSync(path.join(root, name), text);
  const flows = new WorkspaceFlows();
  flows.summaries = new FlowSummaries(e.parser);
  await flows.setFolders([root]);
  return { root, flows, mainUri: pathToUri(path.join(root, 'main.py')) };
}

/**
 * Flows whose inputs the server infers three ways: read from `inputs` and `input_value`, declared
 * in an `input_schema`, and passed on whole (open-ended). For flowsFolder().
 */
export const CHILD_FLOWS: Record<string, string> = {
  'child.py': CHILD,
  'orders.py': SCHEMA,
  'open.py': OPEN_ENDED,
};
