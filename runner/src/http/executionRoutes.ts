/** REST endpoints for executions and their logs under /api/latest/. */
import {
  CreateExecutionBody,
  ListExecutionsQuery,
  LogQuery,
  MessageListQuery,
  MessageResponseBody,
  RecordNamesQuery,
} from '@flows/protocol';
import type { Executions } from '../engine/executions';
import type { Route } from './router';
import { HttpError, validate } from './validation';

const notFound = (what: string, id: string) =>
  new HttpError(404, { error: 'not_found', message: `no ${what} with id ${id}` });

async function existing(executions: Executions, id: string) {
  const rec = await executions.get(id);
  if (!rec) throw notFound('execution', id);
  return rec;
}

export function executionRoutes(executions: Executions): Route[] {
  const base = '/api/latest';
  return [
    {
      method: 'POST',
      pattern: `${base}/execution`,
      maxBody: 2 * 1024 * 1024,
      handler: async ({ body, user }) => {
        const rec = executions.createFromApi(validate(CreateExecutionBody, body, 'body'), user);
        // Acknowledged means stored: the 201 waits for the group commit that holds it.
        await executions.durable();
        return { status: 201, body: rec };
      },
    },
    {
      method: 'GET',
      pattern: `${base}/execution`,
      handler: async ({ query }) => {
        const q = validate(ListExecutionsQuery, query, 'query');
        // As JSON made by the store where it can, spliced in as it is: no parse, no stringify.
        const raw = await executions.listJson(q);
        if (raw !== undefined) {
          return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, raw };
        }
        return { status: 200, body: await executions.list(q) };
      },
    },
    {
      method: 'GET',
      pattern: `${base}/execution/:id`,
      handler: async ({ params }) => ({ status: 200, body: await existing(executions, params.id) }),
    },
    ...(['cancel', 'pause', 'resume', 'start'] as const).map((op): Route => ({
      method: 'POST',
      pattern: `${base}/execution/:id/${op}`,
      handler: async ({ params }) => {
        await existing(executions, params.id);
        // Team mode: an execution another node holds is acted on there, and answered as it is
        // after (or 503 naming the node when it did not act in time).
        const remote = await executions.elsewhere?.(op, params.id);
        if (remote) return { status: 200, body: remote };
        const rec =
          op === 'cancel'
            ? await executions.cancel(params.id)
            : op === 'pause'
              ? executions.pause(params.id)
              : op === 'resume'
                ? executions.resume(params.id)
                : executions.start(params.id);
        await executions.durable();
        return { status: 200, body: rec };
      },
    })),
    {
      method: 'GET',
      pattern: `${base}/execution/:id/log`,
      handler: async ({ params, query }) => {
        await existing(executions, params.id);
        const q = validate(LogQuery, query, 'query');
        return { status: 200, body: { items: await executions.log(params.id, q.after, q.limit) } };
      },
    },
    {
      method: 'GET',
      pattern: `${base}/message`,
      handler: async ({ query }) => {
        const q = validate(MessageListQuery, query, 'query');
        return {
          status: 200,
          body: {
            items: await executions.messages({ open: q.open ?? false, execution_id: q.execution_id }),
          },
        };
      },
    },
    {
      method: 'GET',
      pattern: `${base}/record_names`,
      handler: async ({ query }) => {
        const q = validate(RecordNamesQuery, query, 'query');
        return { status: 200, body: { names: await executions.recordNames(q.type) } };
      },
    },
    {
      method: 'POST',
      pattern: `${base}/message/:id/response`,
      handler: async ({ params, body }) => {
        const { response } = validate(MessageResponseBody, body, 'body');
        const answered = await executions.answerMessage(params.id, response);
        await executions.durable();
        return { status: 200, body: answered };
      },
    },
  ];
}
