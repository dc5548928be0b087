/**
 * The `flows.*` settings, parsed once with zod at the boundary. A bad value becomes one
 * ConfigError that names the setting, so the user sees which entry of settings.json to fix
 * instead of a failure somewhere later.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { z } from 'zod';

const optionalText = z
  .string()
  .transform((s) => s.trim())
  .transform((s) => (s === '' ? undefined : s))
  .optional();

/** Each setting with its schema; the keys are the part after `flows.`. */
const settings = {
  flowsFolder: optionalText,
  'runner.url': optionalText.pipe(
    z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, like http://127.0.0.1:8765' })
      .optional(),
  ),
  'runner.token': optionalText,
  pythonPath: optionalText,
  concurrency: z.number().int('must be a whole number').min(1).max(256).default(8),
  workerIsolation: z.enum(['pool', 'process'], { error: 'must be "pool" or "process"' }).default('pool'),
  workerMaxExecutions: z.number().int('must be a whole number').min(1).default(1000),
  dataFolder: optionalText,
  'executions.pageSize': z.number().int().min(10).max(1000).default(50),
} as const;

type Settings = { [K in keyof typeof settings]: z.output<(typeof settings)[K]> };

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`The setting "${setting}" ${message}.`);
  }
}

export interface FlowsConfig {
  /** Absolute folder whose `.py` files are flows (default: the first workspace folder). */
  flowsFolder: string | undefined;
  /** An external runner to use instead of the bundled one. */
  runnerUrl: string | undefined;
  runnerToken: string | undefined;
  pythonPath: string | undefined;
  concurrency: number;
  /** Warm worker processes reused one execution after another, or a fresh process each. */
  workerIsolation: 'pool' | 'process';
  workerMaxExecutions: number;
  dataFolder: string | undefined;
  pageSize: number;
}

/** Reads and validates every `flows.*` setting; throws ConfigError naming the first bad one. */
export function readConfig(): FlowsConfig {
  const section = vscode.workspace.getConfiguration('flows');
  const values = {} as Record<string, unknown>;
  for (const [key, schema] of Object.entries(settings)) {
    const raw = section.get<unknown>(key);
    const parsed = (schema as z.ZodType).safeParse(raw ?? undefined);
    if (!parsed.success) {
      throw new ConfigError(`flows.${key}`, parsed.error.issues[0]?.message ?? 'is not valid');
    }
    values[key] = parsed.data;
  }
  const s = values as Settings;
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const resolve = (p: string | undefined) =>
    p === undefined ? undefined : path.isAbsolute(p) || !root ? p : path.join(root, p);
  return {
    flowsFolder: resolve(s.flowsFolder) ?? root,
    runnerUrl: s['runner.url']?.replace(/\/+$/, ''),
    runnerToken: s['runner.token'],
    pythonPath: s.pythonPath,
    concurrency: s.concurrency,
    workerIsolation: s.workerIsolation,
    workerMaxExecutions: s.workerMaxExecutions,
    dataFolder: resolve(s.dataFolder),
    pageSize: s['executions.pageSize'],
  };
}

/** Settings whose change needs the runner restarted (or reconnected). */
export const RUNNER_SETTINGS = [
  'flows.flowsFolder',
  'flows.runner.url',
  'flows.runner.token',
  'flows.pythonPath',
  'flows.concurrency',
  'flows.workerIsolation',
  'flows.workerMaxExecutions',
  'flows.dataFolder',
];
