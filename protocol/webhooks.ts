/**
 * Webhooks: CRUD bodies and records under /api/latest/webhook (client → runner), and what a
 * webhook call hands the flow it starts. A call is `<any method> /api/latest/webhook/<name>/call
 * [/sub/path]`; other programs make it, so it is authenticated by the webhook's own key (header
 * `X-Flows-Webhook-Key` or `?key=`) instead of the runner's bearer token.
 */
import { z } from 'zod';
import { FlowName } from './rest';

export const WEBHOOK_KEY_HEADER = 'x-flows-webhook-key';

export const WebhookName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    'letters, digits, ".", "_" and "-" only (up to 100), starting with a letter or digit',
  )
  .describe('the URL segment: /api/latest/webhook/<name>/call');

export const WebhookKey = z
  .string()
  .min(8, 'must be at least 8 characters')
  .max(200)
  .describe('callers send it as the X-Flows-Webhook-Key header or ?key=; null = no key needed');

const webhookFields = {
  name: WebhookName,
  flow_name: FlowName,
  key: WebhookKey.nullable(),
  enabled: z.boolean().describe('a disabled webhook answers 404'),
  is_productive: z.boolean().describe('true = Run (productive), false = Try (development)'),
  priority: z.number().int().min(-1_000_000).max(1_000_000),
  max_runtime_minutes: z.number().min(0).max(525_600),
  allow_browsers: z
    .boolean()
    .describe(
      'let browser pages of other sites call it (requests with a foreign Origin or Sec-Fetch-Site: cross-site/same-site); false = 403',
    ),
};

/** POST /api/latest/webhook */
export const CreateWebhookBody = z
  .strictObject({
    name: webhookFields.name,
    flow_name: webhookFields.flow_name,
    key: webhookFields.key.default(null),
    enabled: webhookFields.enabled.default(true),
    is_productive: webhookFields.is_productive.default(true),
    priority: webhookFields.priority.default(0),
    max_runtime_minutes: webhookFields.max_runtime_minutes.default(0),
    allow_browsers: webhookFields.allow_browsers.default(false),
  })
  .describe('Create a webhook');
export type CreateWebhookBody = z.infer<typeof CreateWebhookBody>;

/** PATCH /api/latest/webhook/<name> */
export const UpdateWebhookBody = z
  .strictObject({
    name: webhookFields.name.optional(),
    flow_name: webhookFields.flow_name.optional(),
    key: webhookFields.key.optional(),
    enabled: webhookFields.enabled.optional(),
    is_productive: webhookFields.is_productive.optional(),
    priority: webhookFields.priority.optional(),
    max_runtime_minutes: webhookFields.max_runtime_minutes.optional(),
    allow_browsers: webhookFields.allow_browsers.optional(),
  })
  .describe('Change a webhook');
export type UpdateWebhookBody = z.infer<typeof UpdateWebhookBody>;

const Timestamp = z.string().describe('ISO 8601 timestamp, UTC');

export const WebhookRecord = z
  .object({
    id: z.string().describe('executions it starts carry this as webhook_id'),
    name: z.string(),
    flow_name: z.string(),
    key: z.string().nullable(),
    enabled: z.boolean(),
    is_productive: z.boolean(),
    priority: z.number().int(),
    max_runtime_minutes: z.number(),
    allow_browsers: z.boolean().describe('false for webhooks stored before the field existed'),
    url_path: z.string().describe('/api/latest/webhook/<name>/call'),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'Webhook' });
export type WebhookRecord = z.infer<typeof WebhookRecord>;

export const WebhookList = z.object({ items: z.array(WebhookRecord) }).meta({ id: 'WebhookList' });

/** The `input_value` of an execution a webhook call started. */
export const WebhookCallInput = z
  .object({
    method: z.string(),
    path: z.string().describe('the part of the URL after /call, "/" when there is none'),
    query: z
      .record(z.string(), z.union([z.string(), z.array(z.string())]))
      .describe('without `key` and `async`; a repeated parameter is a list'),
    headers: z
      .record(z.string(), z.string())
      .describe('lower-case names; without Authorization and X-Flows-Webhook-Key'),
    body: z.unknown().describe('parsed when JSON or a form; text otherwise; base64 for binary'),
    body_encoding: z.enum(['none', 'json', 'form', 'text', 'base64']),
  })
  .meta({ id: 'WebhookCallInput' });
export type WebhookCallInput = z.infer<typeof WebhookCallInput>;

/** The 202 answer of `?async=1`. */
export const WebhookAccepted = z
  .object({ execution_id: z.string(), status: z.string() })
  .meta({ id: 'WebhookAccepted' });
export type WebhookAccepted = z.infer<typeof WebhookAccepted>;
