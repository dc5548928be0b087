/**
 * The runs API of seed 004 (client → runner requests under /v1, runner → client answers): an
 * action is a flow, a run is one request to run it. LIVE runs one input and answers with the
 * result; ASYNC runs 1 to 100,000 inputs as one parent execution with a child per input and
 * answers at once; SCHEDULE creates a cron schedule whose SCHEDULE execution is the run.
 *
 * A run's `uid` is the id of its top execution, so everything under /api/latest/execution works
 * on it too.
 */
import { z } from 'zod';
import { EXECUTION_STATUSES, ExecutionStatus } from './records';
import { csvEnum, ListCursor, listPageFields } from './rest';
import { CallbackUrl, OverlapPolicy, ScheduleRecord, TimeZone } from './schedules';

export const EXECUTION_MODES = ['LIVE', 'ASYNC', 'SCHEDULE'] as const;
export const ExecutionMode = z.enum(EXECUTION_MODES);
export type ExecutionMode = z.infer<typeof ExecutionMode>;

export const MAX_RUN_INPUTS = 100_000;

/** One input: the flow's keyword inputs. Anything else makes that input's child INVALID. */
export const RunInput = z.record(z.string(), z.unknown());

const runOptions = {
  name: z.string().min(1).max(200).optional().describe('default: the action (flow) name'),
  is_productive: z.boolean().default(true).describe('true = Run (productive), false = Try (development)'),
  priority: z.number().int().min(-1_000_000).max(1_000_000).default(0),
  max_runtime_minutes: z.number().min(0).max(525_600).default(0).describe('of each execution; 0 = no limit'),
  callback: CallbackUrl.optional().describe('POSTed the run (as GET /v1/runs/<uid> answers) when it ends'),
};

/** POST /v1/actions/<action>/run/live */
export const LiveRunBody = z
  .strictObject({ input: RunInput.default({}), ...runOptions })
  .describe('Run one input and wait for the result');
export type LiveRunBody = z.infer<typeof LiveRunBody>;

/** POST /v1/actions/<action>/run/async */
export const AsyncRunBody = z
  .strictObject({
    inputs: z
      .array(z.unknown())
      .min(1)
      .max(MAX_RUN_INPUTS)
      .describe('one child execution per input; an input that is not a JSON object is marked INVALID'),
    ...runOptions,
  })
  .describe('Run many inputs as one run, answered at once');
export type AsyncRunBody = z.infer<typeof AsyncRunBody>;

/** POST /v1/actions/<action>/run/schedule */
export const ScheduleRunBody = z
  .strictObject({
    cron: z.string().min(1).max(200).describe('5 fields, 6 with seconds, or @hourly/@daily/…'),
    timezone: TimeZone.optional(),
    input: RunInput.optional().describe('the input of every firing'),
    inputs: z
      .array(z.unknown())
      .min(1)
      .max(MAX_RUN_INPUTS)
      .optional()
      .describe('instead of input: every firing is an async run over these inputs'),
    overlap: OverlapPolicy.default('skip'),
    max_iterations: z.number().int().min(1).optional(),
    ...runOptions,
  })
  .refine((b) => b.input === undefined || b.inputs === undefined, {
    message: 'give input or inputs, not both',
    path: ['inputs'],
  })
  .describe('Create a cron schedule of the action');
export type ScheduleRunBody = z.infer<typeof ScheduleRunBody>;

export const RUN_SORT_FIELDS = ['created_at', 'status', 'updated_at'] as const;

/** GET /v1/runs */
export const ListRunsQuery = z.strictObject({
  status: csvEnum(EXECUTION_STATUSES).optional().describe('comma-separated'),
  action_name: z.string().optional(),
  execution_mode: csvEnum(EXECUTION_MODES).optional().describe('comma-separated LIVE, ASYNC, SCHEDULE'),
  uid: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(10),
  offset: z.coerce.number().int().min(0).default(0).describe('runs to skip (after `after`, when given)'),
  sort: z
    .string()
    .regex(
      new RegExp(`^-?(${RUN_SORT_FIELDS.join('|')})$`),
      `one of ${RUN_SORT_FIELDS.join(', ')}, optionally prefixed with -`,
    )
    .default('-created_at'),
  after: ListCursor.optional(),
});
export type ListRunsQuery = z.infer<typeof ListRunsQuery>;

const Timestamp = z.string().describe('ISO 8601 timestamp, UTC');

export const Run = z
  .object({
    uid: z.string().describe('the id of the run’s top execution'),
    action_name: z.string(),
    execution_mode: ExecutionMode,
    status: ExecutionStatus,
    message: z.string().nullable(),
    inputs_count: z.number().int(),
    is_productive: z.boolean(),
    schedule_id: z.string().nullable(),
    callback: z.string().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    started_at: Timestamp.nullable(),
    ended_at: Timestamp.nullable(),
  })
  .meta({ id: 'Run' });
export type Run = z.infer<typeof Run>;

export const RunError = z.object({
  execution_id: z.string(),
  status: ExecutionStatus,
  message: z.string().nullable(),
  input_value: z.unknown(),
});
export type RunError = z.infer<typeof RunError>;

export const RunDetail = Run.extend({
  counts: z
    .record(z.string(), z.number().int())
    .describe('ASYNC: children per status; SCHEDULE: firings per status; LIVE: the one execution'),
  output_value: z.unknown().describe('LIVE: the flow’s output; null otherwise'),
  errors: z.array(RunError).describe('the first 20 inputs that ended without success'),
}).meta({ id: 'RunDetail' });
export type RunDetail = z.infer<typeof RunDetail>;

export const RunList = z
  .object({
    items: z.array(Run),
    ...listPageFields,
    limit: z.number().int(),
    offset: z.number().int(),
  })
  .meta({ id: 'RunList' });
export type RunList = z.infer<typeof RunList>;

/** The answer of /run/schedule: the run (the schedule's SCHEDULE execution) and the schedule. */
export const ScheduledRun = Run.extend({ schedule: ScheduleRecord }).meta({ id: 'ScheduledRun' });
export type ScheduledRun = z.infer<typeof ScheduledRun>;
