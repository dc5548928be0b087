/**
 * Bodies and query strings of the REST API under /api/latest/ (client → runner requests,
 * runner → client answers). The runner validates with these; the OpenAPI document is generated
 * from them.
 */
import { z } from 'zod';
import { EXECUTION_STATUSES, EXECUTION_TYPES, ExecutionRecord, LogLine, MessageRecord } from './records';

/** Inputs are JSON; anything JSON can say is allowed, but a flow name has a shape. */
export const FlowName = z
  .string()
  .min(1)
  .max(400)
  .regex(/^[^\0]+$/, 'must not contain NUL')
  .describe('path of the flow file relative to the flows folder, without .py');

/** POST /api/latest/execution — create (and by default start) an execution. */
export const CreateExecutionBody = z
  .strictObject({
    flow_name: FlowName.optional(),
    script: z
      .string()
      .max(1_000_000)
      .optional()
      .describe('ad-hoc Python source defining handler(system, this)'),
    name: z.string().max(400).optional(),
    input_value: z.unknown().optional(),
    is_productive: z.boolean().default(true).describe('true = Run (productive), false = Try (development)'),
    priority: z.number().int().min(-1_000_000).max(1_000_000).default(0),
    max_runtime_minutes: z.number().min(0).max(525_600).default(0).describe('0 = no limit'),
    scheduled_for: z.iso.datetime({ offset: true }).optional(),
    start: z.boolean().default(true).describe('false leaves it CREATED until POST …/start'),
    isolation: z
      .enum(['pool', 'process'])
      .optional()
      .describe(
        "'process': run in a fresh process rather than a warm pooled worker (not kept across a runner restart)",
      ),
  })
  .refine((b) => (b.flow_name === undefined) !== (b.script === undefined), {
    message: 'give exactly one of flow_name or script',
    path: ['flow_name'],
  })
  .describe('Create an execution');
export type CreateExecutionBody = z.infer<typeof CreateExecutionBody>;

/** A comma-separated query parameter whose items must each be one of `values`. */
export const csvEnum = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(values)));

/**
 * Where a page starts: the `next` of the page before (keyset paging). Unlike offset it stays
 * fast at any depth, and rows added meanwhile neither repeat nor shift items between pages.
 * Opaque; a cursor is only valid with the sort it was made for.
 */
export const ListCursor = z
  .string()
  .min(1)
  .max(2000)
  .describe('the `next` of the previous page: continue after its last item (same sort)');

export const EXECUTION_SORT_FIELDS = ['created_at', 'updated_at', 'status', 'priority', 'name'] as const;

/** GET /api/latest/execution — list with filters. */
export const ListExecutionsQuery = z.strictObject({
  status: csvEnum(EXECUTION_STATUSES).optional(),
  type: csvEnum(EXECUTION_TYPES).optional(),
  flow_name: z.string().optional(),
  parent_execution_id: z.string().optional().describe('an id, or "none" for top-level executions'),
  top_execution_id: z.string().optional(),
  schedule_id: z.string().optional(),
  is_productive: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0).describe('items to skip (after `after`, when given)'),
  sort: z
    .string()
    .regex(
      new RegExp(`^-?(${EXECUTION_SORT_FIELDS.join('|')})$`),
      `one of ${EXECUTION_SORT_FIELDS.join(', ')}, optionally prefixed with -`,
    )
    .default('-created_at'),
  after: ListCursor.optional(),
});
export type ListExecutionsQuery = z.infer<typeof ListExecutionsQuery>;

/** What every list answer adds to its items: the total that match and where the next page starts. */
export const listPageFields = {
  total: z
    .number()
    .int()
    .describe('how many match; a lower bound when total_capped (counting stopped there)'),
  total_capped: z
    .boolean()
    .optional()
    .describe(
      'true: more match than were counted, and total is a lower bound. Totals are exact for no filter, status and (executions) parent_execution_id=none, (runs) execution_mode',
    ),
  next: z
    .string()
    .nullable()
    .optional()
    .describe(
      'cursor of the next page (pass it as `after`); null on the last page. A page also ends early, with a cursor, once its items pass about 8 MB of JSON',
    ),
};

export const ExecutionList = z
  .object({ items: z.array(ExecutionRecord), ...listPageFields })
  .meta({ id: 'ExecutionList' });

export const LogQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0).describe('return lines with seq greater than this'),
  limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
});
export const LogList = z.object({ items: z.array(LogLine) }).meta({ id: 'LogList' });

/** GET /api/latest/message — forms of flows, optionally only open ones or one execution's. */
export const MessageListQuery = z.strictObject({
  open: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .describe('true = only forms still waiting for an answer'),
  execution_id: z.string().min(1).max(200).optional().describe("only this execution's forms"),
});
export type MessageListQuery = z.infer<typeof MessageListQuery>;

export const MessageResponseBody = z.strictObject({ response: z.record(z.string(), z.unknown()) });
export const MessageList = z.object({ items: z.array(MessageRecord) }).meta({ id: 'MessageList' });

/**
 * GET /api/latest/record_names — the names of the records flows keep (system.setting,
 * connections, files), for the editor's completion. Names only: values may be secrets.
 */
export const RecordNamesQuery = z.strictObject({
  type: z.enum(['setting', 'connection', 'file']).describe('which kind of record'),
});
export type RecordNamesQuery = z.infer<typeof RecordNamesQuery>;
export const RecordNames = z
  .object({ names: z.array(z.string()).describe('sorted, without archived records') })
  .meta({ id: 'RecordNames' });

/** Every error answer has this shape; `issues` names the fields of a rejected body. */
export const ErrorBody = z
  .object({
    error: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBody>;
