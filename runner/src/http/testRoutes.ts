/**
 * POST /api/latest/execution/{id}/test: a test case made from an execution that ended, added to
 * its flow's test file in the runner's flows folder (testing/createTest.ts does the work; the
 * same as `flows test create` with no runner serving the folder). The runner writes the file
 * because it alone holds the recording and knows the flows folder; the editor then opens it.
 */
import path from 'node:path';
import { CreatedTest, CreateTestBody, ErrorBody, isEnded } from '@flows/protocol';
import { Conflict, Invalid, NotFound } from '../engine/errors';
import type { Executions } from '../engine/executions';
import type { Store } from '../store/store';
import { createTest, CreateTestError, engineSource } from '../testing/createTest';
import { TestFileError } from '../testing/testFile';
import { errors, json, ok } from './openapi';
import type { Route } from './router';
import { validate } from './validation';

/** The test file `out` names, inside the flows folder; a path leading out of it is refused. */
function outFile(flowsDir: string, out: string | undefined): string | undefined {
  if (out === undefined) return undefined;
  const file = path.resolve(flowsDir, out);
  const rel = path.relative(flowsDir, file);
  if (path.isAbsolute(out) || rel.startsWith('..') || path.isAbsolute(rel))
    throw new Invalid(`'${out}' is not inside the flows folder (give a path relative to it)`, 'out');
  return file;
}

export function testRoutes(executions: Executions, store: Store, flowsDir: string): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/api/latest/execution/:id/test',
      maxBody: 64 * 1024,
      handler: async ({ params, body }) => {
        // The execution first: a request about one that does not exist is answered as such.
        const rec = await executions.get(params.id);
        if (!rec) throw new NotFound(`no execution with id ${params.id}`);
        const { out, replace } = validate(CreateTestBody, body ?? {}, 'body');
        const file = outFile(flowsDir, out);
        if (rec.type !== 'FLOW' || !rec.flow_name)
          throw new Conflict(`execution ${rec.id} is a ${rec.type}: tests are made from runs of flows`);
        if (!isEnded(rec.status))
          throw new Conflict(
            `execution ${rec.id} is ${rec.status}: make a test from an execution that has ended`,
          );
        // Its recording is written with the store's group commit.
        await executions.durable();
        try {
          const made = await createTest(engineSource(executions, store), rec.id, flowsDir, file, replace);
          const answer: CreatedTest = { ...made, path: path.relative(flowsDir, made.file) };
          return { status: 201, body: answer };
        } catch (err) {
          if (err instanceof CreateTestError) throw new Conflict(err.message);
          if (err instanceof TestFileError)
            throw new Conflict(
              err.message,
              replace !== undefined ? 'replace' : out === undefined ? undefined : 'out',
            );
          const code = (err as NodeJS.ErrnoException).code;
          if (typeof code === 'string')
            throw new Conflict(
              `cannot write the test file: ${(err as Error).message}`,
              out === undefined ? undefined : 'out',
            );
          throw err;
        }
      },
    },
  ];
}

/** The OpenAPI paths of these routes. */
export function testPaths(): Record<string, object> {
  return {
    '/api/latest/execution/{id}/test': {
      post: {
        summary: 'Make a test case of an execution that ended, in its flow’s test file',
        description:
          'Adds a case (input, recorded connector results, settings, files and form answers it read, ' +
          'expected status, message, output and children) to tests/<flow>.flowtest.yaml next to the ' +
          'flow, or to `out`, creating the file when missing; run it with `flows test`.',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: { required: false, content: json(CreateTestBody, 'input') },
        responses: {
          '201': ok('where the case was written', CreatedTest),
          ...errors,
          '409': {
            description:
              'not possible: the execution has not ended or is not a flow’s, its flow file is gone, or the test file holds another flow’s tests',
            content: json(ErrorBody),
          },
        },
      },
    },
  };
}
