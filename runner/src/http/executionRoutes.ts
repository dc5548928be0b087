/** REST endpoints for executions and their logs under /api/latest/. */
import {
  CreateExecutionBody,
  ListExecutionsQuery,
  LogQuery,
  MessageListQuery,
  MessageResponseBody,
} from '../../../protocol';
import { EngineError, publicRecord, type Engine } from '../engine/engine';
import { InvalidCursorError } from '../store/store';
import type { Route } from './router';
import { fieldError, HttpError, validate } from './validation';

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
      handler: async ({ body }) => {
        const rec = engine.createFromApi(validate(CreateExecutionBody, body, 'body'));
        // Acknowledged means stored: the 201 waits for the group commit that holds it.
        await engine.durable();
        return { status: 201, body: rec };
      },
    },
    {
      method: 'GET',
      pattern: `${base}/execution`,
      handler: async ({ query }) => {
        const q = validate(ListExecutionsQuery, query, 'query');
        const store = engine.store;
        try {
          // An execution that has not ended is shown as the engine holds it (as engine.get does).
          if (store.listExecutionsJson) {
            // The page as JSON made by the store, spliced in as it is: no parse, no stringify.
            const page = await store.listExecutionsJson(q);
            const items = page.items.map(({ id, json }) => {
              const a = engine.active.get(id);
              return a ? JSON.stringify(publicRecord(a.rec)) : json;
            });
            const { total, total_capped, next } = page;
            return {
              status: 200,
              headers: { 'content-type': 'application/json; charset=utf-8' },
              raw: `{"items":[${items.join(',')}],${JSON.stringify({ total, total_capped, next }).slice(1)}`,
            };
          }
          const page = await store.listExecutions(q);
          const items = page.items.map((r) => publicRecord(engine.active.get(r.id)?.rec ?? r));
          return { status: 200, body: { ...page, items } };
        } catch (err) {
          if (err instanceof InvalidCursorError) throw fieldError(400, err.message, 'after');
          throw err;
        }
      },
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
        await engine.durable();
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
      handler: async ({ query }) => {
        const q = validate(MessageListQuery, query, 'query');
        return {
          status: 200,
          body: {
            items: await engine.store.listMessages({ open: q.open ?? false, execution_id: q.execution_id }),
          },
        };
      },
    },
    {
      method: 'POST',
      pattern: `${base}/message/:id/response`,
      handler: async ({ params, body }) => {
        const { response } = validate(MessageResponseBody, body, 'body');
        const answered = await wrap(() => engine.answerMessage(params.id, response));
        await engine.durable();
        return { status: 200, body: answered };
      },
    },
  ];
}
