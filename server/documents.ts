// The open flow documents, and when they are reparsed: shortly after the last change, in
// background slices (background.ts), never on the request path. A completion that arrives with
// the change it follows is answered at once, from the last tree and the text around the cursor;
// hover, definition, symbols and the like ask for `settled` and get the document once the
// reparse caught up with the text (requests that come meanwhile are answered between slices).
import type { TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';
import { Background, Cancelled, type Steps } from './background';
import { FlowDocument, type Engines } from './document';

/** Quiet time after a change before the reparse; keystrokes closer together share one parse. */
const PARSE_DELAY_MS = 30;
/** `settled` gives up waiting for a document typed into without a pause after this many reparses. */
const MAX_CATCH_UP = 3;

interface Reparse {
  steps: Steps<boolean>;
  done: Promise<void>;
}

export class Documents {
  private readonly docs = new Map<string, FlowDocument>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** The reparse queued or under way, per document (one at a time each). */
  private readonly reparses = new Map<string, Reparse>();

  constructor(
    private readonly engines: Engines,
    /** Called after every parse (diagnostics are published from here). */
    private readonly onParsed: (doc: FlowDocument) => void,
    /** A reparse that failed (the document keeps its last analysis). */
    private readonly onError: (err: unknown) => void,
    private readonly delayMs = PARSE_DELAY_MS,
    private readonly background = new Background(),
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
    this.schedule(doc);
  }

  close(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.delete(uri);
    const reparse = this.reparses.get(uri);
    if (reparse) this.background.cancel(reparse.steps);
    this.docs.get(uri)?.dispose();
    this.docs.delete(uri);
  }

  /** The document as last parsed (possibly behind the text by the latest keystrokes). */
  get(uri: string): FlowDocument | undefined {
    return this.docs.get(uri);
  }

  /**
   * The document once its reparse caught up with its text (at once when nothing is pending). A
   * document typed into without a pause is given after a few reparses, a few keystrokes behind
   * (its ranges still map onto the current text).
   */
  async settled(uri: string): Promise<FlowDocument | undefined> {
    for (let i = 0; i < MAX_CATCH_UP; i++) {
      const doc = this.docs.get(uri);
      if (!doc?.isDirty) return doc;
      await this.reparseNow(doc);
    }
    return this.docs.get(uri);
  }

  /** `settled` for every open document (for requests that read other open documents too). */
  async allSettled(): Promise<void> {
    await Promise.all([...this.docs.keys()].map((uri) => this.settled(uri)));
  }

  /** The document, reparsed now if a change is pending (at once, blocking: start-up and tests). */
  current(uri: string): FlowDocument | undefined {
    const doc = this.docs.get(uri);
    if (doc?.isDirty && !this.reparses.has(uri)) {
      clearTimeout(this.timers.get(uri));
      this.timers.delete(uri);
      doc.reparse();
      this.onParsed(doc);
    }
    return doc;
  }

  all(): FlowDocument[] {
    return [...this.docs.values()];
  }

  private schedule(doc: FlowDocument): void {
    clearTimeout(this.timers.get(doc.uri));
    this.timers.set(
      doc.uri,
      setTimeout(() => void this.reparseNow(doc), this.delayMs),
    );
  }

  /** Starts the reparse now (or joins the one under way); resolves when it is done. */
  private reparseNow(doc: FlowDocument): Promise<void> {
    clearTimeout(this.timers.get(doc.uri));
    this.timers.delete(doc.uri);
    // Under way: the edits it did not see are scheduled when it is done.
    const running = this.reparses.get(doc.uri);
    if (running) return running.done;
    if (!doc.isDirty || this.docs.get(doc.uri) !== doc) return Promise.resolve();
    const steps = doc.reparseSteps(this.background.slice);
    const done = this.background.run(steps).then(
      (parsed) => {
        this.reparses.delete(doc.uri);
        if (this.docs.get(doc.uri) !== doc) return;
        // Keystrokes typed meanwhile: their own reparse, after the usual pause.
        if (doc.isDirty) this.schedule(doc);
        try {
          if (parsed) this.onParsed(doc);
        } catch (err) {
          this.onError(err);
        }
      },
      (err: unknown) => {
        this.reparses.delete(doc.uri);
        if (!(err instanceof Cancelled)) this.onError(err);
      },
    );
    this.reparses.set(doc.uri, { steps, done });
    return done;
  }
}
