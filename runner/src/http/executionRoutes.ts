/** REST endpoints for executions and their logs under /api/latest/. */
import { CreateExecutionBody, ListExecutionsQuery, LogQuery, MessageResponseBody } from '../../../protocol';
import { EngineError, type Engine } from '../engine/engine';
import type { Route } from './router';
import { HttpError, validate } from './validation';

const notFound = (what: string, id: string) =>
  new HttpError(404, { error: 'not_found', message: `no ${what} with id ${id}` });

async function existing(engine: Engine, id: string) {
  const rec = await engine.get(id);
  if (!rec) throw notFound('execution', id);
  return rec;
}

/** Engine refusals become HTTP errors with the same message. */
async function wrap<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof EngineError)
      throw new HttpError(err.status, { error: 'conflict', message: err.message });
    throw err;
  }
}

export function executionRoutes(engine: Engine): Route[] {
  const base = '/api/latest';
  return [
    {
      method: 'POST',
      pattern: `${base}/execution`,
      maxBody: 2 * 1024 * 1024,
      handler: ({ body }) => ({
        status: 201,
        body: engine.createFromApi(validate(CreateExecutionBody, body, 'body')),
      }),
    },
    {
      method: 'GET',
      pattern: `${base}/execution`,
      handler: async ({ query }) => ({
        status: 200,
        body: await engine.list(validate(ListExecutionsQuery, query, 'query')),
      }),
    },
    {
      method: 'GET',
      pattern: `${base}/execution/:id`,
      handler: async ({ params }) => ({ status: 200, body: await existing(engine, params.id) }),
    },
    ...(['cancel', 'pause', 'resume', 'start'] as const).map((op): Route => ({
      method: 'POST',
      pattern: `${base}/execution/:id/${op}`,
      handler: async ({ params }) => {
        await existing(engine, params.id);
        const rec = await wrap(() =>
          op === 'cancel'
            ? engine.cancel(params.id)
            : op === 'pause'
              ? engine.pause(params.id)
              : op === 'resume'
                ? engine.resume(params.id)
                : engine.start(params.id),
        );
        return { status: 200, body: rec };
      },
    })),
    {
      method: 'GET',
      pattern: `${base}/execution/:id/log`,
      handler: async ({ params, query }) => {
        await existing(engine, params.id);
        const q = validate(LogQuery, query, 'query');
        return { status: 200, body: { items: await engine.store.getLog(params.id, q.after, q.limit) } };
      },
    },
    {
      method: 'GET',
      pattern: `${base}/message`,
      handler: async ({ query }) => ({
        status: 200,
        body: {
          items: await engine.store.listMessages({
            open: query.open === 'true',
            execution_id: query.execution_id,
          }),
        },
      }),
    },
    {
      method: 'POST',
      pattern: `${base}/message/:id/response`,
      handler: async ({ params, body }) => {
        const { response } = validate(MessageResponseBody, body, 'body');
        return { status: 200, body: await wrap(() => engine.answerMessage(params.id, response)) };
      },
    },
  ];
}
