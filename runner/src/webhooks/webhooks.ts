/**
 * Webhooks: a name → a flow, an optional key, enabled or not. The registry lives in memory and
 * is written behind to the store; `http/webhookRoutes.ts` turns calls into executions.
 */
import crypto from 'node:crypto';
import type { CreateWebhookBody, UpdateWebhookBody, WebhookRecord } from '../../../protocol';
import type { Engine } from '../engine/engine';
import { resolveFlow } from '../engine/flowFiles';
import type { StoredWebhook } from '../store/store';

/** A refusal the caller can act on; `field` names the body field at fault. */
export class WebhookError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const callPath = (name: string) => `/api/latest/webhook/${name}/call`;

export class Webhooks {
  private readonly byName = new Map<string, StoredWebhook>();

  constructor(private readonly engine: Engine) {}

  async load(): Promise<void> {
    // Webhooks stored before `allow_browsers` existed read as false: browsers stay refused.
    for (const w of await this.engine.store.listWebhooks()) {
      this.byName.set(w.name, { ...w, allow_browsers: w.allow_browsers === true });
    }
  }

  list(): WebhookRecord[] {
    return [...this.byName.values()];
  }

  /** By name or id. */
  get(nameOrId: string): WebhookRecord {
    const w = this.byName.get(nameOrId) ?? [...this.byName.values()].find((x) => x.id === nameOrId);
    if (!w) throw new WebhookError(404, `no webhook named ${nameOrId}`);
    return w;
  }

  /** The webhook a call names, if it exists. */
  find(name: string): WebhookRecord | undefined {
    return this.byName.get(name);
  }

  create(body: CreateWebhookBody): WebhookRecord {
    if (this.byName.has(body.name))
      throw new WebhookError(409, `a webhook named ${body.name} exists`, 'name');
    this.checkFlow(body.flow_name);
    const ts = new Date().toISOString();
    const w: StoredWebhook = {
      id: crypto.randomUUID(),
      ...body,
      url_path: callPath(body.name),
      created_at: ts,
      updated_at: ts,
    };
    this.byName.set(w.name, w);
    this.engine.store.putWebhook(w);
    return w;
  }

  update(nameOrId: string, patch: UpdateWebhookBody): WebhookRecord {
    const old = this.get(nameOrId);
    if (patch.name !== undefined && patch.name !== old.name && this.byName.has(patch.name)) {
      throw new WebhookError(409, `a webhook named ${patch.name} exists`, 'name');
    }
    if (patch.flow_name !== undefined) this.checkFlow(patch.flow_name);
    const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    const w: StoredWebhook = { ...old, ...defined, updated_at: new Date().toISOString() };
    w.url_path = callPath(w.name);
    this.byName.delete(old.name);
    this.byName.set(w.name, w);
    this.engine.store.putWebhook(w);
    return w;
  }

  delete(nameOrId: string): WebhookRecord {
    const w = this.get(nameOrId);
    this.byName.delete(w.name);
    this.engine.store.deleteWebhook(w.id);
    return w;
  }

  /** Whether `given` opens a webhook; constant time, so the key cannot be guessed by timing. */
  keyMatches(w: WebhookRecord, given: string | undefined): boolean {
    if (w.key === null) return true;
    if (!given) return false;
    const a = crypto.createHash('sha256').update(given).digest();
    const b = crypto.createHash('sha256').update(w.key).digest();
    return crypto.timingSafeEqual(a, b);
  }

  private checkFlow(name: string): void {
    const found = resolveFlow(this.engine.opts.flowsDir, name);
    if (!found.ok) throw new WebhookError(400, found.reason, 'flow_name');
  }
}
