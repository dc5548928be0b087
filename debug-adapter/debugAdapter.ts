/**
 * Entry point of dist/debugAdapter.js: the `flow` debug adapter over stdio, for standalone use
 * and the DAP tests. (In VS Code the client runs FlowDebugSession inline instead, on the runner
 * the window manages.) Standalone, a launch without runnerUrl starts the bundled runner
 * (dist/runner.js, beside this file) as a child process on a temporary data folder, removed when
 * the session ends: the adapter reaches it over HTTP and WebSocket like any runner, so no runner
 * code is bundled here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalRunner } from '@flows/runner-client/localRunner';
import { FlowDebugSession, type OwnRunner } from './flowDebugSession';

// stdout carries DAP: anything else printed there would corrupt it.
console.log = console.info = console.debug = console.error;

async function startOwnRunner(flowsDir: string, log: (msg: string) => void): Promise<OwnRunner> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-debug-'));
  try {
    const runner = await startLocalRunner({
      runnerScript: path.join(__dirname, 'runner.js'),
      flowsFolder: flowsDir,
      dataFolder: dataDir,
      log,
    });
    return {
      url: runner.url,
      token: runner.token,
      async stop() {
        await runner.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

const session = new FlowDebugSession({ startRunner: startOwnRunner });
process.on('SIGTERM', () => session.shutdown());
session.start(process.stdin, process.stdout);
