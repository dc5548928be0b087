// The open flow documents, and when they are reparsed: shortly after the last change, off the
// request path. A completion that arrives with the change it follows is answered first, from the
// last tree; hover, definition and symbols ask for `current` and get the reparse at once.
import type { TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';
import { FlowDocument, type Engines } from './document';

/** Quiet time after a change before the reparse; keystrokes closer together share one parse. */
const PARSE_DELAY_MS = 30;

export class Documents {
  private readonly docs = new Map<string, FlowDocument>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly engines: Engines,
    /** Called after every parse (diagnostics are published from here). */
    private readonly onParsed: (doc: FlowDocument) => void,
    private readonly delayMs = PARSE_DELAY_MS,
  ) {}

  open(uri: string, version: number, text: string): void {
    this.close(uri);
    const doc = new FlowDocument(uri, version, text, this.engines);
    this.docs.set(uri, doc);
    this.onParsed(doc);
  }

  change(uri: string, changes: TextDocumentContentChangeEvent[], version: number): void {
    const doc = this.docs.get(uri);
    if (!doc) return;
    doc.update(changes, version);
    clearTimeout(this.timers.get(uri));
    this.timers.set(
      uri,
      setTimeout(() => this.reparse(doc), this.delayMs),
    );
  }

  close(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.delete(uri);
    this.docs.get(uri)?.dispose();
    this.docs.delete(uri);
  }

  /** The document as last parsed (possibly behind the text by the latest keystrokes). */
  get(uri: string): FlowDocument | undefined {
    return this.docs.get(uri);
  }

  /** The document, reparsed now if a change is pending. */
  current(uri: string): FlowDocument | undefined {
    const doc = this.docs.get(uri);
    if (doc?.isDirty) this.reparse(doc);
    return doc;
  }

  all(): FlowDocument[] {
    return [...this.docs.values()];
  }

  private reparse(doc: FlowDocument): void {
    clearTimeout(this.timers.get(doc.uri));
    this.timers.delete(doc.uri);
    if (!doc.isDirty || this.docs.get(doc.uri) !== doc) return;
    doc.reparse();
    this.onParsed(doc);
  }
}
