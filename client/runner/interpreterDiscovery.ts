/**
 * Pythons on this machine that can run flows, for "Select Python Interpreter": on PATH, pyenv's,
 * and virtual environments in the workspace folders. Each is asked for its version (a flow needs
 * 3.8 or newer). Free of `vscode`, so it is unit-tested in plain Node.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const MIN_PYTHON: readonly [number, number] = [3, 8];

export interface FoundInterpreter {
  path: string;
  /** "3.11.2" */
  version: string;
  /** Where it was found: "PATH", "pyenv", "virtual environment", … */
  source: string;
}

const WINDOWS = process.platform === 'win32';
const EXE_NAMES = WINDOWS ? ['python.exe'] : ['python3', 'python'];
const VENV_BIN = WINDOWS ? 'Scripts' : 'bin';
/** Folders below a workspace folder that usually hold a virtual environment. */
const VENV_DIRS = ['.venv', 'venv', 'env', '.env'];

/** The version of the Python at `exe`, or an error that says why it cannot be used. */
export function probe(exe: string, timeoutMs = 5000): Promise<{ version: string } | { error: string }> {
  return new Promise((resolve) => {
    execFile(
      exe,
      ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'],
      { timeout: timeoutMs, windowsHide: true },
      (err, stdout) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          resolve({
            error:
              code === 'ENOENT'
                ? `${exe} does not exist`
                : code === 'EACCES'
                  ? `${exe} cannot be run (no permission)`
                  : `${exe} is not a working Python (${err.message.split('\n')[0]})`,
          });
          return;
        }
        const version = stdout.trim();
        if (!/^\d+\.\d+\.\d+$/.test(version)) {
          resolve({ error: `${exe} did not say which Python it is` });
          return;
        }
        resolve(
          tooOld(version)
            ? { error: `${exe} is Python ${version}; flows need ${MIN_PYTHON.join('.')} or newer` }
            : { version },
        );
      },
    );
  });
}

function tooOld(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1]);
}

/** Candidate paths with where they come from; not yet checked. */
export function candidates(
  workspaceFolders: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  home = os.homedir(),
): Array<{ path: string; source: string }> {
  const found: Array<{ path: string; source: string }> = [];
  const add = (p: string, source: string) => {
    if (isFile(p)) found.push({ path: p, source });
  };
  for (const folder of workspaceFolders) {
    for (const dir of VENV_DIRS) {
      for (const name of EXE_NAMES) add(path.join(folder, dir, VENV_BIN, name), 'virtual environment');
    }
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of EXE_NAMES) add(path.join(dir, name), 'PATH');
    // python3.11, python3.12, … beside python3
    for (const name of listDir(dir).filter((n) => /^python3\.\d+$/.test(n)))
      add(path.join(dir, name), 'PATH');
  }
  const pyenv = env.PYENV_ROOT ?? path.join(home, '.pyenv');
  for (const version of listDir(path.join(pyenv, 'versions'))) {
    for (const name of EXE_NAMES) add(path.join(pyenv, 'versions', version, VENV_BIN, name), 'pyenv');
  }
  return found;
}

/**
 * Every working Python 3.8+ among the candidates (and `extra`, e.g. the Python extension's),
 * one per real file, in the order found.
 */
export async function discover(
  workspaceFolders: readonly string[],
  extra: ReadonlyArray<{ path: string; source: string }> = [],
): Promise<FoundInterpreter[]> {
  const seen = new Set<string>();
  const unique = [...extra, ...candidates(workspaceFolders)].filter((c) => {
    const real = realPath(c.path);
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  });
  const probed = await Promise.all(unique.map(async (c) => ({ ...c, result: await probe(c.path) })));
  return probed.flatMap((c) =>
    'version' in c.result ? [{ path: c.path, source: c.source, version: c.result.version }] : [],
  );
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function realPath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}
