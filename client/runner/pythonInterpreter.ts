/**
 * Which Python runs the flows: `flows.pythonPath` when set, else the interpreter the Python
 * extension has selected for the workspace (when it is installed), else `python3` (`py -3` on
 * Windows has no single path, so `python` there).
 */
import * as vscode from 'vscode';
import { log } from '../log';
import { discover, probe } from './interpreterDiscovery';

/** The small part of the Python extension's API we use (ms-python.python `environments`). */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment(
      env: { path: string } | string,
    ): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    readonly known?: ReadonlyArray<{ path: string }>;
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

interface PickItem extends vscode.QuickPickItem {
  action: 'path' | 'enter' | 'browse' | 'extension';
  path?: string;
}

/**
 * "Select Python Interpreter": the Pythons found on this machine (the Python extension's, PATH,
 * pyenv, virtual environments in the folder), a path typed or browsed to, or the Python
 * extension's choice. A path is checked to run Python 3.8+ before it is saved as
 * `flows.pythonPath`; saving it offers to restart the runner (see Ctx.onConfigChange).
 */
export async function selectInterpreter(): Promise<void> {
  const config = vscode.workspace.getConfiguration('flows');
  const current = config.get<string>('pythonPath') || undefined;
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  const fixed: PickItem[] = [
    { label: '$(edit) Enter interpreter path…', action: 'enter' },
    { label: '$(folder-opened) Browse…', action: 'browse' },
    ...(ext
      ? [
          {
            label: "$(symbol-misc) Use the Python extension's interpreter",
            description: current ? undefined : 'current',
            action: 'extension' as const,
          },
        ]
      : []),
  ];
  const qp = vscode.window.createQuickPick<PickItem>();
  qp.title = 'Python interpreter for flows';
  qp.placeholder = current
    ? `Now: ${current}. Pick the Python (3.8 or newer) that runs your flows`
    : 'Pick the Python (3.8 or newer) that runs your flows';
  qp.items = fixed;
  qp.busy = true;
  qp.ignoreFocusOut = true;
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  void discover(folders, await extensionEnvironments(ext)).then((found) => {
    const items: PickItem[] = found.map((f) => ({
      label: `Python ${f.version}`,
      description: f.path === current ? `${f.path} · current` : f.path,
      detail: f.source,
      action: 'path',
      path: f.path,
    }));
    qp.items = [
      ...fixed,
      { label: 'Found on this machine', kind: vscode.QuickPickItemKind.Separator, action: 'path' },
      ...(items.length
        ? items
        : [{ label: 'No Python 3.8+ found', action: 'enter' as const, alwaysShow: true }]),
    ];
    qp.busy = false;
  });
  const picked = await new Promise<PickItem | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  qp.dispose();
  if (!picked) return;
  if (picked.action === 'extension') {
    await config.update('pythonPath', undefined, vscode.ConfigurationTarget.Workspace);
    void vscode.window.showInformationMessage("Flows run on the Python extension's interpreter.");
    return;
  }
  const chosen =
    picked.action === 'path'
      ? picked.path
      : picked.action === 'browse'
        ? (
            await vscode.window.showOpenDialog({
              title: 'Python interpreter for flows',
              openLabel: 'Use This Python',
              canSelectFiles: true,
              canSelectFolders: false,
              canSelectMany: false,
            })
          )?.[0]?.fsPath
        : await vscode.window.showInputBox({
            title: 'Python interpreter for flows',
            prompt: 'Path of the Python (3.8 or newer) that runs your flows',
            value: current ?? '',
            ignoreFocusOut: true,
            validateInput: async (text) => {
              if (!text.trim()) return 'Enter the path of a Python executable';
              const r = await probe(text.trim());
              return 'error' in r ? r.error : undefined;
            },
          });
  if (!chosen?.trim()) return;
  const checked = await probe(chosen.trim());
  if ('error' in checked) {
    void vscode.window.showErrorMessage(`Not saved: ${checked.error}.`);
    return;
  }
  await config.update('pythonPath', chosen.trim(), vscode.ConfigurationTarget.Workspace);
  void vscode.window.showInformationMessage(`Flows run on Python ${checked.version} (${chosen.trim()}).`);
}

/** The environments the Python extension knows, when it is installed. */
async function extensionEnvironments(
  ext: vscode.Extension<PythonExtensionApi> | undefined,
): Promise<Array<{ path: string; source: string }>> {
  if (!ext) return [];
  try {
    const api = ext.isActive ? ext.exports : await ext.activate();
    return (api.environments?.known ?? []).map((e) => ({ path: e.path, source: 'Python extension' }));
  } catch {
    return [];
  }
}
