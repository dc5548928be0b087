/**
 * A throwaway PostgreSQL server for tests, without Docker: Debian's `postgresql` binaries make a
 * data folder in a temp dir (initdb) and serve it on a free loopback port until stop(). Nothing
 * in it is meant to last, so it runs with fsync off.
 *
 * PostgreSQL refuses to run as root (CI runs as root): then the folder is given to the
 * `postgres` user and the server runs as that user (setpriv, which execs, so the pid we hold is
 * the server's own). Where PostgreSQL is not installed, findPostgres() says why, and the tests
 * skip with that reason — unless FLOWS_TEST_POSTGRES_REQUIRED is set (CI), where it is an error.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from './freePort';

export interface PostgresServer {
  /** postgres://… of the server's `postgres` database. */
  url: string;
  /** A new, empty database; its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

/** The folder of initdb and postgres, or why there is none. */
export function findPostgres(): { bin: string } | { missing: string } {
  const candidates: string[] = [];
  if (process.env.FLOWS_TEST_POSTGRES_BIN) candidates.push(process.env.FLOWS_TEST_POSTGRES_BIN);
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    for (const v of fs.readdirSync(debian).sort((a, b) => Number(b) - Number(a))) {
      candidates.push(path.join(debian, v, 'bin'));
    }
  }
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: 'pipe' }).trim());
  } catch {
    // no pg_config on PATH
  }
  const bin = candidates.find(
    (d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'postgres')),
  );
  if (bin) return { bin };
  return {
    missing:
      'PostgreSQL is not installed (no initdb/postgres in /usr/lib/postgresql/*/bin or pg_config --bindir; ' +
      'apt-get install postgresql, or set FLOWS_TEST_POSTGRES_BIN)',
  };
}

/** Set in CI: a machine without PostgreSQL fails the PostgreSQL tests instead of skipping them. */
export const postgresRequired = !!process.env.FLOWS_TEST_POSTGRES_REQUIRED;

/** How to run a command as a user PostgreSQL accepts: as ourselves, or (root) as `postgres`. */
function asServerUser(dir: string): { wrap: (cmd: string, args: string[]) => [string, string[]] } {
  if (process.getuid?.() !== 0) return { wrap: (cmd, args) => [cmd, args] };
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as');
  }
  fs.chownSync(dir, uid, gid);
  return {
    wrap: (cmd, args) => [
      'setpriv',
      ['--reuid', String(uid), '--regid', String(gid), '--init-groups', '--', cmd, ...args],
    ],
  };
}

const running = new Set<ChildProcess>();
// A test process that ends without stop() (a crash, --exit) takes its servers with it.
process.once('exit', () => {
  for (const p of running) p.kill('SIGQUIT');
});

export async function startPostgres(bin: string): Promise<PostgresServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-pg-'));
  const data = path.join(dir, 'data');
  const { wrap } = asServerUser(dir);
  const [initCmd, initArgs] = wrap(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'flows',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  execFileSync(initCmd, initArgs, { stdio: 'pipe', cwd: dir });
  const port = await freePort();
  const [cmd, args] = wrap(path.join(bin, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
  ]);
  const server = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  running.add(server);
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('database system is ready to accept connections')) {
        server.stderr!.off('data', onData);
        // Keep draining: a full pipe would stall the server.
        server.stderr!.resume();
        resolve();
      }
    };
    server.stderr!.on('data', onData);
    server.once('exit', (code) => reject(new Error(`postgres exited (${code}) while starting:\n${log}`)));
  });
  const url = `postgres://flows@127.0.0.1:${port}/postgres`;
  let n = 0;
  return {
    url,
    async createDatabase() {
      const name = `t${process.pid}_${++n}`;
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `postgres://flows@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (server.exitCode === null && server.signalCode === null) {
        // SIGINT: a fast shutdown (disconnects clients, no waiting for them).
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGINT');
        await exited;
      }
      running.delete(server);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * PostgreSQL's bin folder; where it is missing, the running test (or hook) is skipped with the
 * reason printed (this.skip(): not counted as passing), or fails when
 * FLOWS_TEST_POSTGRES_REQUIRED says it must be there.
 */
export function postgresBinOrSkip(ctx: Mocha.Context, log: (line: string) => void = console.log): string {
  const found = findPostgres();
  if ('missing' in found) {
    if (postgresRequired) throw new Error(`FLOWS_TEST_POSTGRES_REQUIRED is set, but ${found.missing}`);
    log(`    skipped: ${found.missing}`);
    ctx.skip();
  }
  return found.bin;
}

/**
 * A server for the tests of the calling describe(): started before them, stopped after (skipped
 * or failed where PostgreSQL is missing, see postgresBinOrSkip).
 */
export function usePostgres(): () => PostgresServer {
  let server: PostgresServer | undefined;
  before(async function () {
    this.timeout(60_000);
    server = await startPostgres(postgresBinOrSkip(this));
  });
  after(async () => {
    await server?.stop();
  });
  return () => server!;
}

/** One statement on a connection of its own (a test's look at, or change to, the database). */
export async function sql(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<Array<Record<string, any>>> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** The node that owns execution `id` (null: none), straight from the database. */
export async function ownerOf(url: string, id: string): Promise<string | null | undefined> {
  return (await sql(url, 'SELECT owner FROM executions WHERE id = $1', [id]))[0]?.owner;
}
