/**
 * "Flows: Create Test from Execution": the runner makes a case of an ended execution in its
 * flow's test file (POST /api/latest/execution/{id}/test), and the file opens at the new case,
 * which the Testing view shows at once.
 */
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { executionId, pickExecution } from '../executions/pickExecution';
import { discoverTests } from './testDiscovery';

export async function createTestFromExecution(ctx: Ctx, arg: unknown): Promise<void> {
  const id = executionId(arg) ?? (await pickExecution(ctx, 'test'))?.id;
  if (!id) return;
  const conn = await ctx.runner.ensure();
  const made = await conn.api.createTest(id);
  const uri = vscode.Uri.file(made.file);
  // Without waiting for the file watcher: the new case is in the view when the file opens.
  await ctx.tests.update(uri);
  const doc = await vscode.workspace.openTextDocument(uri);
  const line = discoverTests(doc.getText()).cases.find((c) => c.name === made.name)?.line ?? 0;
  const at = new vscode.Range(line, 0, line, 0);
  await vscode.window.showTextDocument(doc, { selection: at, preview: false });
  // (the cursor is on the case: Run Test runs the case at the cursor)
  void vscode.window
    .showInformationMessage(`Added the test "${made.name}" to ${made.path}.`, 'Run Test')
    .then((pick) => pick && vscode.commands.executeCommand('testing.runAtCursor'));
}
