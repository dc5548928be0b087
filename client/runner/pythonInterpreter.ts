/**
 * Which Python runs the flows: `flows.pythonPath` when set, else the interpreter the Python
 * extension has selected for the workspace (when it is installed), else `python3` (`py -3` on
 * Windows has no single path, so `python` there).
 */
import * as vscode from 'vscode';
import { log } from '../log';

/** The small part of the Python extension's API we use (ms-python.python `environments`). */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment(
      env: { path: string } | string,
    ): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

export interface Interpreter {
  path: string;
  source: 'setting' | 'python extension' | 'default';
}

export async function findInterpreter(
  setting: string | undefined,
  resource: vscode.Uri | undefined,
): Promise<Interpreter> {
  if (setting) return { path: setting, source: 'setting' };
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (ext) {
    try {
      const api = ext.isActive ? ext.exports : await ext.activate();
      const active = api.environments?.getActiveEnvironmentPath(resource);
      if (active) {
        const resolved = await api.environments?.resolveEnvironment(active);
        const exe = resolved?.executable.uri?.fsPath ?? active.path;
        if (exe) return { path: exe, source: 'python extension' };
      }
    } catch (err) {
      log.warn(`could not ask the Python extension for its interpreter: ${(err as Error).message}`);
    }
  }
  return { path: process.platform === 'win32' ? 'python' : 'python3', source: 'default' };
}

/** "Select Interpreter": the Python extension's picker when it is there, else our setting. */
export async function selectInterpreter(): Promise<void> {
  if (vscode.extensions.getExtension('ms-python.python')) {
    await vscode.commands.executeCommand('python.setInterpreter');
    return;
  }
  const picked = await vscode.window.showInputBox({
    title: 'Python interpreter for flows',
    prompt: 'Path of the Python (3.8 or newer) that runs your flows; saved as flows.pythonPath',
    value: vscode.workspace.getConfiguration('flows').get<string>('pythonPath') ?? '',
    ignoreFocusOut: true,
  });
  if (picked === undefined) return;
  await vscode.workspace
    .getConfiguration('flows')
    .update('pythonPath', picked.trim(), vscode.ConfigurationTarget.Workspace);
}
