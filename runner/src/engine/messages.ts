/**
 * Forms a flow shows the user (`system.message`): made by the flow, answered over the REST API,
 * waited for by the flow (which is BLOCKED meanwhile: see waits.ts).
 */
import crypto from 'node:crypto';
import type { MessageRecord } from '@flows/protocol';
import type { Store } from '../store/store';
import type { Cluster } from './cluster';
import { Conflict, NotFound } from './errors';
import type { EngineEventSink } from './events';

export interface NewMessage {
  subject: string;
  body?: unknown;
  message_type?: string | null;
}

export class Messages {
  /** Flows waiting for an answer, by message id. */
  private readonly waiters = new Map<string, Array<(msg: MessageRecord) => void>>();

  constructor(
    private readonly store: Pick<Store, 'putMessage' | 'getMessage' | 'listMessages'>,
    private readonly events: EngineEventSink,
    /** Team mode: an answer may be given through another node (cluster.ts). */
    private readonly cluster?: Pick<Cluster, 'waitForAnswer'>,
  ) {}

  create(executionId: string, p: NewMessage): MessageRecord {
    const msg: MessageRecord = {
      id: crypto.randomUUID(),
      execution_id: executionId,
      subject: p.subject,
      body: p.body ?? null,
      message_type: p.message_type ?? 'POPUP',
      response: null,
      created_at: new Date().toISOString(),
      responded_at: null,
    };
    this.store.putMessage(msg);
    this.events.emit('message', 'created', msg);
    return msg;
  }

  get(id: string): Promise<MessageRecord | undefined> {
    return this.store.getMessage(id);
  }

  list(q: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]> {
    return this.store.listMessages(q);
  }

  async answer(id: string, response: Record<string, unknown>): Promise<MessageRecord> {
    const msg = await this.store.getMessage(id);
    if (!msg) throw new NotFound(`no message ${id}`);
    if (msg.responded_at) throw new Conflict(`message ${id} was already answered`);
    const answered: MessageRecord = { ...msg, response, responded_at: new Date().toISOString() };
    this.store.putMessage(answered);
    this.events.emit('message', 'answered', answered);
    for (const w of this.waiters.get(id) ?? []) w(answered);
    this.waiters.delete(id);
    return answered;
  }

  /** Resolves with the message once it is answered (the caller checked it was not yet). */
  answered(id: string): Promise<MessageRecord> {
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
      const elsewhere = (msg: MessageRecord | undefined) => {
        if (!msg?.responded_at) return;
        const left = (this.waiters.get(id) ?? []).filter((w) => w !== resolve);
        if (left.length) this.waiters.set(id, left);
        else this.waiters.delete(id);
        resolve(msg);
      };
      // An answer that came between the caller's check and now has told no one: the store has
      // it (answer() writes it before it wakes waiters, and reads see earlier writes).
      void this.store.getMessage(id).then(elsewhere);
      // Team mode: or one given through another node.
      void this.cluster?.waitForAnswer(id).then(elsewhere);
    });
  }
}
