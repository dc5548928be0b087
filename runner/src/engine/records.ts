/**
 * The record API of flow_api (`record.*` calls): settings, connections and any other type a
 * flow keeps by name are generic rows of the store; webhooks, schedules and messages are views
 * of what their own services keep, readable and deletable but created elsewhere.
 *
 * A record reaches Python flat: `{id, name, ...data, archived, created_at, modified_at}`.
 */
import crypto from 'node:crypto';
import { UpdateScheduleBody, UpdateWebhookBody, type MessageRecord, type RecordRef } from '@flows/protocol';
import type { RecordLookup, Store, StoredRecord } from '../store/store';
import { Invalid, NotFound } from './errors';

export type FlatRecord = Record<string, unknown>;

/** Webhooks and schedules live in services with timers and routes: changes must go through them. */
export interface RecordOwner {
  list(): Array<{ id: string; name: string }>;
  update(id: string, patch: never): unknown;
  delete(id: string): unknown;
}

/** What `record.save` may change of a webhook or schedule: the services' own update bodies. */
const VIEW_UPDATES = { webhook: UpdateWebhookBody, schedule: UpdateScheduleBody } as const;

/** The platform calls the switch `is_enabled`; the services call it `enabled`. */
function viewRecord(r: { enabled?: boolean }): FlatRecord {
  return { ...r, is_enabled: r.enabled };
}

export type ViewType = 'webhook' | 'schedule';

/** Fields the runner sets; in `record.save` fields they are ignored, so a record can round-trip. */
const RUNNER_FIELDS = new Set(['id', 'created_at', 'modified_at']);

const how = (by: RecordLookup) => (by === 'id' ? 'with id ' : '');
export const notFound = (type: string, by: RecordLookup, key: string) =>
  new NotFound(`${type} ${how(by)}'${key}' does not exist`);

export function flatRecord(r: StoredRecord): FlatRecord {
  return {
    ...r.data,
    id: r.id,
    name: r.name,
    archived: r.archived,
    created_at: r.created_at,
    modified_at: r.modified_at,
  };
}

function messageRecord(m: MessageRecord): FlatRecord {
  const { id, subject, body, message_type, response, execution_id, created_at, responded_at } = m;
  return { id, subject, body, message_type, response, execution_id, created_at, responded_at };
}

export class Records {
  /**
   * Changes run one at a time: a save reads (is the name taken?) before it writes, and two
   * calls interleaving at those awaits could write the same name twice.
   */
  private chain: Promise<unknown> = Promise.resolve();

