/**
 * `flows token create|revoke|list`: users' API tokens (http/userTokens.ts), in the store that
 * `flows serve` with the same --data / --database uses.
 *
 * - PostgreSQL (--database or $FLOWS_DATABASE): a connection of its own writes the database
 *   directly, whether nodes run or not (it is no node: it registers and owns nothing), and
 *   every node sees the change at its next lookup.
 * - SQLite (the data folder's flows.db): a serving runner has the file open exclusively, so the
 *   command asks that runner over REST with the folder's own token; with no runner it opens the
 *   file itself, holding the folder's lock meanwhile.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreatedUserToken, RevokedUserToken, UserTokenList, type UserToken } from '@flows/protocol';
import { RunnerApi, RunnerRequestError } from '@flows/runner-client/runnerApi';
import { Conflict, Invalid, NotFound } from '../engine/errors';
import { createUserToken, revokeUserToken, type TokenAdmin } from '../http/userTokens';
import { DataDirLock, lockOwner, ownerConnection } from '../store/dataDirLock';
import { migrate } from '../store/postgresMigrations';
import {
  checkPostgresUrl,
  connectClient,
  describeError,
  PostgresOpenError,
  redactUrl,
} from '../store/postgresConnection';
import * as pgTeam from '../store/postgresTeam';
import { SqliteStore } from '../store/sqliteStore';

export const TOKEN_USAGE = `  flows token create NAME [--data DIR | --database URL] [--flows DIR] [--json]
  flows token revoke NAME [--data DIR | --database URL] [--flows DIR]
  flows token list [--data DIR | --database URL] [--flows DIR] [--json]
      Users' API tokens, one per user, for a runner others reach (team mode). create prints
      the new token once (only its SHA-256 is stored); a request with it is that user's, and
      the executions it starts record the name as started_by. revoke: every node refuses the
      token within a second. list: names, when made, when last used (never a token). The
      store is the one flows serve uses with the same --database (or $FLOWS_DATABASE), else
      the data folder's SQLite file (through its runner, when one serves it). NAME: letters,
      digits and . _ @ - (no spaces), at most 64; "local" is the runner's own token's user.`;

/** A usage error (exit code 2), as commands.ts's. */
export class TokenUsageError extends Error {}

/** What the subcommands need, wherever the tokens are. */
interface Tokens {
  create(name: string): Promise<CreatedUserToken>;
  revoke(name: string): Promise<void>;
  list(): Promise<UserToken[]>;
  close(): Promise<void>;
}

/** The tokens of a store opened here (SQLite file, or PostgreSQL). */
function local(admin: TokenAdmin, close: () => Promise<void>): Tokens {
  return {
    create: (name) => createUserToken(admin, name),
    revoke: (name) => revokeUserToken(admin, name),
    list: () => admin.listUserTokens(),
    close,
  };
}

async function postgres(url: string, source: string): Promise<Tokens> {
  const bad = checkPostgresUrl(url);
  if (bad) throw new TokenUsageError(`${source} ${bad}`);
  let client: Awaited<ReturnType<typeof connectClient>>;
  try {
    client = await connectClient(url, 'flows token', () => undefined);
  } catch (err) {
    throw new PostgresOpenError(
      `${source}: cannot connect to PostgreSQL at ${redactUrl(url)}: ${describeError(err)}`,
    );
  }
  try {
    // A database no node has started on yet gets its schema now, as a node's start would.
    await migrate(client);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new PostgresOpenError(`${source}: cannot prepare the PostgreSQL database: ${describeError(err)}`);
  }
  const c = client;
  return local(
    {
      createUserToken: (t) => pgTeam.createUserToken(c, t),
      revokeUserToken: (name) => pgTeam.revokeUserToken(c, name),
      listUserTokens: () => pgTeam.listUserTokens(c),
    },
    () => c.end(),
  );
}

/** Through the runner that has the folder's database open. */
function remote(url: string, token: string): Tokens {
  const api = new RunnerApi(url, token);
  return {
    create: (name) => api.request('POST', '/api/latest/token', CreatedUserToken, { name }),
    revoke: async (name) => {
      await api.request('DELETE', `/api/latest/token/${encodeURIComponent(name)}`, RevokedUserToken);
    },
    list: async () => (await api.request('GET', '/api/latest/token', UserTokenList)).items,
    close: async () => undefined,
  };
}

