/**
 * Tests made from runs (issue 17): the REST body and answer of POST
 * /api/latest/execution/{id}/test (client → runner: make a test case of an ended execution;
 * runner → client: where it wrote it), and the JSON lines `flows test --reporter json` prints
 * (CLI → the editor's Testing view).
 */
import { z } from 'zod';
import { EXECUTION_STATUSES } from './records';

export const TEST_FILE_SUFFIX = '.flowtest.yaml';

/** POST /api/latest/execution/{id}/test */
export const CreateTestBody = z
  .strictObject({
    out: z
      .string()
      .min(1)
      .max(1000)
      .regex(/^[^\0]*\.flowtest\.yaml$/, `must end with ${TEST_FILE_SUFFIX} (and hold no NUL)`)
      .optional()
      .describe(
        `the test file, relative to the flows folder and inside it; default tests/<flow>${TEST_FILE_SUFFIX} next to the flow`,
      ),
    replace: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        'rewrite the case of this name with the new recording instead of adding one (Update Recording): its name, input, replay choices, comments and the other cases stay',
      ),
  })
  .describe('Make a test case of an execution that ended');
export type CreateTestBody = z.infer<typeof CreateTestBody>;

export const CreatedTest = z
  .object({
    file: z.string().describe('absolute path of the test file (created or appended to)'),
    path: z.string().describe('the same, relative to the flows folder'),
    name: z.string().describe('name of the new case, unique in the file'),
    flow: z.string().describe('the flow the case tests'),
  })
  .meta({ id: 'CreatedTest' });
export type CreatedTest = z.infer<typeof CreatedTest>;

/** The top execution of a replayed case, as `flows test --reporter json` reports it. */
export const ReplayedRun = z.object({
  id: z.string(),
  status: z.enum(EXECUTION_STATUSES),
  message: z.string().nullable().optional(),
  output_value: z.unknown().optional(),
  children: z.array(
    z.object({
      connector: z.string().optional(),
      flow: z.string().optional(),
      inputs: z.unknown().optional(),
    }),
  ),
});

/**
 * One line of `flows test --reporter json`: a case's result as soon as it is known, then the end;
 * with `--debug`, before each case, where its runner waits for a debugger to launch the flow.
 */
export const TestReportLine = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('result'),
    file: z.string(),
    flow: z.string(),
    name: z.string(),
    passed: z.boolean(),
    failures: z.array(z.string()),
    ms: z.number(),
    runMs: z.number().optional(),
    actual: ReplayedRun.optional(),
    /** The line of the flow (1-based) that each failure, by its index in `failures`, comes from. */
    at: z.array(z.object({ failure: z.number().int(), file: z.string(), line: z.number().int() })).optional(),
    /** A failed case's expected (recorded) and actual execution trees, as text to diff. */
    trees: z.object({ expected: z.string(), actual: z.string() }).optional(),
  }),
  z.object({
    event: z.literal('debug'),
    file: z.string(),
    name: z.string(),
    /** The case's runner, replaying: launch `program` with `input` on it (a `flow` launch). */
    url: z.string(),
    token: z.string(),
    program: z.string(),
    input: z.unknown(),
  }),
  z.object({ event: z.literal('end'), passed: z.number(), failed: z.number() }),
]);
export type TestReportLine = z.infer<typeof TestReportLine>;
