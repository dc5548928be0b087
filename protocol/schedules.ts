/**
 * Schedules (REST under /api/latest/schedule, client → runner; records and the `schedule`
 * WebSocket event, runner → client). A schedule starts a flow every N seconds/minutes/hours,
 * daily at HH:MM, or on a cron expression, in an IANA time zone. While it is enabled it owns one
 * execution of type SCHEDULE, and every firing is a FLOW child of that execution.
 *
 * The shapes are checked here; whether a cron expression parses and which times it names is the
 * runner's business (croner), so `POST /api/latest/schedule/preview` is how a client validates
 * a timing live.
 */
import { z } from 'zod';
import { FlowName } from './rest';

export const SCHEDULE_KINDS = ['interval', 'daily', 'cron'] as const;
export const ScheduleKind = z.enum(SCHEDULE_KINDS);
export type ScheduleKind = z.infer<typeof ScheduleKind>;

export const INTERVAL_UNITS = ['seconds', 'minutes', 'hours'] as const;
export const IntervalUnit = z.enum(INTERVAL_UNITS);
export type IntervalUnit = z.infer<typeof IntervalUnit>;

/** skip: a firing is skipped while the previous run has not ended; run: it runs anyway. */
export const OVERLAP_POLICIES = ['skip', 'run'] as const;
export const OverlapPolicy = z.enum(OVERLAP_POLICIES);
export type OverlapPolicy = z.infer<typeof OverlapPolicy>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const TimeZone = z
  .string()
  .min(1)
  .max(100)
  .refine(isTimeZone, 'not an IANA time zone (e.g. Europe/Vienna, America/New_York, UTC)')
  .describe("IANA time zone; default: the runner machine's");

/** A URL the runner POSTs to (the runs API's `callback`). */
export const CallbackUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .max(2000);

/** When a schedule fires. Which fields are required depends on `kind`; the runner checks that. */
const timingShape = {
  kind: ScheduleKind,
  interval: z.number().int().min(1).max(1_000_000).optional().describe('kind=interval: every N units'),
  unit: IntervalUnit.optional().describe('kind=interval: seconds, minutes (default) or hours'),
  time: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM, from 00:00 to 23:59')
    .optional()
    .describe('kind=daily: local time of day in `timezone`'),
  cron: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('kind=cron: 5 fields (minute hour day month weekday), 6 with seconds first, or @daily etc.'),
  timezone: TimeZone.optional(),
};

const scheduleFields = {
  name: z.string().min(1).max(200).describe('default: the flow name'),
  flow_name: FlowName,
  input_value: z.unknown().describe('the input of every run'),
  inputs: z
    .array(z.unknown())
    .min(1)
    .max(100_000)
    .nullable()
    .describe('instead of input_value: each firing is an async run with one child per input'),
  is_productive: z.boolean().describe('true = Run (productive), false = Try (development)'),
  priority: z.number().int().min(-1_000_000).max(1_000_000),
  max_runtime_minutes: z.number().min(0).max(525_600).describe('of each run; 0 = no limit'),
  enabled: z.boolean(),
  max_iterations: z
    .number()
    .int()
    .min(1)
    .nullable()
    .describe('stop (disable) after this many timed firings; null = no limit'),
  overlap: OverlapPolicy.describe('skip a firing while the previous run is still going, or run anyway'),
  callback: CallbackUrl.nullable().describe('POSTed the run summary when the SCHEDULE execution ends'),
};

/**
 * A schedule runs its flow with one input (input_value) or as an async run of several (inputs):
 * a body with both would have one of them silently ignored, so it is refused.
 */
function oneInputKind(ctx: z.core.ParsePayload<{ input_value?: unknown; inputs?: unknown[] | null }>): void {
  const { input_value, inputs } = ctx.value;
  if (input_value !== undefined && inputs !== undefined && inputs !== null) {
    ctx.issues.push({
      code: 'custom',
      path: ['inputs'],
      message: 'give either input_value (one input per run) or inputs (an async run per firing), not both',
      input: inputs,
    });
  }
}

