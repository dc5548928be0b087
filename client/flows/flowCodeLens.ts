/**
 * "Run | Try | Debug | Schedule…" above `def handler` of every flow, and the `flows.activeFlow`
 * context key that shows the editor title buttons.
 */
import * as vscode from 'vscode';
import { flowNameOf, handlerLine } from './flowSource';

const LENSES: [title: string, command: string, tooltip: string][] = [
  ['$(play) Run', 'flows.run', 'Run this flow (productive mode)'],
  ['$(beaker) Try', 'flows.try', 'Try this flow (development mode: breakpoints are honoured)'],
  ['$(debug-alt) Debug', 'flows.debug', 'Debug this flow'],
  ['$(calendar) Schedule…', 'flows.createSchedule', 'Run this flow on a schedule'],
];

export class FlowCodeLens implements vscode.CodeLensProvider {
  private readonly changes = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changes.event;

  constructor(private readonly flowsFolder: () => string | undefined) {}

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const folder = this.flowsFolder();
    if (document.uri.scheme !== 'file' || !folder || !flowNameOf(folder, document.uri.fsPath)) return [];
    const line = handlerLine(document.getText());
    if (line < 0) return [];
    const range = document.lineAt(line).range;
    return LENSES.map(
      ([title, command, tooltip]) =>
        new vscode.CodeLens(range, { title, command, tooltip, arguments: [document.uri] }),
    );
  }

  refresh(): void {
    this.changes.fire();
  }
}
