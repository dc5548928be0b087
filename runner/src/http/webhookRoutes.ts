/**
 * Webhooks under /api/latest/webhook: CRUD (bearer token, like the rest of the API) and
 * `<any method> /api/latest/webhook/<name>/call[/sub/path]`, which other programs call. Such a
 * call carries no bearer token: the webhook's key (header X-Flows-Webhook-Key or ?key=) is its
 * authentication, and a webhook without a key is open to every local program — but not to
 * browser pages of other sites (an Origin not the runner's, Sec-Fetch-Site cross-site or
 * same-site: an <img> or a no-cors fetch carries no Origin) unless the webhook has
 * `allow_browsers`. The Host check applies here as everywhere. The webhook, the browser check,
 * the key and the declared size are all checked before the body is read.
 *
 * A call is answered when the execution ends, with what the flow set through
 * `this.webhook_response(…)` (or its JSON/HTML variants), else with its output as JSON (200) or
 * its failure (500). `?async=1` answers 202 with the execution id at once.
 */
import type { IncomingMessage } from 'node:http';
import {
  CreateWebhookBody,
  MAX_WEBHOOK_BODY_BYTES,
  UpdateWebhookBody,
  WEBHOOK_KEY_HEADER,
  isEnded,
  type ExecutionRecord,
  type WebhookCallInput,
  type WebhookRecord,
} from '@flows/protocol';
import type { WebhookResponse } from '../engine/events';
import type { Executions } from '../engine/executions';
import type { Webhooks } from '../webhooks/webhooks';
import type { Route, RouteResult } from './router';
import { browserCaller } from './security';
import { HttpError, checkDepth, validate } from './validation';

const CALL_MAX_BODY = MAX_WEBHOOK_BODY_BYTES; // protocol/limits.ts
/** Not the flow's to set: they describe the connection or the body, which Node writes itself. */
const HOP_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade']);
const HIDDEN_HEADERS = new Set(['authorization', WEBHOOK_KEY_HEADER]);
const HIDDEN_QUERY = new Set(['key', 'async']);

function multiMap(entries: Iterable<[string, string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of entries) {
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

function parseBody(req: IncomingMessage, raw: Buffer): Pick<WebhookCallInput, 'body' | 'body_encoding'> {
  if (raw.length === 0) return { body: null, body_encoding: 'none' };
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (/^application\/([\w.-]+\+)?json\b/.test(type)) {
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, {
        error: 'invalid_json',
        message: `body: not valid JSON (${(err as Error).message})`,
      });
    }
    checkDepth(body, 'body'); // see protocol/limits.ts
    return { body, body_encoding: 'json' };
  }
  if (type.startsWith('application/x-www-form-urlencoded')) {
    return { body: multiMap(new URLSearchParams(raw.toString('utf8'))), body_encoding: 'form' };
  }
  try {
    return { body: new TextDecoder('utf-8', { fatal: true }).decode(raw), body_encoding: 'text' };
  } catch {
    return { body: raw.toString('base64'), body_encoding: 'base64' };
  }
}

function callInput(req: IncomingMessage, url: URL, subPath: string, raw: Buffer): WebhookCallInput {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined && !HIDDEN_HEADERS.has(k)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return {
    method: req.method ?? 'GET',
    path: `/${subPath}`,
    query: multiMap([...url.searchParams].filter(([k]) => !HIDDEN_QUERY.has(k))),
    headers,
    ...parseBody(req, raw),
  };
}

function answer(rec: ExecutionRecord, webhook: WebhookResponse | undefined): RouteResult {
  const idHeader = { 'x-flows-execution-id': rec.id };
  if (webhook) {
    const headers: Record<string, string> = { ...idHeader };
    for (const [k, v] of Object.entries(webhook.headers ?? {})) {
      if (!HOP_HEADERS.has(k.toLowerCase())) headers[k.toLowerCase()] = v;
    }
    headers['content-type'] = webhook.content_type ?? headers['content-type'] ?? 'text/plain; charset=utf-8';
    const status = webhook.status_code >= 100 && webhook.status_code <= 599 ? webhook.status_code : 500;
    const body = webhook.body ?? '';
    return { status, headers, raw: webhook.encoding === 'base64' ? Buffer.from(body, 'base64') : body };
  }
  if (rec.status === 'SUCCEEDED') return { status: 200, headers: idHeader, body: rec.output_value ?? null };
  return {
    status: 500,
    headers: idHeader,
    body: {
      error: 'execution_failed',
      message: `the flow ended ${rec.status}${rec.message ? `: ${rec.message}` : ''}`,
      execution_id: rec.id,
      status: rec.status,
    },
  };
}

