/**
 * The bundled runner's CLI (`dist/runner.js`), run by the Testing view: `flows test … --reporter
 * json` for a run or a debug run, `flows test update` for Update Recording. The extension host's
 * own Node runs it (Electron in desktop VS Code, as plain Node); the Python is the workspace's.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readConfig } from '../config';
import { findInterpreter } from '../runner/pythonInterpreter';

export interface FlowsCli {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code (null: killed or could not start) and what it wrote to stderr. */
  done: Promise<{ code: number | null; stderr: string }>;
}

/** Starts `flows <args…> --python <the workspace's> [--flows <folder>]`. */
export async function startFlowsCli(
  extensionPath: string,
  folder: string | undefined,
  args: string[],
  cwd: string,
): Promise<FlowsCli> {
  const config = readConfig();
  const python = await findInterpreter(config.pythonPath, folder ? vscode.Uri.file(folder) : undefined);
  const child = spawn(
    process.execPath,
    [
      path.join(extensionPath, 'dist', 'runner.js'),
      ...args,
      '--python',
      python.path,
      ...(folder ? ['--flows', folder] : []),
    ],
    {
      cwd,
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', FLOWS_FROM_EDITOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    },
  );
  child.stdin.end();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.once('error', (err) => {
      stderr += err.message;
      resolve({ code: null, stderr });
    });
    child.once('close', (code) => resolve({ code, stderr }));
  });
  return { child, done };
}
