/** REST endpoints for schedules under /api/latest/schedule. */
import { CreateScheduleBody, PreviewScheduleBody, UpdateScheduleBody } from '@flows/protocol';
import type { Scheduler } from '../schedules/scheduler';
import type { Route } from './router';
import { validate } from './validation';

export function scheduleRoutes(scheduler: Scheduler): Route[] {
  const base = '/api/latest/schedule';
  /** A change is acknowledged once committed (with the store's next group commit). */
  const durable = async <T>(fn: () => T): Promise<T> => {
    const result = fn();
    await scheduler.durable();
    return result;
  };
  return [
    {
      method: 'GET',
      pattern: base,
      handler: () => ({ status: 200, body: { items: scheduler.list() } }),
    },
    {
      method: 'POST',
      pattern: base,
      maxBody: 64 * 1024 * 1024,
      handler: async ({ body }) => ({
        status: 201,
        body: await durable(() => scheduler.create(validate(CreateScheduleBody, body, 'body'))),
      }),
    },
    {
      method: 'POST',
      pattern: `${base}/preview`,
      handler: ({ body }) => ({
        status: 200,
        body: scheduler.preview(validate(PreviewScheduleBody, body ?? {}, 'body')),
      }),
    },
    {
      method: 'GET',
      pattern: `${base}/:id`,
      handler: ({ params }) => ({ status: 200, body: scheduler.get(params.id) }),
    },
    {
      method: 'PATCH',
      pattern: `${base}/:id`,
      maxBody: 64 * 1024 * 1024,
      handler: async ({ params, body }) => ({
        status: 200,
        body: await durable(() =>
          scheduler.update(params.id, validate(UpdateScheduleBody, body ?? {}, 'body')),
        ),
      }),
    },
    {
      method: 'DELETE',
      pattern: `${base}/:id`,
      handler: async ({ params }) => ({
        status: 200,
        body: await durable(() => scheduler.delete(params.id)),
      }),
    },
    {
      method: 'POST',
      pattern: `${base}/:id/run`,
      handler: async ({ params, user }) => ({
        status: 201,
        body: await durable(() => scheduler.runNow(params.id, user)),
      }),
    },
  ];
}
