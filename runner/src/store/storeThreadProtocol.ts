/**
 * Messages between the runner's main thread (ThreadedStore) and the store's thread
 * (storeThread.ts). One port carries both directions in order, so a call sees every write sent
 * before it.
 */

/** The Store methods that write and answer nothing: sent in batches, once per turn. */
export const WRITE_METHODS = [
  'putExecution',
  'appendLog',
  'appendRecording',
  'putRecord',
  'putMessage',
  'insertExecutions',
  'expectBulk',
  'putSchedule',
  'putScheduleInputs',
  'deleteSchedule',
  'putWebhook',
  'deleteWebhook',
  'putRun',
] as const;
export type WriteMethod = (typeof WRITE_METHODS)[number];

export type StoreThreadRequest =
  | {
      type: 'writes';
      ops: Array<[WriteMethod, unknown[]]>;
      /** After the writes: calls of Store.committed() / durable(), each answered as a 'result'. */
      commits?: Array<{ id: number; method: 'committed' | 'durable' }>;
    }
  | { type: 'call'; id: number; method: string; args: unknown[] };

export type StoreThreadReply =
  | { type: 'ready' }
  | { type: 'failed'; error: { name: string; message: string } }
  | { type: 'result'; id: number; value?: unknown; error?: { name: string; message: string } }
  | { type: 'log'; message: string };
