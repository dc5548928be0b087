/**
 * Entry point of dist/debugAdapter.js: the `flow` debug adapter over stdio, for standalone use
 * and the DAP tests. (In VS Code the client runs FlowDebugSession inline instead, on the runner
 * the window manages.) Standalone, a launch without runnerUrl starts a bundled runner on a
 * temporary data folder, removed when the session ends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRunner } from '../runner/src/runner';
import { FlowDebugSession, type OwnRunner } from './flowDebugSession';

// stdout carries DAP: anything else printed there would corrupt it.
console.log = console.info = console.debug = console.error;

async function startOwnRunner(flowsDir: string, log: (msg: string) => void): Promise<OwnRunner> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-debug-'));
  const runner = await startRunner({ flowsDir, dataDir, http: { port: 0 }, log });
  return {
    url: runner.url!,
    token: runner.token!,
    async stop() {
      await runner.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const session = new FlowDebugSession({ startRunner: startOwnRunner });
process.on('SIGTERM', () => session.shutdown());
session.start(process.stdin, process.stdout);
