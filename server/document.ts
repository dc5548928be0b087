// One open Python document: its text (LSP incremental sync), the last tree-sitter tree and the
// analysis of that tree. Each change is applied to the text and, with `tree.edit`, to the old
// tree at once, so requests can answer from the last tree while the reparse waits (see
// documents.ts); `reparse` then parses incrementally and re-analyses only what changed.
import { TextDocument, type TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';
import type { Position, Range } from 'vscode-languageserver';
import type { Point, Tree } from 'web-tree-sitter';
import type { Analysis, Analyzer } from './analysis';
import type { PythonParser } from './parser';
import type { Span } from './syntax';

interface EditRecord {
  start: number;
  oldEnd: number;
  newEnd: number;
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
  /** Where the text changed since the last parse, in current coordinates. */
  private changed: Span[] = [];

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
    return this.changed.length ? Math.min(...this.changed.map((s) => s.start)) : undefined;
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
        this.changed = [];
        continue;
      }
      const start = this.doc.offsetAt(change.range.start);
      const oldEnd = this.doc.offsetAt(change.range.end);
      const newEnd = start + change.text.length;
      const startPosition = toPoint(this.doc.positionAt(start));
      const oldEndPosition = toPoint(this.doc.positionAt(oldEnd));
      this.current.edit({
        startIndex: start,
        oldEndIndex: oldEnd,
        newEndIndex: newEnd,
        startPosition,
        oldEndPosition,
        newEndPosition: advance(startPosition, change.text),
      });
      const delta = newEnd - oldEnd;
      this.changed = this.changed.map((s) => ({
        start: shift(s.start, start, oldEnd, delta),
        end: shift(s.end, start, oldEnd, delta),
      }));
      this.changed.push({ start, end: newEnd });
      this.edits.push({ start, oldEnd, newEnd });
      this.doc = TextDocument.update(this.doc, [change], version);
    }
  }

  /** Parses the current text (incrementally when possible) and re-analyses the changed units. */
  reparse(): void {
    if (!this.isDirty) return;
    const text = this.text;
    const old = this.current;
    this.current = this.engines.parser.parse(text, old);
    const edits = this.edits;
    const changed = [
      ...old.getChangedRanges(this.current).map((r) => ({ start: r.startIndex, end: r.endIndex })),
      ...this.changed,
    ];
    const mapOffset = (offset: number) => {
      let o: number | undefined = offset;
      for (const e of edits) {
        if (o === undefined) break;
        if (o >= e.oldEnd) o += e.newEnd - e.oldEnd;
        else if (o > e.start) o = undefined;
      }
      return o;
    };
    this.parsedAnalysis = this.engines.analyzer.analyze(this.current, text, {
      analysis: this.parsedAnalysis,
      mapOffset,
      changed,
      edited: this.changed,
      tree: old,
    });
    old.delete();
    this.edits = [];
    this.changed = [];
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
    this.current.delete();
    this.engines.analyzer.release(this.parsedAnalysis);
  }
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