function sqlite(dataDir: string, create: boolean): Tokens | undefined {
  const owner = lockOwner(dataDir);
  if (owner) {
    const conn = ownerConnection(owner);
    if (!conn)
      throw new Error(
        `${dataDir} is in use by a running \`flows run\` (pid ${owner.pid}); try again when it has ended.`,
      );
    return remote(conn.url, conn.token);
  }
  const dbFile = path.join(dataDir, 'flows.db');
  // Nothing to list or revoke in a folder no runner has used: no need to make its database.
  if (!create && !fs.existsSync(dbFile)) return undefined;
  const lock = DataDirLock.acquire(dataDir);
  let store: SqliteStore;
  try {
    store = new SqliteStore(dbFile);
  } catch (err) {
    lock.release();
    throw err;
  }
  return local(store, async () => {
    await store.close();
    lock.release();
  });
}

export async function token(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      flows: { type: 'string' },
      data: { type: 'string' },
      database: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const [sub, ...names] = positionals;
  if (sub !== 'create' && sub !== 'revoke' && sub !== 'list')
    throw new TokenUsageError(
      sub === undefined ? 'flows token needs create, revoke or list' : `unknown token command '${sub}'`,
    );
  if (sub === 'list' ? names.length > 0 : names.length !== 1)
    throw new TokenUsageError(
      sub === 'list' ? 'flows token list takes no NAME' : `flows token ${sub} needs exactly one NAME`,
    );
  const name = names[0];
  const database = values.database ?? (process.env.FLOWS_DATABASE || undefined);
  const source = values.database !== undefined ? '--database' : 'FLOWS_DATABASE';
  const dataDir = path.resolve(values.data ?? path.join(values.flows ?? process.cwd(), '.flows'));
  const tokens =
    database !== undefined ? await postgres(database, source) : sqlite(dataDir, sub === 'create');
  const out = (text: string) => process.stdout.write(`${text}\n`);
  try {
    if (sub === 'list') {
      const items = tokens ? await tokens.list() : [];
      if (values.json) out(JSON.stringify({ items }, null, 2));
      else printTokens(items, out);
    } else if (sub === 'create') {
      const made = await tokens!.create(name);
      if (values.json) out(JSON.stringify(made, null, 2));
      else {
        out(made.token);
        process.stderr.write(
          `flows: a token for ${made.name}, shown only this once (the runner keeps its hash, not the token). ` +
            'Send it as "Authorization: Bearer <token>", or give it to "Flows: Connect to a Team Runner…".\n',
        );
      }
    } else {
      if (!tokens) throw new NotFound(`no user named ${JSON.stringify(name)} has a token`, 'name');
      await tokens.revoke(name);
      out(`revoked ${name}'s token: every runner node refuses it within a second`);
    }
    return 0;
  } catch (err) {
    // The field a refusal names is NAME on this command line.
    if (err instanceof Invalid) throw new TokenUsageError(`NAME: ${err.message}`, { cause: err });
    if (err instanceof NotFound || err instanceof Conflict)
      throw new Error(`NAME: ${err.message}`, { cause: err });
    // The same refusals, from a runner: `name: …` in its terms.
    if (err instanceof RunnerRequestError && err.message.startsWith('name: ')) {
      const message = `NAME: ${err.message.slice('name: '.length)}`;
      throw err.status === 400
        ? new TokenUsageError(message, { cause: err })
        : new Error(message, { cause: err });
    }
    throw err;
  } finally {
    await tokens?.close();
  }
}

function printTokens(items: readonly UserToken[], out: (text: string) => void): void {
  if (items.length === 0) {
    out('No user tokens. Make one with: flows token create NAME');
    return;
  }
  const when = (ts: string | null) => (ts ? ts.replace('T', ' ').slice(0, 19) : 'never');
  const rows = items.map((t) => [t.name, when(t.created_at), when(t.last_used_at)]);
  const header = ['NAME', 'CREATED (UTC)', 'LAST USED (UTC)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows])
    out(
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
}
