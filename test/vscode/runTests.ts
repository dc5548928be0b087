/**
 * The @vscode/test-electron suite: the extension in a downloaded desktop VS Code, its mocha
 * tests running inside the extension host. Where VS Code cannot be downloaded (or shown), it
 * prints "skipped: <why>" and exits 0 without claiming a pass; `npm run test:e2e` covers the
 * same commands in code-server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { build } from 'esbuild';

const ROOT = path.resolve(__dirname, '../..');
const VSCODE_VERSION = '1.100.0';

function skip(why: string): never {
  process.stdout.write(`test/vscode (@vscode/test-electron): skipped: ${why}\n`);
  process.exit(0);
}

async function main(): Promise<void> {
  let executable: string;
  try {
    executable = await downloadAndUnzipVSCode({
      version: VSCODE_VERSION,
      cachePath: path.join(ROOT, '.vscode-test'),
    });
  } catch (err) {
    skip(`VS Code ${VSCODE_VERSION} cannot be downloaded here (${(err as Error).message})`);
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    skip('no display to open VS Code in (run under xvfb-run to include this suite)');
  }

  // The suite runs in the extension host, which loads JavaScript: bundle it (mocha stays a
  // require of the repository's node_modules).
  const outDir = path.join(ROOT, '.vscode-test', 'suite');
  await build({
    entryPoints: [path.join(__dirname, 'suite', 'index.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: path.join(outDir, 'index.js'),
    external: ['vscode', 'mocha'],
    sourcemap: true,
    logLevel: 'warning',
  });
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-vscode-test-'));
  fs.cpSync(path.join(ROOT, 'examples'), workspace, {
    recursive: true,
    filter: (s) => !s.includes('.flows'),
  });
  try {
    await runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: path.join(outDir, 'index.js'),
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    });
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`test/vscode failed: ${(err as Error).message}\n`);
  process.exit(1);
});