export function webhookRoutes(executions: Executions, webhooks: Webhooks): Route[] {
  const base = '/api/latest/webhook';
  // Synchronous calls waiting for their execution, by execution id: one listener for all.
  const waiting = new Map<string, (rec: ExecutionRecord, webhook?: WebhookResponse) => void>();
  executions.on('ended', (rec, webhook) => {
    const done = waiting.get(rec.id);
    if (done) {
      waiting.delete(rec.id);
      done(rec, webhook);
    }
  });

  return [
    {
      method: 'GET',
      pattern: base,
      handler: () => ({ status: 200, body: { items: webhooks.list() } }),
    },
    {
      method: 'POST',
      pattern: base,
      handler: ({ body }) => ({
        status: 201,
        body: webhooks.create(validate(CreateWebhookBody, body, 'body')),
      }),
    },
    {
      method: 'GET',
      pattern: `${base}/:name`,
      handler: ({ params }) => ({ status: 200, body: webhooks.get(params.name) }),
    },
    {
      method: 'PATCH',
      pattern: `${base}/:name`,
      handler: ({ params, body }) => ({
        status: 200,
        body: webhooks.update(params.name, validate(UpdateWebhookBody, body ?? {}, 'body')),
      }),
    },
    {
      method: 'DELETE',
      pattern: `${base}/:name`,
      handler: ({ params }) => ({ status: 200, body: webhooks.delete(params.name) }),
    },
    {
      method: '*',
      pattern: `${base}/:name/call/*`,
      auth: 'handler',
      rawBody: true,
      maxBody: CALL_MAX_BODY,
      browsers: 'route',
      // Everything that can refuse the caller, before a byte of the body is read.
      beforeBody: ({ req, params, url }): WebhookRecord => {
        const w = webhooks.find(params.name);
        if (!w?.enabled) {
          throw new HttpError(404, {
            error: 'not_found',
            message: `no enabled webhook named ${params.name}`,
          });
        }
        const fromPage = w.allow_browsers ? undefined : browserCaller(req, req.socket.localPort ?? 0);
        if (fromPage) {
          throw new HttpError(403, {
            error: 'forbidden',
            message: `calls from browser pages of other sites (${fromPage}) are refused; set "allow_browsers": true on the webhook to accept them`,
          });
        }
        const header = req.headers[WEBHOOK_KEY_HEADER];
        const given =
          (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('key') ?? undefined;
        if (!webhooks.keyMatches(w, given)) {
          throw new HttpError(403, {
            error: 'forbidden',
            message: `wrong or missing key: send it as the X-Flows-Webhook-Key header or ?key=`,
          });
        }
        return w;
      },
      handler: async ({ req, params, url, rawBody, pre }) => {
        const w = pre as WebhookRecord;
        const rec = executions.create({
          type: 'FLOW',
          flow_name: w.flow_name,
          input_value: callInput(req, url, params.rest ?? '', rawBody),
          webhook_id: w.id,
          // A program called it with the webhook's key, not a user's token.
          started_by: `webhook ${w.name}`,
          is_productive: w.is_productive,
          priority: w.priority,
          max_runtime_minutes: w.max_runtime_minutes,
        });
        const async = ['1', 'true', 'yes'].includes(url.searchParams.get('async') ?? '');
        // Acknowledged means stored: the 202 (or an INVALID answered at once) waits for the
        // commit that holds the execution. An end is announced only once committed, so the
        // synchronous answer below is durable too.
        if (async || isEnded(rec.status)) await executions.durable();
        if (async) return { status: 202, body: { execution_id: rec.id, status: rec.status } };
        // Ended already (INVALID: the flow is gone); otherwise it ends in a later turn.
        if (isEnded(rec.status)) return answer(rec, undefined);
        const [ended, webhook] = await new Promise<[ExecutionRecord, WebhookResponse | undefined]>(
          (resolve) => waiting.set(rec.id, (r, wh) => resolve([r, wh])),
        );
        return answer(ended, webhook);
      },
    },
  ];
}
