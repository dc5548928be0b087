/** OpenAPI paths of schedules, webhooks and the runs API (from the same zod schemas). */
import {
  AsyncRunBody,
  CreateScheduleBody,
  CreateWebhookBody,
  ErrorBody,
  ExecutionRecord,
  ListRunsQuery,
  LiveRunBody,
  PreviewScheduleBody,
  Run,
  RunDetail,
  RunList,
  ScheduledRun,
  ScheduleList,
  SchedulePreview,
  ScheduleRecord,
  ScheduleRunBody,
  UpdateScheduleBody,
  UpdateWebhookBody,
  WebhookAccepted,
  WebhookList,
  WebhookRecord,
} from '@flows/protocol';
import { errors, json, LIST_PAGING, ok, queryParameters } from './openapi';

const pathParam = (name: string, description?: string) => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'string' },
  ...(description ? { description } : {}),
});
const body = (s: Parameters<typeof json>[0]) => ({ required: true, content: json(s, 'input') });
const conflict = { '409': { description: 'not possible in its state', content: json(ErrorBody) } };

export function automationPaths(): Record<string, object> {
  const id = pathParam('id');
  const name = pathParam('name', 'the webhook name (or id)');
  const uid = pathParam('uid', 'the run uid: the id of its top execution');
  const runOp = (what: string) => ({
    post: {
      summary: what,
      parameters: [uid],
      responses: { '200': ok('the run', RunDetail), ...errors, ...conflict },
    },
  });
  return {
    '/api/latest/schedule': {
      get: { summary: 'List schedules', responses: { '200': ok('schedules', ScheduleList), ...errors } },
      post: {
        summary: 'Create a schedule (enabled: its SCHEDULE execution starts at once)',
        requestBody: body(CreateScheduleBody),
        responses: { '201': ok('the schedule', ScheduleRecord), ...errors },
      },
    },
    '/api/latest/schedule/preview': {
      post: {
        summary: 'Check a timing and return its next fire times (400 names the wrong field)',
        requestBody: body(PreviewScheduleBody),
        responses: { '200': ok('the next fire times', SchedulePreview), ...errors },
      },
    },
    '/api/latest/schedule/{id}': {
      get: {
        summary: 'Read a schedule',
        parameters: [id],
        responses: { '200': ok('the schedule', ScheduleRecord), ...errors },
      },
      patch: {
        summary: 'Change a schedule; `enabled` enables or disables it',
        parameters: [id],
        requestBody: body(UpdateScheduleBody),
        responses: { '200': ok('the schedule', ScheduleRecord), ...errors },
      },
      delete: {
        summary: 'Delete a schedule (its executions stay as history)',
        parameters: [id],
        responses: { '200': ok('the deleted schedule', ScheduleRecord), ...errors },
      },
    },
    '/api/latest/schedule/{id}/run': {
      post: {
        summary: 'Run the schedule now',
        parameters: [id],
        responses: { '201': ok('the run it started', ExecutionRecord), ...errors },
      },
    },
    '/api/latest/webhook': {
      get: { summary: 'List webhooks', responses: { '200': ok('webhooks', WebhookList), ...errors } },
      post: {
        summary: 'Create a webhook',
        requestBody: body(CreateWebhookBody),
        responses: { '201': ok('the webhook', WebhookRecord), ...errors, ...conflict },
      },
    },
    '/api/latest/webhook/{name}': {
      get: {
        summary: 'Read a webhook',
        parameters: [name],
        responses: { '200': ok('the webhook', WebhookRecord), ...errors },
      },
      patch: {
        summary: 'Change a webhook',
        parameters: [name],
        requestBody: body(UpdateWebhookBody),
        responses: { '200': ok('the webhook', WebhookRecord), ...errors, ...conflict },
      },
      delete: {
        summary: 'Delete a webhook',
        parameters: [name],
        responses: { '200': ok('the deleted webhook', WebhookRecord), ...errors },
      },
    },
    '/api/latest/webhook/{name}/call': {
      post: {
        summary:
          'Call a webhook (any method, any sub-path after /call). Authenticated by the webhook key (X-Flows-Webhook-Key or ?key=), not the bearer token. Answered with the flow’s webhook response or output; ?async=1 answers 202 at once.',
        security: [],
        parameters: [
          name,
          { name: 'key', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'async', in: 'query', required: false, schema: { type: 'string', enum: ['1', 'true'] } },
        ],
        responses: {
          '200': {
            description: 'what the flow answered (any status and content type), or its output as JSON',
          },
          '202': ok('with ?async=1: the execution was started', WebhookAccepted),
          '403': { description: 'wrong or missing key', content: json(ErrorBody) },
          '404': { description: 'no such webhook, or it is disabled', content: json(ErrorBody) },
          '500': { description: 'the flow failed without answering', content: json(ErrorBody) },
        },
      },
    },
    '/v1/actions/{action}/run/live': {
      post: {
        summary: 'Run one input of an action (a flow) and answer with the result',
        parameters: [pathParam('action', 'the flow name; may contain /')],
        requestBody: body(LiveRunBody),
        responses: { '200': ok('the ended run', RunDetail), ...errors },
      },
    },
    '/v1/actions/{action}/run/async': {
      post: {
        summary: 'Run 1 to 100,000 inputs as one run, answered at once (every child is stored by then)',
        parameters: [pathParam('action', 'the flow name; may contain /')],
        requestBody: body(AsyncRunBody),
        responses: { '202': ok('the run', Run), ...errors },
      },
    },
    '/v1/actions/{action}/run/schedule': {
      post: {
        summary: 'Create a cron schedule of the action',
        parameters: [pathParam('action', 'the flow name; may contain /')],
        requestBody: body(ScheduleRunBody),
        responses: {
          '201': ok('the run (its SCHEDULE execution) and the schedule', ScheduledRun),
          ...errors,
        },
      },
    },
    '/v1/runs': {
      get: {
        summary: 'List runs',
        description: LIST_PAGING,
        parameters: queryParameters(ListRunsQuery),
        responses: {
          '200': ok('a page of runs, the total and the cursor of the next page', RunList),
          ...errors,
        },
      },
    },
    '/v1/runs/{uid}': {
      get: {
        summary: 'Read a run, with counts per status',
        parameters: [uid],
        responses: { '200': ok('the run', RunDetail), ...errors },
      },
    },
    '/v1/runs/{uid}/resume': runOp('Resume a PAUSED or STOPPED run (its unfinished inputs only)'),
    '/v1/runs/{uid}/pause': runOp('Pause a run'),
    '/v1/runs/{uid}/stop': runOp('Stop a run and everything in it'),
  };
}
