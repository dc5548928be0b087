/**
 * The runs API of seed 004 under /v1: `POST /v1/actions/<action>/run/{live,async,schedule}`
 * (an action is a flow; its name may contain `/`), `GET /v1/runs`, `GET /v1/runs/<uid>` and
 * `POST /v1/runs/<uid>/{resume,pause,stop}`.
 */
import { AsyncRunBody, ListRunsQuery, LiveRunBody, ScheduleRunBody } from '@flows/protocol';
import type { Runs } from '../runs/runs';
import type { Route } from './router';
import { HttpError, validate } from './validation';

/** 100,000 inputs of a few hundred bytes each. */
const ASYNC_MAX_BODY = 64 * 1024 * 1024;

export function runsRoutes(runs: Runs): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v1/actions/*',
      maxBody: ASYNC_MAX_BODY,
      handler: async ({ params, body, user }) => {
        const m = /^(.+)\/run\/(live|async|schedule)$/.exec(params.rest ?? '');
        if (!m) {
          throw new HttpError(404, {
            error: 'not_found',
            message: 'use /v1/actions/<action>/run/live, /run/async or /run/schedule',
          });
        }
        const [, action, mode] = m;
        if (mode === 'live') {
          return {
            status: 200,
            body: await runs.live(action, validate(LiveRunBody, body ?? {}, 'body'), user),
          };
        }
        if (mode === 'async') {
          return {
            status: 202,
            body: await runs.async(action, validate(AsyncRunBody, body, 'body'), user),
          };
        }
        return {
          status: 201,
          body: await runs.schedule(action, validate(ScheduleRunBody, body, 'body')),
        };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/runs',
      handler: async ({ query }) => {
        const q = validate(ListRunsQuery, query, 'query');
        return { status: 200, body: await runs.list(q) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/runs/:uid',
      handler: async ({ params }) => ({ status: 200, body: await runs.get(params.uid) }),
    },
    ...(['resume', 'pause', 'stop'] as const).map((op): Route => ({
      method: 'POST',
      pattern: `/v1/runs/:uid/${op}`,
      handler: async ({ params }) => ({ status: 200, body: await runs[op](params.uid) }),
    })),
  ];
}
