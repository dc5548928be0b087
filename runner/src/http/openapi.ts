/**
 * The OpenAPI document at /api/openapi.json, generated from the same zod schemas the runner
 * validates with, so the document cannot drift from the behaviour.
 */
import { z } from 'zod';
import {
  CreateExecutionBody,
  ErrorBody,
  ExecutionList,
  ExecutionRecord,
  ListExecutionsQuery,
  LogList,
  LogQuery,
  MessageList,
  MessageListQuery,
  MessageRecord,
  MessageResponseBody,
  RecordNames,
  RecordNamesQuery,
} from '@flows/protocol';

const REF = (id: string) => `#/components/schemas/${id}`;

/** Answers are named components (every schema with a meta id); request bodies are inlined. */
const schema = (s: z.ZodType, io: 'input' | 'output' = 'output'): object => {
  const id = z.globalRegistry.get(s)?.id;
  if (id && io === 'output') return { $ref: REF(id) };
  return z.toJSONSchema(s, { target: 'openapi-3.0', io, unrepresentable: 'any' });
};

export function queryParameters(s: z.ZodObject) {
  const json = schema(s, 'input') as { properties?: Record<string, object> };
  return Object.entries(json.properties ?? {}).map(([name, prop]) => ({
    name,
    in: 'query',
    required: false,
    schema: prop,
  }));
}

export const json = (s: z.ZodType, io: 'input' | 'output' = 'output') => ({
  'application/json': { schema: schema(s, io) },
});
export const ok = (description: string, s: z.ZodType) => ({ description, content: json(s) });
export const errors = {
  '400': { description: 'invalid request; `issues` names each rejected field', content: json(ErrorBody) },
  '401': { description: 'missing or wrong token', content: json(ErrorBody) },
  '404': { description: 'not found', content: json(ErrorBody) },
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

/** How every list pages, counts and bounds its answers (the store's "Lists" comment has the why). */
export const LIST_PAGING = [
  'Pages: `next` is the cursor of the next page, null on the last; pass it as `after` (with the same',
  'sort) to continue. Cursor paging costs the same at any depth, and rows added meanwhile neither',
  'repeat nor are skipped; `offset` still works, but walks what it skips. A cursor that is not one',
  'of the `next` values given, or was made for another sort, is a 400 naming `after`. A page also',
  'ends early, with a cursor, once its items pass about 8 MB of JSON (it always holds at least one).',
  '`total` is exact without filters and for the filters that have counters (status, and for',
  'executions parent_execution_id=none, for runs execution_mode); with other filters matches are',
  'counted up to 10,000, and past that `total_capped` is true and `total` a lower bound.',
].join(' ');

/** `extraPaths`: the paths of modules with their own routes (schedules, webhooks, runs). */
export function openApiDocument(version: string, extraPaths: Record<string, object> = {}): object {
  const op = (action: string) => ({
    post: {
      summary: `${action[0].toUpperCase()}${action.slice(1)} an execution (and its children)`,
      parameters: [idParam],
      responses: {
        '200': ok('the execution', ExecutionRecord),
        ...errors,
        '409': { description: 'not possible in its status', content: json(ErrorBody) },
      },
    },
  });
  return {
    openapi: '3.0.3',
    info: { title: 'Flows runner API', version },
    servers: [{ url: '/' }],
    components: {
      schemas: z.toJSONSchema(z.globalRegistry, { target: 'openapi-3.0', unrepresentable: 'any', uri: REF })
        .schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/latest/execution': {
        post: {
          summary: 'Create an execution of a flow (flow_name) or of ad-hoc code (script)',
          requestBody: { required: true, content: json(CreateExecutionBody, 'input') },
          responses: {
            '201': ok('the new execution (INVALID when the flow cannot be found)', ExecutionRecord),
            ...errors,
          },
        },
        get: {
          summary: 'List executions',
          description: LIST_PAGING,
          parameters: queryParameters(ListExecutionsQuery),
          responses: {
            '200': ok(
              'a page of executions, the total that match and the cursor of the next page',
              ExecutionList,
            ),
            ...errors,
          },
        },
      },
      '/api/latest/execution/{id}': {
        get: {
          summary: 'Read an execution',
          parameters: [idParam],
          responses: { '200': ok('the execution', ExecutionRecord), ...errors },
        },
      },
      '/api/latest/execution/{id}/cancel': op('cancel'),
      '/api/latest/execution/{id}/pause': op('pause'),
      '/api/latest/execution/{id}/resume': op('resume'),
      '/api/latest/execution/{id}/start': op('start'),
      '/api/latest/execution/{id}/log': {
        get: {
          summary: 'Read the log lines of an execution',
          parameters: [idParam, ...queryParameters(LogQuery)],
          responses: { '200': ok('log lines in order', LogList), ...errors },
        },
      },
      '/api/latest/message': {
        get: {
          summary: 'List forms (system.message) of running flows',
          parameters: queryParameters(MessageListQuery),
          responses: { '200': ok('messages', MessageList), ...errors },
        },
      },
      '/api/latest/record_names': {
        get: {
          summary: 'Names of the settings, connections or files flows keep (for completion)',
          parameters: queryParameters(RecordNamesQuery),
          responses: { '200': ok('record names', RecordNames), ...errors },
        },
      },
      '/api/latest/message/{id}/response': {
        post: {
          summary: 'Answer a form; the waiting flow continues',
          parameters: [idParam],
          requestBody: { required: true, content: json(MessageResponseBody, 'input') },
          responses: { '200': ok('the answered message', MessageRecord), ...errors },
        },
      },
      ...extraPaths,
    },
  };
}
