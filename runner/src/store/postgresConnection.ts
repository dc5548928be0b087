/**
 * The PostgreSQL store's connections: the URL as the user gives it (checked, and shown without
 * its password), how rows are decoded, and which errors are worth another try on a new
 * connection.
 */
import pg from 'pg';

/** The database of --database / FLOWS_DATABASE cannot be used; the message says why, without a stack. */
export class PostgresOpenError extends Error {}

/** Why `url` is not a PostgreSQL URL this store can open, or undefined when it is one. */
export function checkPostgresUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL (postgres://user:password@host:5432/database)';
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    return `must start with postgres:// or postgresql://, not ${u.protocol}//`;
  return undefined;
}

/** A PostgreSQL URL as said on the command line, with its password hidden (for messages). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** An error as one line: pg's errors of a refused connection (AggregateError) have no message of their own. */
export function describeError(err: unknown): string {
  const e = err as Error & { code?: string; errors?: Error[] };
  const msg = e.message || e.errors?.map((x) => x.message).join('; ') || e.code || String(err);
  return msg.replace(/\s+/g, ' ');
}

const INT8_OID = 20;
const JSON_OID = 114;
/**
 * The store's connections neither parse json (a JSON value is read as the text it was written,
 * and parsed once, by the store) nor leave bigint as a string (every bigint of this schema —
 * seq, priority, counts — fits a double).
 */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID) return Number;
    if (oid === JSON_OID) return (v: string) => v;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

/** A client connection; `onBroken` is told when it can no longer be used. */
export async function connectClient(
  url: string,
  name: string,
  onBroken: (err?: Error) => void,
): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    types: PG_TYPES,
    application_name: name,
    connectionTimeoutMillis: 10_000,
  });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  // Without a listener, an error of an idle connection would end the process. (A failed
  // connect() rejects instead; these are for a connection that was up.)
  client.on('error', (err) => onBroken(err));
  client.on('end', () => onBroken());
  return client;
}

/**
 * Worth trying the same commit again: the connection broke (the server restarted, the network
 * dropped: `broken` says the client saw it) or the server says so (a serialization failure, a
 * deadlock with another node's commit). Any other error would fail again the same way.
 */
export function isRetryable(err: unknown, broken: boolean): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return broken;
  return (
    code.startsWith('08') || // connection exception
    code.startsWith('57P') || // admin shutdown, crash shutdown, cannot connect now
    code === '53300' || // too many connections
    code === '40001' || // serialization failure
    code === '40P01' || // deadlock detected
    /^E[A-Z]+$/.test(code) || // ECONNRESET, ECONNREFUSED, …
    broken
  );
}
