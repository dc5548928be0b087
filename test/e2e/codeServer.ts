/**
 * A real VS Code for the end-to-end suite: code-server (VS Code's web client plus a Node
 * extension host) installed from npm, with our packaged .vsix installed into it. See
 * /work/shared/design.md, "Running in a real VS Code in tests", for why code-server.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../support/freePort';

export const CODE_SERVER_VERSION = '4.100.3';
/** @vscode/ripgrep as pinned in that code-server's lib/vscode/npm-shrinkwrap.json, and its asset tag. */
const RIPGREP_PACKAGE_VERSION = '1.15.11';
const RIPGREP_TAG = 'v13.0.0-10';

const ROOT = path.resolve(__dirname, '../..');
export const TOOLS_DIR = path.join(ROOT, '.vscode-test');

/** The Debian packages code-server's install needs, and those that drive it. */
export const DEBIAN_PACKAGES =
  'libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep chromium fonts-dejavu-core';

function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** What is missing on this machine to run the suite, in words; undefined when nothing is. */
export function missingPrerequisites(): string | undefined {
  const missing = ['chromium', 'rg', 'pkg-config'].filter((c) => !which(c));
  if (process.versions.node.split('.')[0] !== '20') {
    return `code-server ${CODE_SERVER_VERSION} needs Node 20 (this is ${process.version})`;
  }
  if (missing.length) {
    return `missing ${missing.join(', ')}: install with apt-get install ${DEBIAN_PACKAGES}`;
  }
  return undefined;
}

export function chromiumPath(): string {
  return which('chromium') ?? which('chromium-browser') ?? '/usr/bin/chromium';
}

/**
 * Installs code-server into .vscode-test/ unless that version is there already. Its postinstall
 * downloads ripgrep from GitHub; the download is served from the cache it looks in first
 * (<tmpdir>/vscode-ripgrep-cache-<version>/), filled with Debian's `rg`.
 */
export function installCodeServer(log: (msg: string) => void): string {
  const dir = path.join(TOOLS_DIR, `code-server-${CODE_SERVER_VERSION}`);
  const bin = path.join(dir, 'node_modules', '.bin', 'code-server');
  const marker = path.join(dir, 'installed');
  if (fs.existsSync(marker) && fs.existsSync(bin)) return bin;

  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n');
  const tmp = path.join(dir, 'tmp');
  const cache = path.join(tmp, `vscode-ripgrep-cache-${RIPGREP_PACKAGE_VERSION}`);
  fs.mkdirSync(cache, { recursive: true });
  const rgDir = path.join(tmp, 'rg');
  fs.mkdirSync(rgDir, { recursive: true });
  fs.copyFileSync(which('rg')!, path.join(rgDir, 'rg'));
  execFileSync('tar', [
    '-czf',
    path.join(cache, `ripgrep-${RIPGREP_TAG}-x86_64-unknown-linux-musl.tar.gz`),
    '-C',
    rgDir,
    'rg',
  ]);

  log(`installing code-server ${CODE_SERVER_VERSION} from npm into ${dir} (about a minute)…`);
  const started = Date.now();
  execFileSync('npm', ['install', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, TMPDIR: tmp, npm_config_yes: 'true', npm_config_unsafe_perm: 'true' },
  });
  fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
  log(`code-server installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return bin;
}

/** Builds the production bundles and packages them as a .vsix, the way a release does. */
export function packageExtension(log: (msg: string) => void): string {
  const out = path.join(TOOLS_DIR, 'flows-e2e.vsix');
  fs.mkdirSync(TOOLS_DIR, { recursive: true });
  log('packaging the extension (npm run package)…');
  execFileSync('npm', ['run', '--silent', 'package', '--', '--out', out], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return out;
}

export { freePort };

export interface CodeServer {
  url: string;
  /** code-server's own log (stdout and stderr), for failures. */
  output: string[];
  stop(): Promise<void>;
}

export interface CodeServerOptions {
  bin: string;
  vsix: string;
  /** Holds user-data/, extensions/ and config.yaml of this run. */
  stateDir: string;
  userSettings: Record<string, unknown>;
}

/** Installs the .vsix into a fresh extensions folder and starts code-server on a free port. */
export async function startCodeServer(opts: CodeServerOptions): Promise<CodeServer> {
  const userData = path.join(opts.stateDir, 'user-data');
  const extensions = path.join(opts.stateDir, 'extensions');
  const config = path.join(opts.stateDir, 'config.yaml');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.mkdirSync(extensions, { recursive: true });
  fs.writeFileSync(config, '');
  fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(opts.userSettings, null, 2));
  const common = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];
  execFileSync(opts.bin, [...common, '--install-extension', opts.vsix, '--force'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  const port = await freePort();
  const output: string[] = [];
  const child: ChildProcess = spawn(
    opts.bin,
    [
      ...common,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORT: undefined } },
  );
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`code-server did not start:\n${output.join('')}`)),
      60_000,
    );
    const onData = (d: Buffer) => {
      output.push(d.toString());
      if (d.toString().includes('HTTP server listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited (${code}):\n${output.join('')}`));
    });
  });
  return {
    url,
    output,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
