/**
 * The SQLite store's own thread (see threadedStore.ts). It holds the one connection to the
 * database and applies, in order, what the runner's main thread sends: batches of writes, and
 * calls whose answers it posts back. SqliteStore's group commits, bulk slices and WAL
 * checkpoints run here, so none of them takes the thread that serves requests and dispatches
 * executions.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqliteStore';
import { WRITE_METHODS, type StoreThreadRequest, type StoreThreadReply } from './storeThreadProtocol';

const port = parentPort!;
const post = (msg: StoreThreadReply) => port.postMessage(msg);

/** An error as it crosses the thread boundary: its kind by name, so the main side can remake it. */
function errorOf(err: unknown): { name: string; message: string } {
  return err instanceof Error
    ? { name: err.constructor.name, message: err.message }
    : { name: 'Error', message: String(err) };
}

// A failed group commit throws from a timer. On the main thread the runner's last-resort handler
// logged it and kept serving; here the thread does the same and tells the runner's log.
process.on('uncaughtException', (err) => post({ type: 'log', message: `store: ${errorOf(err).message}` }));

let store: SqliteStore;
try {
  store = new SqliteStore((workerData as { file: string }).file);
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'failed', error: errorOf(err) });
  process.exit(1);
}

const writes = new Set<string>(WRITE_METHODS);

port.on('message', (msg: StoreThreadRequest) => {
  if (msg.type === 'writes') {
    for (const [method, args] of msg.ops) {
      if (!writes.has(method)) continue;
      try {
        (store[method as keyof SqliteStore] as (...a: unknown[]) => void)(...args);
      } catch (err) {
        post({ type: 'log', message: `store: ${method} failed: ${errorOf(err).message}` });
      }
    }
    for (const { id, method } of msg.commits ?? []) {
      store[method]().then(
        () => post({ type: 'result', id }),
        (err: unknown) => post({ type: 'result', id, error: errorOf(err) }),
      );
    }
    return;
  }
  const fn = store[msg.method as keyof SqliteStore] as ((...a: unknown[]) => Promise<unknown>) | undefined;
  if (typeof fn !== 'function' || writes.has(msg.method)) {
    post({ type: 'result', id: msg.id, error: { name: 'Error', message: `no store call ${msg.method}` } });
    return;
  }
  Promise.resolve()
    .then(() => fn.apply(store, msg.args))
    .then(
      (value) => post({ type: 'result', id: msg.id, value }),
      (err: unknown) => post({ type: 'result', id: msg.id, error: errorOf(err) }),
    );
});
