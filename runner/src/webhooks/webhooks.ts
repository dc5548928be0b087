/**
 * Webhooks: a name → a flow, an optional key, enabled or not. The registry lives in memory and
 * is written behind to the store; `http/webhookRoutes.ts` turns calls into executions.
 */
import crypto from 'node:crypto';
import type { CreateWebhookBody, UpdateWebhookBody, WebhookRecord } from '@flows/protocol';
import { Conflict, Invalid, NotFound } from '../engine/errors';
import type { FlowLookup } from '../engine/flowFiles';
import type { Store, StoredWebhook } from '../store/store';

/** What the registry needs: a place to keep webhooks, and to know whether a flow exists. */
export interface WebhooksDeps {
  readonly store: Pick<Store, 'listWebhooks' | 'putWebhook' | 'deleteWebhook'>;
  resolveFlow(name: string): FlowLookup;
}

export const callPath = (name: string) => `/api/latest/webhook/${name}/call`;

export class Webhooks {
  private readonly byName = new Map<string, StoredWebhook>();

  constructor(private readonly deps: WebhooksDeps) {}

  async load(): Promise<void> {
    // Webhooks stored before `allow_browsers` existed read as false: browsers stay refused.
    for (const w of await this.deps.store.listWebhooks()) {
      this.byName.set(w.name, { ...w, allow_browsers: w.allow_browsers === true });
    }
  }

  list(): WebhookRecord[] {
    return [...this.byName.values()];
  }

  /** By name or id. */
  get(nameOrId: string): WebhookRecord {
    const w = this.byName.get(nameOrId) ?? [...this.byName.values()].find((x) => x.id === nameOrId);
    if (!w) throw new NotFound(`no webhook named ${nameOrId}`);
    return w;
  }

  /** The webhook a call names, if it exists. */
  find(name: string): WebhookRecord | undefined {
    return this.byName.get(name);
  }

  create(body: CreateWebhookBody): WebhookRecord {
    if (this.byName.has(body.name)) throw new Conflict(`a webhook named ${body.name} exists`, 'name');
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
    this.deps.store.putWebhook(w);
    return w;
  }

  update(nameOrId: string, patch: UpdateWebhookBody): WebhookRecord {
    const old = this.get(nameOrId);
    if (patch.name !== undefined && patch.name !== old.name && this.byName.has(patch.name)) {
      throw new Conflict(`a webhook named ${patch.name} exists`, 'name');
    }
    if (patch.flow_name !== undefined) this.checkFlow(patch.flow_name);
    const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    const w: StoredWebhook = { ...old, ...defined, updated_at: new Date().toISOString() };
    w.url_path = callPath(w.name);
    this.byName.delete(old.name);
    this.byName.set(w.name, w);
    this.deps.store.putWebhook(w);
    return w;
  }

  delete(nameOrId: string): WebhookRecord {
    const w = this.get(nameOrId);
    this.byName.delete(w.name);
    this.deps.store.deleteWebhook(w.id);
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
    const found = this.deps.resolveFlow(name);
    if (!found.ok) throw new Invalid(found.reason, 'flow_name');
  }
}
