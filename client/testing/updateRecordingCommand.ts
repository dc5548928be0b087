/**
 * "Flows: Update Recording" (the Testing view's context menu on a case or a test file, and the
 * command palette): after a modal confirmation, the case (or every case of the file) is recorded
 * again from a new run of the live flow with the case's input, and rewritten in its file
 * (`flows test update`, runner/src/testing/updateRecording.ts: comments and other cases stay).
 * The CLI goes through this window's runner when it serves the data folder.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { TEST_FILE_SUFFIX } from '@flows/protocol';
import type { Ctx } from '../ctx';
import { readConfig } from '../config';
import { UserError } from '../log';
import { startFlowsCli } from './flowsCli';
import { discoverTests } from './testDiscovery';

interface Target {
  file: string;
  /** One case, or all of the file's. */
  name?: string;
}

export async function updateRecording(ctx: Ctx, arg?: unknown): Promise<void> {
  const target = targetOf(arg) ?? (await pickTarget());
  if (!target) return;
  const what = target.name ? `the test "${target.name}"` : `every test of ${path.basename(target.file)}`;
  const ok = await vscode.window.showWarningMessage(
    `Record ${what} again?`,
    {
      modal: true,
      detail:
        "The flow runs now, for real, with the case's input: its connectors reach the real systems and its child flows run. What it does replaces the recorded calls and expectations of the case in the test file; the case's name, input, replay choices and comments stay.",
    },
    'Update Recording',
  );
  if (ok !== 'Update Recording') return;
  const folder = ctx.flowsFolder();
  const dataFolder = readConfig().dataFolder;
  const out = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Recording ${what} again…` },
    async () => {
      const cli = await startFlowsCli(
        ctx.extension.extensionPath,
        folder,
        [
          'test',
          'update',
          target.file,
          ...(target.name ? ['--case', target.name] : []),
          ...(dataFolder ? ['--data', dataFolder] : []),
        ],
        folder ?? path.dirname(target.file),
      );
      let stdout = '';
      cli.child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const { code, stderr } = await cli.done;
      if (code !== 0) throw new UserError(`Update Recording failed: ${stderr.trim() || `exit code ${code}`}`);
      return stdout.trim();
    },
  );
  await ctx.tests.update(vscode.Uri.file(target.file));
  void vscode.window.showInformationMessage(out.split('\n').pop() ?? 'Updated.');
}

/** A case or file item of the Testing view (its id is `<file uri>` or `<file uri>#<case>`). */
function targetOf(arg: unknown): Target | undefined {
  const item = arg as vscode.TestItem | undefined;
  if (!item?.uri || !item.id.startsWith('file:')) return undefined;
  return item.parent ? { file: item.uri.fsPath, name: item.label } : { file: item.uri.fsPath };
}

/** From the palette: the case at the cursor in a test file, else one picked from a list. */
async function pickTarget(): Promise<Target | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (editor?.document.fileName.endsWith(TEST_FILE_SUFFIX)) {
    const cases = discoverTests(editor.document.getText()).cases;
    const line = editor.selection.active.line;
    const at = cases.filter((c) => c.line <= line).pop();
    if (at) return { file: editor.document.fileName, name: at.name };
  }
  const files = await vscode.workspace.findFiles(
    `**/*${TEST_FILE_SUFFIX}`,
    '**/{node_modules,.git,.flows}/**',
  );
  const items: Array<vscode.QuickPickItem & { target: Target }> = [];
  for (const uri of files) {
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    const rel = vscode.workspace.asRelativePath(uri);
    items.push({ label: `$(file) ${rel}`, description: 'every case', target: { file: uri.fsPath } });
    for (const c of discoverTests(text).cases)
      items.push({ label: c.name, description: rel, target: { file: uri.fsPath, name: c.name } });
  }
  if (!items.length) throw new UserError('There are no flow tests (*.flowtest.yaml) to update.');
  return (await vscode.window.showQuickPick(items, { placeHolder: 'The test to record again' }))?.target;
}
