/**
 * Runtime errors where the code is: a failed execution's error becomes a diagnostic at the line
 * where it broke (the Problems panel, a squiggle in the editor), cleared when the flow runs again;
 * "Go to Error" (row, toast) opens that line; a click on a row opens the flow at the line where
 * the execution ended; tracebacks in the "Flows: Execution Log" channel are links.
 */
import * as vscode from 'vscode';
import type { ExecutionRecord } from '@flows/protocol';
import { reasonFirst } from '../executions/messageText';
import { flowFileOf, handlerLine } from '../flows/flowSource';
import type { RunnerService } from '../runner/runnerService';
import { errorLocation, localFile, TRACEBACK_FRAME, type ErrorLocation } from './traceback';

/** Failed executions whose location is remembered (a Go to Error on an old row reads the log again). */
const REMEMBERED = 500;

export class RunErrors implements vscode.Disposable {
  readonly diagnostics = vscode.languages.createDiagnosticCollection('flows');
  /** Execution id → where it broke (null: its log holds no traceback), newest last. */
  private readonly located = new Map<string, ErrorLocation | null>();
  /** Flow name → the files its last failed run put diagnostics in. */
  private readonly byFlow = new Map<string, vscode.Uri[]>();
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly runner: RunnerService,
    private readonly flowsFolder: () => string | undefined,
  ) {
    this.disposables = [
      this.diagnostics,
      runner.executions.onDidChange(({ event, record }) => void this.onExecution(event, record)),
      vscode.languages.registerDocumentLinkProvider(
        { language: 'flows-log' },
        { provideDocumentLinks: (doc) => provideDocumentLinks(doc, this.flowsFolder()) },
      ),
    ];
  }

  private async onExecution(event: 'created' | 'updated', rec: ExecutionRecord): Promise<void> {
    if (!rec.flow_name) return;
    // The next run of the flow clears what the last one found.
    if (event === 'created' && rec.parent_execution_id === null) this.clear(rec.flow_name);
    if (rec.status !== 'FAILED' || this.located.has(rec.id)) return;
    const where = await this.locate(rec);
    if (where) await this.mark(rec, where);
  }

  private clear(flowName: string): void {
    for (const uri of this.byFlow.get(flowName) ?? []) this.diagnostics.delete(uri);
    this.byFlow.delete(flowName);
  }

  /** Where `rec` broke, from its log; undefined when it did not fail with a traceback. */
  async locate(rec: ExecutionRecord): Promise<ErrorLocation | undefined> {
    const known = this.located.get(rec.id);
    if (known !== undefined) return known ?? undefined;
    const conn = this.runner.connection;
    if (!conn || rec.status !== 'FAILED') return undefined;
    const lines = await conn.api.getLog(rec.id).catch(() => []);
    const found = errorLocation(lines.filter((l) => l.stream === 'stderr').map((l) => l.text));
    // A team runner's deployed flow runs from its cache: the line is this folder's file's.
    const where = found ? { ...found, file: localFile(found.file, this.flowsFolder()) } : null;
    this.located.set(rec.id, where);
    for (const old of this.located.keys()) {
      if (this.located.size <= REMEMBERED) break;
      this.located.delete(old);
    }
    return where ?? undefined;
  }

  private async mark(rec: ExecutionRecord, where: ErrorLocation): Promise<void> {
    const uri = vscode.Uri.file(where.file);
    const range = await lineRange(uri, where.line);
    if (!range) return;
    // The tree's message ends with "(line N)"; here the squiggle says where.
    const text = reasonFirst((rec.message ?? 'failed').replace(/ \(line \d+\)$/, ''));
    const d = new vscode.Diagnostic(range, text, vscode.DiagnosticSeverity.Error);
    d.source = `flows: ${rec.name} (${rec.is_productive ? 'run' : 'try'})`;
    const flow = rec.flow_name!;
    const files = this.byFlow.get(flow) ?? [];
    // One failure per file and flow: a newer failure of the same flow replaces the older one.
    if (!files.some((u) => u.toString() === uri.toString())) files.push(uri);
    this.byFlow.set(flow, files);
    const others = (this.diagnostics.get(uri) ?? []).filter((x) => x.source !== d.source);
    this.diagnostics.set(uri, [...others, d]);
  }

  /** Opens the line where `rec` broke; false when its log names none. */
  async goToError(rec: ExecutionRecord, preview = false): Promise<boolean> {
    const where = await this.locate(rec);
    if (!where) return false;
    await showLine(vscode.Uri.file(where.file), where.line, preview);
    return true;
  }

  /**
   * Opens the flow of `rec` at the line where it ended: where it broke when it failed, else its
   * handler. A preview that keeps the focus where it was (a click on a row).
   */
  async openWhereEnded(rec: ExecutionRecord): Promise<void> {
    if (await this.goToError(rec, true)) return;
    const folder = this.flowsFolder();
    if (!rec.flow_name || !folder) return;
    const uri = vscode.Uri.file(flowFileOf(folder, rec.flow_name));
    const doc = await vscode.workspace.openTextDocument(uri).then(
      (d) => d,
      () => undefined,
    );
    if (!doc) return;
    await showLine(uri, handlerLine(doc.getText()) + 1, true);
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}

/** The line's text without its indentation, or undefined when the file cannot be read. */
async function lineRange(uri: vscode.Uri, line: number): Promise<vscode.Range | undefined> {
  try {
    const doc = await vscode.workspace.openTextDocument(uri);
    const l = doc.lineAt(Math.min(Math.max(line - 1, 0), doc.lineCount - 1));
    return new vscode.Range(l.range.start.translate(0, l.firstNonWhitespaceCharacterIndex), l.range.end);
  } catch {
    return undefined;
  }
}

async function showLine(uri: vscode.Uri, line: number, preview: boolean): Promise<void> {
  const pos = new vscode.Position(Math.max(line - 1, 0), 0);
  const editor = await vscode.window.showTextDocument(uri, {
    selection: new vscode.Range(pos, pos),
    preview,
    preserveFocus: preview,
  });
  editor.revealRange(editor.selection, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

/** `File "/flows/order.py", line 12` in the log channel opens that line (a deployed flow's in the folder). */
function provideDocumentLinks(
  doc: vscode.TextDocument,
  flowsFolder: string | undefined,
): vscode.DocumentLink[] {
  const links: vscode.DocumentLink[] = [];
  for (let i = 0; i < doc.lineCount; i++) {
    const text = doc.lineAt(i).text;
    const m = TRACEBACK_FRAME.exec(text);
    if (!m || m[1].startsWith('<')) continue;
    const start = m.index + 'File '.length;
    const range = new vscode.Range(i, start, i, m.index + m[0].length);
    const file = localFile(m[1], flowsFolder);
    const link = new vscode.DocumentLink(range, vscode.Uri.file(file).with({ fragment: `L${m[2]}` }));
    link.tooltip = `Open ${file} at line ${m[2]}`;
    links.push(link);
  }
  return links;
}
