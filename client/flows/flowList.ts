/** The flows of the workspace: every `.py` file in the flows folder, by flow name. */
import * as vscode from 'vscode';
import { NOT_FLOW_FOLDERS } from '@flows/protocol';
import { UserError } from '../log';
import { flowNameOf } from './flowSource';

const EXCLUDE = `**/{${NOT_FLOW_FOLDERS.join(',')}}/**`;

export async function listFlows(folder: string, max = 500): Promise<{ name: string; uri: vscode.Uri }[]> {
  const files = await vscode.workspace.findFiles(
    new vscode.RelativePattern(vscode.Uri.file(folder), '**/*.py'),
    EXCLUDE,
    max,
  );
  return files
    .map((uri) => ({ name: flowNameOf(folder, uri.fsPath), uri }))
    .filter((f): f is { name: string; uri: vscode.Uri } => !!f.name)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Asks which flow, when a command was run without one open. */
export async function pickFlow(folder: string, title: string): Promise<vscode.Uri | undefined> {
  const flows = await listFlows(folder);
  if (flows.length === 0) throw new UserError(`There are no flows (.py files) in ${folder} yet.`);
  const picked = await vscode.window.showQuickPick(
    flows.map((f) => ({ label: f.name, iconPath: vscode.ThemeIcon.File, uri: f.uri })),
    { title, placeHolder: 'Which flow?' },
  );
  return picked?.uri;
}
