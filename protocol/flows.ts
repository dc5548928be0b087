/**
 * Flow records (team mode): flows kept in the runner's database by name, as the platform keeps
 * them, so that no runner node needs a copy of anyone's folder. The REST bodies and answers of
 * /api/latest/flow and /api/latest/flows/deploy, their limits, and what makes a `.py` file a flow
 * (the editor and `flows deploy` find the flows of a folder the same way).
 */
import { z } from 'zod';

/** A flow's source, in UTF-8 bytes. Flows are code people write: 1 MB is far past any of them. */
export const MAX_FLOW_SOURCE_BYTES = 1024 * 1024;
/** Flows in one bulk deploy (a folder's, in one transaction). */
export const MAX_DEPLOY_FLOWS = 1000;
/**
 * The body of a bulk deploy. Smaller than MAX_DEPLOY_FLOWS × MAX_FLOW_SOURCE_BYTES on purpose:
 * the runner holds the body in memory while it stores it, and a real folder is far below this.
 */
export const MAX_DEPLOY_BODY_BYTES = 64 * 1024 * 1024;
/** The body of one flow's PUT: its source as a JSON string (escapes may make it up to 6 × longer). */
export const MAX_FLOW_BODY_BYTES = 8 * 1024 * 1024;
/** One segment of a flow name: a file name on the runner's disk (NAME_MAX is 255, less ".py" and a temp suffix). */
const MAX_SEGMENT_BYTES = 200;

/** `def handler(system, this)` or `def handler(system, this, inputs)`, at the start of a line. */
export const FLOW_HANDLER = /^(?:async\s+)?def\s+handler\s*\(([^)]*)\)?/m;

/** The 0-based line of `def handler(`, or -1 when the text is not a flow. */
export function handlerLine(text: string): number {
  const m = FLOW_HANDLER.exec(text);
  if (!m) return -1;
  return text.slice(0, m.index).split('\n').length - 1;
}

export function isFlowSource(text: string): boolean {
  return handlerLine(text) >= 0;
}

/**
 * Folders that never hold flows: the runner's data, version control, dependencies, caches. The
 * editor's flow list and `flows deploy` skip them alike.
 */
export const NOT_FLOW_FOLDERS = ['.flows', '.git', 'node_modules', '.venv', 'venv', '__pycache__'] as const;

/**
 * Why `name` cannot name a flow record, or undefined when it can. A record's name is the flow's
 * name as the runner names flows (`checks/fraud-score`: its path in a folder, `/`-separated,
 * without .py), and the runner keeps its source in a file of that path (engine/deployedFlows.ts),
 * so it must be a relative path that stays where it is put, on any system.
 */
export function flowRecordNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 400) return 'is longer than 400 characters';
  if (!name.isWellFormed()) return 'must be well-formed Unicode text';
  if ([...name].some((c) => c < ' ' || c === '\u007f')) return 'must not contain control characters';
  if (/[\\:*?"<>|]/.test(name))
    return 'must be a portable file path: none of \\ : * ? " < > | (use / between folders)';
  if (name.endsWith('.py')) return 'is the flow name, without .py';
  for (const segment of name.split('/')) {
    if (segment === '') return 'must be a relative path: no leading, trailing or double /';
    if (segment === '.' || segment === '..') return `must not have a '${segment}' segment`;
    if (segment.trim() !== segment) return 'must not have spaces at either end of a segment';
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES)
      return `has a segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

/** Why `source` cannot be a flow's source, or undefined when it can. */
export function flowSourceProblem(source: string): string | undefined {
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > MAX_FLOW_SOURCE_BYTES)
    return `is ${bytes} bytes; a flow's source is at most ${MAX_FLOW_SOURCE_BYTES} bytes (1 MB)`;
  // Python refuses NUL in source, PostgreSQL in text; a lone surrogate is not UTF-8 at all.
  if (source.includes('\0')) return 'must not contain NUL characters (a flow is text)';
  if (!source.isWellFormed()) return 'must be well-formed Unicode text (a lone surrogate is not)';
  return undefined;
}

const refineWith =
  (problem: (s: string) => string | undefined) =>
  (s: string, ctx: z.RefinementCtx): void => {
    const why = problem(s);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  };

export const FlowRecordName = z
  .string()
  .superRefine(refineWith(flowRecordNameProblem))
  .describe('the flow name: its path in the flows folder, /-separated, without .py (checks/fraud-score)');

export const FlowSource = z
  .string()
  .superRefine(refineWith(flowSourceProblem))
  .describe(`the flow's Python source (UTF-8, at most ${MAX_FLOW_SOURCE_BYTES} bytes)`);

/** PUT /api/latest/flow/<name> */
export const DeployFlowBody = z.strictObject({ source: FlowSource }).describe('Deploy one flow');
export type DeployFlowBody = z.infer<typeof DeployFlowBody>;

/** POST /api/latest/flows/deploy */
export const DeployFlowsBody = z
  .strictObject({
    flows: z
      .array(z.strictObject({ name: FlowRecordName, source: FlowSource }))
      .max(MAX_DEPLOY_FLOWS)
      .superRefine((flows, ctx) => {
        const first = new Map<string, number>();
        flows.forEach((f, i) => {
          const before = first.get(f.name);
          if (before === undefined) first.set(f.name, i);
          else
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `'${f.name}' is deployed twice in this request (also flows.${before})`,
            });
        });
      })
      .describe(`at most ${MAX_DEPLOY_FLOWS} flows, names unique`),
  })
  .describe('Deploy flows in one transaction: all of them or, when one is refused, none');
export type DeployFlowsBody = z.infer<typeof DeployFlowsBody>;

export const FlowInfo = z
  .object({
    name: z.string(),
    hash: z.string().describe("SHA-256 of the source's UTF-8 bytes, lower-case hex"),
    size: z.number().int().describe('bytes of source'),
    updated_at: z.string().describe('when this source was deployed'),
    deployed_by: z.string().nullable().describe('who deployed it, when known'),
  })
  .meta({ id: 'FlowInfo' });
export type FlowInfo = z.infer<typeof FlowInfo>;

export const FlowDetail = FlowInfo.extend({ source: z.string() }).meta({ id: 'FlowDetail' });
export type FlowDetail = z.infer<typeof FlowDetail>;

export const FlowList = z
  .object({ items: z.array(FlowInfo).describe('sorted by name') })
  .meta({ id: 'FlowList' });
export type FlowList = z.infer<typeof FlowList>;

/** The answer to PUT /api/latest/flow/<name>. */
export const DeployedFlow = z
  .object({
    flow: FlowInfo,
    changed: z.boolean().describe('false: the same source was deployed already, and nothing was written'),
  })
  .meta({ id: 'DeployedFlow' });
export type DeployedFlow = z.infer<typeof DeployedFlow>;

/** The answer to POST /api/latest/flows/deploy. */
export const DeployResult = z
  .object({
    deployed: z.array(z.string()).describe('names whose source is new or changed'),
    unchanged: z.array(z.string()).describe('names deployed already with the same source (not written)'),
  })
  .meta({ id: 'DeployResult' });
export type DeployResult = z.infer<typeof DeployResult>;