  /**
   * `ownerOf` names the service that owns a view's records (webhooks, schedules). It is asked at
   * each use, because those services are made after the engine (they need it); without an owner
   * the store is read.
   */
  constructor(
    private readonly store: Store,
    private readonly ownerOf: (type: ViewType) => RecordOwner | undefined = () => undefined,
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  async get(ref: RecordRef): Promise<FlatRecord> {
    const found = await this.find(ref);
    if (!found) throw notFound(ref.type, ref.by, ref.key);
    return found;
  }

  async exists(ref: RecordRef): Promise<boolean> {
    return (await this.find(ref)) !== undefined;
  }

  async list(type: string, includeArchived: boolean): Promise<FlatRecord[]> {
    if (type === 'message') return (await this.store.listMessages({})).map(messageRecord);
    if (type === 'webhook' || type === 'schedule') {
      return (await this.viewList(type)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    return (await this.store.listRecords(type, { includeArchived })).map(flatRecord);
  }

  /**
   * Create or change a record. With a key, the record it names is changed (by name: created
   * when missing); without one a new record is made, named by `fields.name`. Fields are merged
   * into the existing ones; `name` renames, `archived` archives or restores.
   */
  save(p: { type: string; key?: string | null; by: RecordLookup; fields: Record<string, unknown> }) {
    this.refuseView(p.type, 'save');
    if (p.type === 'webhook' || p.type === 'schedule')
      return this.serial(() => this.saveView(p.type as ViewType, p));
    return this.serial(async () => {
      const { name: newName, archived, ...rest } = p.fields;
      const data = Object.fromEntries(Object.entries(rest).filter(([k]) => !RUNNER_FIELDS.has(k)));
      // null means "not given": Python callers pass their keyword defaults through.
      if (newName != null && (typeof newName !== 'string' || newName === '')) {
        throw new Invalid(`${p.type} name must be a non-empty string`);
      }
      if (archived != null && typeof archived !== 'boolean') {
        throw new Invalid(`${p.type} field 'archived' must be true or false`);
      }
      const old = p.key != null ? await this.store.getRecord(p.type, p.by, p.key) : undefined;
      if (!old && p.key != null && p.by === 'id') throw notFound(p.type, 'id', p.key);
      const name = (newName as string | null | undefined) ?? old?.name ?? p.key ?? undefined;
      if (name === undefined) throw new Invalid(`a new ${p.type} needs a name`);
      if (name !== old?.name && (await this.store.getRecord(p.type, 'name', name))) {
        throw new Invalid(`${p.type} '${name}' already exists`);
      }
      const ts = new Date().toISOString();
      const rec: StoredRecord = {
        id: old?.id ?? crypto.randomUUID(),
        type: p.type,
        name,
        data: { ...old?.data, ...data },
        archived: (archived as boolean | null | undefined) ?? old?.archived ?? false,
        created_at: old?.created_at ?? ts,
        modified_at: ts,
      };
      this.store.putRecord(rec);
      return flatRecord(rec);
    });
  }

  /** Changes an existing webhook or schedule through its service (timers, routes, events). */
  private async saveView(
    type: ViewType,
    p: { key?: string | null; by: RecordLookup; fields: Record<string, unknown> },
  ): Promise<FlatRecord> {
    const owner = this.ownerOf(type);
    const how =
      type === 'schedule'
        ? 'create schedules with the Schedule Flow… command or the REST API'
        : 'create webhooks with the REST API (/api/latest/webhook)';
    if (p.key == null) throw new Invalid(`record.save cannot create a ${type}: ${how}`);
    const found = await this.find({ type, by: p.by, key: p.key });
    if (!found) throw notFound(type, p.by, p.key);
    if (!owner) throw new Invalid(`${type}s can only be changed on a serving runner`);
    const { is_enabled, ...rest } = p.fields;
    const given = Object.fromEntries(
      Object.entries({ ...rest, enabled: is_enabled ?? rest.enabled }).filter(
        ([k, v]) => v != null && !RUNNER_FIELDS.has(k) && k !== 'archived',
      ),
    );
    const patch = VIEW_UPDATES[type].safeParse(given);
    if (!patch.success) {
      const issue = patch.error.issues[0];
      throw new Invalid(`${type} field '${issue.path.join('.')}': ${issue.message}`);
    }
    return viewRecord(owner.update(String(found.id), patch.data as never) as { enabled?: boolean });
  }

  delete(ref: RecordRef): Promise<boolean> {
    if (ref.type === 'message') this.refuseView('message', 'delete');
    return this.serial(async () => {
      if (ref.type === 'webhook' || ref.type === 'schedule') {
        const found = await this.find(ref);
        if (!found) return false;
        const owner = this.ownerOf(ref.type);
        if (owner) owner.delete(String(found.id));
        else if (ref.type === 'webhook') this.store.deleteWebhook(String(found.id));
        else this.store.deleteSchedule(String(found.id));
        return true;
      }
      return this.store.deleteRecord(ref.type, ref.by, ref.key);
    });
  }

  archive(ref: RecordRef): Promise<FlatRecord> {
    this.refuseView(ref.type, 'archive');
    return this.serial(async () => {
      const old = await this.store.getRecord(ref.type, ref.by, ref.key);
      if (!old) throw notFound(ref.type, ref.by, ref.key);
      const rec = { ...old, archived: true, modified_at: new Date().toISOString() };
      this.store.putRecord(rec);
      return flatRecord(rec);
    });
  }

  /** The record `ref` names, or undefined (get() refuses a missing one). */
  async find(ref: RecordRef): Promise<FlatRecord | undefined> {
    if (ref.type === 'message') {
      if (ref.by !== 'id') throw new Invalid("messages have no name: look them up by='id'");
      const m = await this.store.getMessage(ref.key);
      return m && messageRecord(m);
    }
    if (ref.type === 'webhook' || ref.type === 'schedule') {
      const all = await this.viewList(ref.type);
      return all.find((r) => (ref.by === 'id' ? r.id === ref.key : r.name === ref.key));
    }
    const r = await this.store.getRecord(ref.type, ref.by, ref.key);
    return r && flatRecord(r);
  }

  private async viewList(type: ViewType): Promise<Array<FlatRecord & { id: string; name: string }>> {
    const owner = this.ownerOf(type);
    const flat = (r: { id: string; name: string; enabled?: boolean }) => ({
      ...viewRecord(r),
      id: r.id,
      name: r.name,
    });
    if (owner) return owner.list().map(flat);
    // No scheduler in an embedded runner (`flows run`): the stored schedules are what there is.
    if (type === 'webhook') return (await this.store.listWebhooks()).map(flat);
    return (await this.store.listSchedules()).map(({ anchor_at: _a, inputs: _i, ...s }) => flat(s));
  }

  private refuseView(type: string, what: 'save' | 'delete' | 'archive'): void {
    if (type === 'message') {
      throw new Invalid(`messages cannot be changed with record.${what}: use message.create`);
    }
    if ((type !== 'webhook' && type !== 'schedule') || what !== 'archive') return;
    throw new Invalid(`${type}s cannot be archived: disable (save(is_enabled=False)) or delete them`);
  }
}
