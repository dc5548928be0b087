/**
 * The launch and attach arguments of the `flow` debug type, parsed once at the boundary. The
 * `configurationAttributes` block of package.json is generated from these same schemas
 * (debug-adapter/configurationAttributes.json; a test keeps the file in step).
 */
import path from 'node:path';
import { z } from 'zod';

/** The runner to use. The extension fills these in for the runner it manages. */
const runnerFields = {
  runnerUrl: z
    .string()
    .regex(/^(https?|wss?):\/\/[^/]+/, 'must be the runner address, like http://127.0.0.1:PORT')
    .optional()
    .describe(
      'Address of a running Flows runner (http://127.0.0.1:PORT). Without it the debugger starts its own runner on the flows folder.',
    ),
  runnerToken: z.string().min(1).optional().describe('Access token of that runner (needed with runnerUrl).'),
};

const tokenWithUrl = (a: { runnerUrl?: string; runnerToken?: string }) =>
  a.runnerUrl === undefined || a.runnerToken !== undefined;
const tokenWithUrlIssue = { message: 'runnerToken is needed with runnerUrl', path: ['runnerToken'] };

export const LaunchArgs = z
  .object({
    program: z
      .string()
      .min(1)
      .regex(/\.py$/i, 'must be a flow file (.py)')
      .describe('The flow file to debug: a .py file with def handler(system, this).')
      .meta({ default: '${file}' }),
    input: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("The flow's input_value: an object of inputs.")
      .meta({ default: {} }),
    stopOnEntry: z.boolean().default(false).describe('Stop at the first line of the flow.'),
    flowsFolder: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Flows folder of the runner the debugger starts itself (flow names are paths relative to it; this.flow('x') finds x.py there). Default: the program's folder. With runnerUrl, that runner's flows folder is used.",
      ),
    python: z
      .string()
      .min(1)
      .optional()
      .describe('Python interpreter for a runner the debugger starts itself (default: python3).'),
    ...runnerFields,
  })
  .refine(tokenWithUrl, tokenWithUrlIssue);
export type LaunchArgs = z.infer<typeof LaunchArgs>;

export const AttachArgs = z
  .object({
    executionId: z
      .string()
      .min(1)
      .describe('Id of the running or paused execution to debug (its whole execution tree is debugged).'),
    ...runnerFields,
  })
  .refine(tokenWithUrl, tokenWithUrlIssue)
  .refine((a) => a.runnerUrl !== undefined, {
    message: 'attach needs the runner of the execution (runnerUrl and runnerToken)',
    path: ['runnerUrl'],
  });
export type AttachArgs = z.infer<typeof AttachArgs>;

/** A launch.json mistake, worded for the user. */
export class ConfigError extends Error {}

type RunnerDefaults = { runnerUrl?: string; runnerToken?: string };

function parse<T>(schema: z.ZodType<T>, request: string, raw: unknown, defaults: RunnerDefaults): T {
  const given = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  // The adapter's own defaults (the extension's runner) apply only when launch.json names none.
  const merged = given.runnerUrl === undefined ? { ...defaults, ...given } : given;
  const result = schema.safeParse(merged);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue.path.length ? `'${issue.path.join('.')}'` : 'the configuration';
  throw new ConfigError(`Invalid ${request} configuration of type 'flow': ${where}: ${issue.message}`);
}

export function parseLaunchArgs(raw: unknown, defaults: RunnerDefaults = {}): LaunchArgs {
  const args = parse(LaunchArgs, 'launch', raw, defaults);
  return { ...args, program: path.resolve(args.program) };
}

export function parseAttachArgs(raw: unknown, defaults: RunnerDefaults = {}): AttachArgs {
  return parse(AttachArgs, 'attach', raw, defaults);
}

/** The `configurationAttributes` of the `flow` debugger in package.json. */
export function configurationAttributes(): Record<'launch' | 'attach', unknown> {
  const attributes = (schema: z.ZodType) => {
    const json = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
    delete json.$schema;
    delete json.type;
    return json;
  };
  return { launch: attributes(LaunchArgs), attach: attributes(AttachArgs) };
}
