/**
 * Input and output of an execution as read-only JSON editors: a content provider for the
 * `flows-execution:` scheme (VS Code never offers to save what a provider serves).
 */
import * as vscode from 'vscode';
import type { RunnerService } from '../runner/runnerService';

export const SCHEME = 'flows-execution';

export type Field = 'input' | 'output';

export class ExecutionDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly registration: vscode.Disposable;

  constructor(private readonly runner: RunnerService) {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(SCHEME, this);
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const q = new URLSearchParams(uri.query);
    const id = q.get('id') ?? '';
    const field = q.get('field') === 'input' ? 'input_value' : 'output_value';
    const conn = await this.runner.ensure();
    const rec = await conn.api.getExecution(id);
    const value = rec[field];
    return `${JSON.stringify(value === undefined ? null : value, null, 2)}\n`;
  }

  /** Opens the input or output of an execution beside the current editor (or in the preview of the last one). */
  async show(id: string, field: Field): Promise<void> {
    const conn = await this.runner.ensure();
    const rec = await conn.api.getExecution(id);
    // The path is only what the tab shows; the query says what to load.
    const safeName = rec.name.replace(/[^\w.-]+/g, '-');
    const uri = vscode.Uri.from({
      scheme: SCHEME,
      path: `/${safeName} ${field} ${id.slice(0, 8)}.json`,
      query: new URLSearchParams({ id, field }).toString(),
    });
    const doc = await vscode.workspace.openTextDocument(uri);
    // One preview: where one of ours is open already, replace it there rather than opening
    // yet another group beside (three clicks made four columns).
    const shown = vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === SCHEME);
    await vscode.window.showTextDocument(doc, {
      preview: true,
      viewColumn: shown?.viewColumn ?? vscode.ViewColumn.Beside,
    });
  }

  dispose(): void {
    this.registration.dispose();
  }
}
