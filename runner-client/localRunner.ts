/**
 * Starts the bundled runner (dist/runner.js) as a child process: the extension host's runner and
 * the standalone debug adapter's both start this way, and both then talk to it over HTTP and
 * WebSocket only. It runs on the parent's own Node: `process.execPath` is Electron in desktop
 * VS Code, so ELECTRON_RUN_AS_NODE makes it a plain Node (and in code-server it already is one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as readline from 'node:readline';
import { z } from 'zod';

/**
 * The line `flows serve` prints on stdout when it listens. It is a CLI line rather than a REST or
 * WebSocket message, so protocol/ does not have it; the fields read here are the ones the
 * runner's `serve` command writes.
 */
const ReadyLine = z.object({ event: z.literal('ready'), url: z.string(), pid: z.number().int() });

export interface LocalRunnerOptions {
  runnerScript: string;
  flowsFolder: string;
  dataFolder?: string;
  /** The Python to run flows with; the runner's own default when absent. */
  python?: string;
  concurrency?: number;
  /** `--isolation`: warm pooled workers (the runner's default) or a fresh process each. */
  isolation?: 'pool' | 'process';
  /** `--worker-max-executions`: executions a pooled worker runs before it is replaced. */
  workerMaxExecutions?: number;
  /** Where the runner's own lines go (its stderr, and what it prints that is not the ready line). */
  log: (line: string) => void;
  /** Extra environment for the runner (the extension marks itself with FLOWS_FROM_EDITOR). */
  env?: Record<string, string>;
}

export interface StartedRunner {
  url: string;
  token: string;
  pid: number;
  /** Resolves when the process has ended: its exit code and the end of its stderr. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  stop(): Promise<void>;
}

/** The last lines the runner wrote to stderr, kept for the message when it fails. */
class Tail {
  private lines: string[] = [];
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 40) this.lines.shift();
  }
  toString(): string {
    return this.lines.join('\n');
  }
}

export function startLocalRunner(opts: LocalRunnerOptions): Promise<StartedRunner> {
  // A fresh token per start, handed over in the environment: unlike argv, the environment of a
  // process is not readable by other users of the machine.
  const token = crypto.randomBytes(24).toString('base64url');
  const args = [opts.runnerScript, 'serve', '--port', '0', '--flows', opts.flowsFolder, '--exit-with-stdin'];
  if (opts.python) args.push('--python', opts.python);
  if (opts.concurrency) args.push('--concurrency', String(opts.concurrency));
  if (opts.isolation) args.push('--isolation', opts.isolation);
  if (opts.workerMaxExecutions) args.push('--worker-max-executions', String(opts.workerMaxExecutions));
  if (opts.dataFolder) args.push('--data', opts.dataFolder);
  opts.log(`starting the runner: ${process.execPath} ${args.join(' ')}`);
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: opts.flowsFolder,
    env: { ...process.env, ...opts.env, ELECTRON_RUN_AS_NODE: '1', FLOWS_TOKEN: token },
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
  const stderr = new Tail();
  readline.createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    opts.log(`[runner] ${line}`);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => {
      child.once('error', (err) => {
        stderr.push(err.message);
        resolve({ code: null, signal: null, stderr: stderr.toString() });
      });
      child.once('exit', (code, signal) => resolve({ code, signal, stderr: stderr.toString() }));
    },
  );

  return new Promise<StartedRunner>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let ready;
      try {
        ready = ReadyLine.safeParse(JSON.parse(line));
      } catch {
        ready = undefined;
      }
      if (!ready?.success) {
        opts.log(`[runner] ${line}`);
        return;
      }
      resolve({
        url: ready.data.url,
        token,
        pid: ready.data.pid,
        exited,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          // Closing stdin is the graceful stop (--exit-with-stdin); SIGTERM if it hangs.
          child.stdin?.end();
          const timer = setTimeout(() => child.kill('SIGTERM'), 3000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
    void exited.then(({ code, signal, stderr: text }) => reject(new RunnerStartError(code, signal, text)));
  });
}

export class RunnerStartError extends Error {
  constructor(
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    // The runner's own message is its last `flows: …` line; the rest is detail for the log.
    const reason =
      stderr
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('flows: '))
        ?.slice('flows: '.length) ??
      (signal ? `it was killed (${signal})` : `it exited with code ${code ?? 'unknown'}`);
    super(reason);
  }
}
