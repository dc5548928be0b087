// One open Python document: its text (LSP incremental sync), the last tree-sitter tree and the
// analysis of that tree. Each change is applied to the text and, with `tree.edit`, to the old
// tree at once, so requests can answer from the last tree while the reparse waits or runs (see
// documents.ts); the reparse parses incrementally, re-analyses only what changed, and may run in
// background slices while more keystrokes arrive: it reads the text as it was when it started,
// and the keystrokes typed meanwhile are replayed onto the new tree when it is done.
import { TextDocument, type TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';
import type { Position, Range } from 'vscode-languageserver';
import type { Edit, Point, Tree } from 'web-tree-sitter';
import type { Analysis, Analyzer } from './analysis';
import { drain, UNLIMITED, type Slice, type Steps } from './background';
import type { PythonParser } from './parser';
import type { Span } from './syntax';

interface EditRecord {
  start: number;
  oldEnd: number;
  newEnd: number;
  /** The same for `Tree.edit`, with rows and columns. */
  edit: Edit;
}

export interface Engines {
  parser: PythonParser;
  analyzer: Analyzer;
}

export class FlowDocument {
  private doc: TextDocument;
  private current: Tree;
  private parsedAnalysis: Analysis;
  /** Edits since the last parse, oldest first, each in the coordinates of its own time. */
  private edits: EditRecord[] = [];
  /** Counts replacements of the whole text: a reparse begun before one is thrown away. */
  private generation = 0;
  /** False when a stopped reparse may have spent the analysis' masked tree: re-analyse afresh. */
  private reusable = true;

  constructor(
    uri: string,
    version: number,
    text: string,
    private readonly engines: Engines,
  ) {
    this.doc = textDocument(uri, version, text);
    this.current = engines.parser.parse(text);
    this.parsedAnalysis = engines.analyzer.analyze(this.current, text);
  }

  get uri(): string {
    return this.doc.uri;
  }
  get version(): number {
    return this.doc.version;
  }
  get text(): string {
    return this.doc.getText();
  }
  /** The last tree, edited to line up with the current text (parts may be stale until `reparse`). */
  get tree(): Tree {
    return this.current;
  }
  /** The analysis of the last parse; its offsets are in the coordinates of that parse (see `toParseOffset`). */
  get analysis(): Analysis {
    return this.parsedAnalysis;
  }
  /** Where the earliest change not yet parsed starts (current coordinates). */
  get pendingStart(): number | undefined {
    const changed = changedSpans(this.edits);
    return changed.length ? Math.min(...changed.map((s) => s.start)) : undefined;
  }
  get isDirty(): boolean {
    return this.edits.length > 0;
  }
  /** Empty documents get the new-flow snippet; other non-flow Python files get nothing. */
  get isServed(): boolean {
    return this.parsedAnalysis.isFlow || !/\S/.test(this.text);
  }

  update(changes: TextDocumentContentChangeEvent[], version: number): void {
    for (const change of changes) {
      if (!('range' in change)) {
        this.doc = textDocument(this.doc.uri, version, change.text);
        this.current.delete();
        this.current = this.engines.parser.parse(change.text);
        this.engines.analyzer.release(this.parsedAnalysis);
        this.parsedAnalysis = this.engines.analyzer.analyze(this.current, change.text);
        this.edits = [];
        this.generation++;
        this.reusable = true;
        continue;
      }
      const start = this.doc.offsetAt(change.range.start);
      const oldEnd = this.doc.offsetAt(change.range.end);
      const newEnd = start + change.text.length;
      const startPosition = toPoint(this.doc.positionAt(start));
      const oldEndPosition = toPoint(this.doc.positionAt(oldEnd));
      const edit: Edit = {
        startIndex: start,
        oldEndIndex: oldEnd,
        newEndIndex: newEnd,
        startPosition,
        oldEndPosition,
        newEndPosition: advance(startPosition, change.text),
      };
      this.current.edit(edit);
      this.edits.push({ start, oldEnd, newEnd, edit });
      this.doc = TextDocument.update(this.doc, [change], version);
    }
  }

  /** Parses the current text (incrementally when possible) and re-analyses the changed units. */
  reparse(): void {
    drain(this.reparseSteps(UNLIMITED));
  }

  /**
   * `reparse` in slices (see background.ts). It parses the text as it is when it starts, from a
   * copy of the edited tree; edits that arrive before it is done are replayed onto the new tree,
   * and stay pending (`isDirty`) for the next reparse. Returns whether it replaced the analysis.
   */
  *reparseSteps(slice: Slice): Steps<boolean> {
    if (!this.isDirty) return false;
    const generation = this.generation;
    const text = this.text;
    const edits = [...this.edits]; // `update` goes on adding to `this.edits`
    const edited = changedSpans(edits);
    // The edited tree as it is now; the edits still to come change `current`, not this copy.
    const old = this.current.copy();
    let tree: Tree | undefined;
    let analysis: Analysis | undefined;
    try {
      tree = yield* this.engines.parser.parseSteps(text, old, slice);
      if (generation !== this.generation) return false;
      const changed = [
        ...old.getChangedRanges(tree).map((r) => ({ start: r.startIndex, end: r.endIndex })),
        ...edited,
      ];
      const previous = this.reusable
        ? { analysis: this.parsedAnalysis, mapOffset: mapper(edits), changed, edited, tree: old }
        : undefined;
      this.reusable = false; // until this analysis is done (it may take the masked tree)
      analysis = yield* this.engines.analyzer.analyzeSteps(tree, text, previous, slice);
      if (generation !== this.generation) {
        this.engines.analyzer.release(analysis);
        return false;
      }
      this.reusable = true;
      const later = this.edits.slice(edits.length);
      for (const e of later) tree.edit(e.edit);
      this.current.delete();
      this.current = tree;
      this.parsedAnalysis = analysis;
      this.edits = later;
      return true;
    } finally {
      old.delete();
      if (tree && this.current !== tree) tree.delete();
    }
  }

  /** Maps an offset of the current text to the coordinates of the last parse (and its analysis). */
  toParseOffset(offset: number): number {
    let o = offset;
    for (let i = this.edits.length - 1; i >= 0; i--) {
      const e = this.edits[i];
      if (o >= e.newEnd) o -= e.newEnd - e.oldEnd;
      else if (o > e.start) o = e.start;
    }
    return o;
  }

  /** Maps an offset of the last parse to the current text (for ranges from the analysis). */
  fromParseOffset(offset: number): number {
    let o = offset;
    for (const e of this.edits) {
      if (o >= e.oldEnd) o += e.newEnd - e.oldEnd;
      else if (o > e.start) o = e.newEnd;
    }
    return o;
  }

  offsetAt(position: Position): number {
    return this.doc.offsetAt(position);
  }
  positionAt(offset: number): Position {
    return this.doc.positionAt(offset);
  }
  /** The LSP range of a span of the last parse. */
  rangeOf(span: Span): Range {
    return {
      start: this.positionAt(this.fromParseOffset(span.start)),
      end: this.positionAt(this.fromParseOffset(span.end)),
    };
  }

  dispose(): void {
    this.generation++; // a reparse under way throws its result away
    this.current.delete();
    this.engines.analyzer.release(this.parsedAnalysis);
  }
}

/** Old offset → offset after `edits`, or undefined when an edit replaced it. */
function mapper(edits: EditRecord[]): (offset: number) => number | undefined {
  return (offset) => {
    let o: number | undefined = offset;
    for (const e of edits) {
      if (o === undefined) break;
      if (o >= e.oldEnd) o += e.newEnd - e.oldEnd;
      else if (o > e.start) o = undefined;
    }
    return o;
  };
}

/** Where `edits` changed the text, in the coordinates after the last of them. */
function changedSpans(edits: EditRecord[]): Span[] {
  const spans: Span[] = [];
  for (const e of edits) {
    const delta = e.newEnd - e.oldEnd;
    for (const span of spans) {
      span.start = shift(span.start, e.start, e.oldEnd, delta);
      span.end = shift(span.end, e.start, e.oldEnd, delta);
    }
    spans.push({ start: e.start, end: e.newEnd });
  }
  return spans;
}

function textDocument(uri: string, version: number, text: string): TextDocument {
  const doc = TextDocument.create(uri, 'python', version, text);
  // Its line table is built on first use: build it now rather than in the first keystroke
  // (which took 2–9 ms on a 5,000-line flow in the benchmark).
  doc.positionAt(text.length);
  return doc;
}

function toPoint(p: Position): Point {
  return { row: p.line, column: p.character };
}

/** The point after inserting `text` at `start` (rows count `\n`, like tree-sitter). */
function advance(start: Point, text: string): Point {
  const lastBreak = text.lastIndexOf('\n');
  if (lastBreak < 0) return { row: start.row, column: start.column + text.length };
  let rows = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) rows++;
  return { row: start.row + rows, column: text.length - lastBreak - 1 };
}

function shift(offset: number, start: number, oldEnd: number, delta: number): number {
  if (offset >= oldEnd) return offset + delta;
  return offset > start ? start : offset;
}