/** POST /api/latest/schedule */
export const CreateScheduleBody = z
  .strictObject({
    ...timingShape,
    name: scheduleFields.name.optional(),
    flow_name: scheduleFields.flow_name,
    input_value: scheduleFields.input_value.optional(),
    inputs: scheduleFields.inputs.optional(),
    is_productive: scheduleFields.is_productive.default(true),
    priority: scheduleFields.priority.default(0),
    max_runtime_minutes: scheduleFields.max_runtime_minutes.default(0),
    enabled: scheduleFields.enabled.default(true),
    max_iterations: scheduleFields.max_iterations.default(null),
    overlap: scheduleFields.overlap.default('skip'),
    callback: scheduleFields.callback.default(null),
  })
  .check(oneInputKind)
  .describe('Create a schedule');
export type CreateScheduleBody = z.infer<typeof CreateScheduleBody>;

/** PATCH /api/latest/schedule/<id> — change any field; `enabled` enables or disables. */
export const UpdateScheduleBody = z
  .strictObject({
    ...timingShape,
    kind: ScheduleKind.optional(),
    name: scheduleFields.name.optional(),
    flow_name: scheduleFields.flow_name.optional(),
    input_value: scheduleFields.input_value.optional(),
    inputs: scheduleFields.inputs.optional(),
    is_productive: scheduleFields.is_productive.optional(),
    priority: scheduleFields.priority.optional(),
    max_runtime_minutes: scheduleFields.max_runtime_minutes.optional(),
    enabled: scheduleFields.enabled.optional(),
    max_iterations: scheduleFields.max_iterations.optional(),
    overlap: scheduleFields.overlap.optional(),
    callback: scheduleFields.callback.optional(),
  })
  .check(oneInputKind)
  .describe('Change a schedule');
export type UpdateScheduleBody = z.infer<typeof UpdateScheduleBody>;

/** POST /api/latest/schedule/preview — check a timing and see when it would fire. */
export const PreviewScheduleBody = z.strictObject({
  ...timingShape,
  count: z.number().int().min(1).max(20).default(3).describe('how many fire times to return'),
});
export type PreviewScheduleBody = z.infer<typeof PreviewScheduleBody>;

export const SchedulePreview = z
  .object({
    next: z.array(z.string()).describe('the next fire times, ISO 8601 UTC'),
    timezone: z.string(),
    description: z.string().describe('the timing in words, e.g. "daily at 09:00 (Europe/Vienna)"'),
  })
  .meta({ id: 'SchedulePreview' });
export type SchedulePreview = z.infer<typeof SchedulePreview>;

const Timestamp = z.string().describe('ISO 8601 timestamp, UTC');

export const ScheduleRecord = z
  .object({
    id: z.string(),
    name: z.string(),
    flow_name: z.string(),
    kind: ScheduleKind,
    interval: z.number().int().nullable(),
    unit: IntervalUnit.nullable(),
    time: z.string().nullable(),
    cron: z.string().nullable(),
    timezone: z.string(),
    input_value: z.unknown(),
    inputs_count: z.number().int().nullable().describe('number of inputs when each firing is an async run'),
    is_productive: z.boolean(),
    priority: z.number().int(),
    max_runtime_minutes: z.number(),
    enabled: z.boolean(),
    max_iterations: z.number().int().nullable(),
    iterations: z.number().int().describe('timed firings so far ("run now" does not count)'),
    overlap: OverlapPolicy,
    callback: z.string().nullable(),
    next_fire_at: Timestamp.nullable(),
    last_fire_at: Timestamp.nullable(),
    last_execution_id: z.string().nullable().describe('the run started by the last firing'),
    execution_id: z
      .string()
      .nullable()
      .describe('the SCHEDULE execution (the current one while enabled, else the last one)'),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'Schedule' });
export type ScheduleRecord = z.infer<typeof ScheduleRecord>;

export const ScheduleList = z.object({ items: z.array(ScheduleRecord) }).meta({ id: 'ScheduleList' });

/**
 * runner → client, topic `schedules`: a schedule was created, changed (enabled, disabled, fired:
 * its next/last fire times moved) or deleted; `schedule` is its whole new (or last) state.
 */
export const ScheduleServerMessages = [
  z.object({
    type: z.literal('schedule'),
    event: z.enum(['created', 'updated', 'deleted']),
    schedule: ScheduleRecord,
  }),
] as const;
