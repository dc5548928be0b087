import assert from 'node:assert/strict';
import { diagnostics } from '../../server/diagnostics';
import { FlowDocument, type Engines } from '../../server/document';
import { documentSymbols } from '../../server/symbols';
import { generateFlow } from './generateFlow';
import { fakeFlows, loadEngines, URI } from './helpers';

const flows = fakeFlows(['child']);

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INSERTS = [
  'this.',
  'x',
  '(',
  ')',
  "'",
  '\n',
  '\n    ',
  "\n    c = this.flow('chld')\n",
  'this.sleeep(1)',
  ':',
  '# ',
  'é😀',
  '\n\ndef helper(this):\n    this.wait()\n',
];

describe('analysis: incremental reparse', () => {
  let e: Engines;
  before(async () => {
    e = await loadEngines();
  });

  it('gives the same diagnostics and symbols as a full parse, after random edits', () => {
    const next = random(42);
    const doc = new FlowDocument(URI, 1, generateFlow(250), e);
    for (let round = 0; round < 60; round++) {
      const edits = 1 + Math.floor(next() * 3);
      for (let k = 0; k < edits; k++) {
        const text = doc.text;
        const start = Math.floor(next() * text.length);
        const end = next() < 0.5 ? start : Math.min(text.length, start + Math.floor(next() * 12));
        const insert = next() < 0.8 ? INSERTS[Math.floor(next() * INSERTS.length)] : '';
        doc.update(
          [{ range: { start: doc.positionAt(start), end: doc.positionAt(end) }, text: insert }],
          doc.version + 1,
        );
      }
      doc.reparse();
      const fresh = new FlowDocument(URI, doc.version, doc.text, e);
      try {
        assert.deepEqual(diagnostics(doc, flows), diagnostics(fresh, flows), `round ${round}`);
        assert.deepEqual(documentSymbols(doc), documentSymbols(fresh), `round ${round}`);
      } finally {
        fresh.dispose();
      }
    }
    doc.dispose();
  });

  it('re-reads only the units an edit touched', () => {
    const doc = new FlowDocument(URI, 1, generateFlow(2000), e);
    const before = doc.analysis.units;
    const at = doc.positionAt(doc.text.indexOf("    this.save(message=f'step 20 done')"));
    doc.update([{ range: { start: at, end: at }, text: '    this.\n' }], 2);
    doc.reparse();
    const after = doc.analysis.units;
    assert.equal(after.length, before.length);
    const reused = after.filter((u) => before.includes(u)).length;
    assert.equal(reused, after.length - 1, 'all units but the edited one are reused');
    doc.dispose();
  });

  it('reads no further than the imports and the handler of files that are not flows', () => {
    const plain = new FlowDocument(URI, 1, 'import json\n\ndef run(this):\n    this.flw()\n', e);
    assert.equal(plain.analysis.isFlow, false);
    assert.deepEqual(plain.analysis.units, []);
    plain.dispose();
    const flow = new FlowDocument(URI, 1, '@trace\ndef handler(system, this):\n    pass\n', e);
    assert.equal(flow.analysis.isFlow, true);
    assert.equal(flow.analysis.handler?.name, 'handler');
    flow.dispose();
  });

  it('maps offsets between the current text and the last parse', () => {
    const doc = new FlowDocument(URI, 1, 'def handler(system, this):\n    pass\n', e);
    const at = doc.positionAt(4);
    doc.update([{ range: { start: at, end: at }, text: 'xyz' }], 2);
    assert.equal(doc.toParseOffset(3), 3);
    assert.equal(doc.toParseOffset(6), 4);
    assert.equal(doc.toParseOffset(10), 7);
    assert.equal(doc.fromParseOffset(7), 10);
    assert.equal(doc.isDirty, true);
    doc.reparse();
    assert.equal(doc.isDirty, false);
    assert.equal(doc.toParseOffset(10), 10);
    doc.dispose();
  });
});
