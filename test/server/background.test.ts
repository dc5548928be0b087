// The background queue (server/background.ts) and the documents' reparse in slices: requests
// get their turn between slices, keystrokes typed during a reparse are kept, and a closed
// document's reparse stops.
import assert from 'node:assert/strict';
import { Background, Cancelled, type Slice, type Steps } from '../../server/background';
import { completions } from '../../server/completion';
import type { Engines, FlowDocument } from '../../server/document';
import { Documents } from '../../server/documents';
import { generateFlow } from './generateFlow';
import { fakeFlows, loadEngines, URI } from './helpers';

/** Work of `n` steps that yields whenever its slice is over; records where it stopped. */
function* counting(n: number, slice: Slice, stops: number[]): Steps<number> {
  for (let i = 0; i < n; i++) {
    if (slice.expired()) {
      stops.push(i);
      yield;
    }
    const until = performance.now() + 0.05;
    while (performance.now() < until); // busy, as a parse is
  }
  return n;
}

describe('background work in slices', () => {
  it('runs a job in slices, with the event loop free in between', async () => {
    const background = new Background(1);
    const stops: number[] = [];
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    try {
      assert.equal(await background.run(counting(200, background.slice, stops)), 200);
    } finally {
      clearInterval(ticker);
    }
    assert.ok(stops.length >= 5, `stopped ${stops.length} times`);
    assert.ok(turns >= 3, `the event loop had ${turns} turns`);
  });

  it('runs jobs one after the other; a job cancelled before its turn never runs', async () => {
    const background = new Background(1);
    const order: string[] = [];
    let cleaned = false;
    function* job(name: string): Steps<string> {
      try {
        yield* counting(100, background.slice, []);
        order.push(name);
        return name;
      } finally {
        cleaned ||= name === 'b';
      }
    }
    const a = background.run(job('a'));
    const bSteps = job('b');
    const b = background.run(bSteps);
    const c = background.run(job('c'));
    background.cancel(bSteps);
    await assert.rejects(b, Cancelled);
    assert.deepEqual(await Promise.all([a, c]), ['a', 'c']);
    assert.deepEqual(order, ['a', 'c']);
    assert.ok(!cleaned, 'b never started');
  });
});

describe('documents reparsed in the background', () => {
  let e: Engines;
  before(async () => {
    e = await loadEngines();
  });

  const BIG = generateFlow(3000);
  const line = BIG.split('\n').findIndex((l) => l.startsWith('    this.save('));

  it('answers completions from the typed text while a reparse is under way, and publishes after it', async () => {
    const parsed: FlowDocument[] = [];
    let onParsed = () => {};
    const documents = new Documents(
      e,
      (doc) => {
        parsed.push(doc);
        onParsed();
      },
      (err) => assert.fail(String(err)),
      0,
    );
    documents.open(URI, 1, BIG);
    const doc = documents.get(URI)!;
    const typed = "    c = this.flow('child')\n    c.";
    const at = { line, character: 0 };
    let version = 1;
    const flows = fakeFlows(['child']);
    for (const [i, ch] of [...typed].entries()) {
      const pos = doc.positionAt(doc.offsetAt(at) + i);
      documents.change(URI, [{ range: { start: pos, end: pos }, text: ch }], ++version);
      // The reparse (10 ms and more on this file) begins and runs a slice or two meanwhile.
      await new Promise((r) => setTimeout(r, 2));
    }
    const offset = doc.offsetAt(at) + typed.length;
    const labels = completions(doc, offset, { parser: e.parser, flows }).map((c) => c.label);
    assert.ok(labels.includes('sleep_until'), `after the typed \`c.\`: ${labels.slice(0, 8).join(', ')}`);

    // `settled` waits for the reparse (an event, not a sleep) and the document is then current.
    const published = new Promise<void>((r) => (onParsed = r));
    const settled = await documents.settled(URI);
    await published;
    assert.equal(settled, doc);
    assert.ok(!doc.isDirty);
    assert.equal(parsed[parsed.length - 1], doc);
    assert.ok(completions(doc, offset, { parser: e.parser, flows }).some((c) => c.label === 'sleep_until'));
    documents.close(URI);
  });

  it('publishes for keystrokes that arrive while a reparse is under way', async () => {
    let published: () => void = () => {};
    const documents = new Documents(
      e,
      (doc) => {
        if (!doc.isDirty) published();
      },
      (err) => assert.fail(String(err)),
      0,
    );
    documents.open(URI, 1, BIG);
    const doc = documents.get(URI)!;
    const pos = { line, character: 0 };
    const current = new Promise<void>((r) => (published = r));
    documents.change(URI, [{ range: { start: pos, end: pos }, text: '    this.\n' }], 2);
    await new Promise((r) => setTimeout(r, 3)); // the reparse of version 2 is under way
    documents.change(URI, [{ range: { start: pos, end: { line: line + 1, character: 0 } }, text: '' }], 3);
    await current; // without a settled() to push it: the reparse that follows publishes
    assert.equal(doc.version, 3);
    assert.equal(doc.text, BIG);
    documents.close(URI);
  });

  it('stops the reparse of a document closed meanwhile', async () => {
    const documents = new Documents(
      e,
      () => {},
      (err) => assert.fail(String(err)),
      0,
    );
    documents.open(URI, 1, BIG);
    const doc = documents.get(URI)!;
    const pos = { line, character: 0 };
    documents.change(URI, [{ range: { start: pos, end: pos }, text: '    x = foo(1,\n' }], 2);
    const settling = documents.settled(URI);
    await new Promise((r) => setTimeout(r, 3));
    documents.close(URI);
    assert.equal(await settling, undefined);
    assert.equal(documents.get(URI), undefined);
    assert.ok(doc.isDirty, 'the closed document was not reparsed');
  });
});
