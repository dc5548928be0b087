/** REST endpoints for schedules under /api/latest/schedule. */
import { CreateScheduleBody, PreviewScheduleBody, UpdateScheduleBody } from '../../../protocol';
import { ScheduleError, type Scheduler } from '../schedules/scheduler';
import type { Route } from './router';
import { fieldError, validate } from './validation';

/** Scheduler refusals become HTTP errors; a 400 names the field, like a rejected body. */
function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ScheduleError) throw fieldError(err.status, err.message, err.field);
    throw err;
  }
}

export function scheduleRoutes(scheduler: Scheduler): Route[] {
  const base = '/api/latest/schedule';
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
      handler: ({ body }) => ({
        status: 201,
        body: wrap(() => scheduler.create(validate(CreateScheduleBody, body, 'body'))),
      }),
    },
    {
      method: 'POST',
      pattern: `${base}/preview`,
      handler: ({ body }) => ({
        status: 200,
        body: wrap(() => scheduler.preview(validate(PreviewScheduleBody, body ?? {}, 'body'))),
      }),
    },
    {
      method: 'GET',
      pattern: `${base}/:id`,
      handler: ({ params }) => ({ status: 200, body: wrap(() => scheduler.get(params.id)) }),
    },
    {
      method: 'PATCH',
      pattern: `${base}/:id`,
      maxBody: 64 * 1024 * 1024,
      handler: ({ params, body }) => ({
        status: 200,
        body: wrap(() => scheduler.update(params.id, validate(UpdateScheduleBody, body ?? {}, 'body'))),
      }),
    },
    {
      method: 'DELETE',
      pattern: `${base}/:id`,
      handler: ({ params }) => ({ status: 200, body: wrap(() => scheduler.delete(params.id)) }),
    },
    {
      method: 'POST',
      pattern: `${base}/:id/run`,
      handler: ({ params }) => ({ status: 201, body: wrap(() => scheduler.runNow(params.id)) }),
    },
  ];
}
