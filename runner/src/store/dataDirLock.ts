/**
 * One runner per data folder. Two runners on one SQLite file would both run the queued
 * executions, and the second one's restart recovery would fail the first one's running ones;
 * two VS Code windows on one workspace are enough for that. So a runner owns its data folder
 * through `runner.lock`, created exclusively, naming its pid (and, once it serves, its URL and
 * token file, so that `flows list` can ask it instead of opening the database).
 *
 * A lock whose process is gone (the runner was SIGKILLed) is stale and taken over. The process
 * start time guards against a reused pid keeping a dead runner's lock alive.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const LOCK_FILE = 'runner.lock';

const LockContent = z.object({
  pid: z.number().int(),
  /** /proc/<pid>/stat start time (Linux); absent elsewhere. */
  start: z.string().optional(),
  started_at: z.string(),
  url: z.string().optional(),
  token_file: z.string().optional(),
});
export type LockContent = z.infer<typeof LockContent>;

export class DataDirBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockContent,
  ) {
    super(
      `${dataDir} is in use by another Flows runner (pid ${owner.pid}${owner.url ? `, serving ${owner.url}` : ''}). ` +
        'Stop that runner, or give this one its own folder with --data.',
    );
  }
}

/** Data folders held by this process (a pid check cannot tell two runners of one process apart). */
const heldHere = new Set<string>();

/** State and start time from /proc/<pid>/stat (Linux); undefined elsewhere. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    // Fields 3 (state) and 22 (starttime), counted from after the ")" that ends the name.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: fields[19] };
  } catch {
    return undefined;
  }
}

function readRaw(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function isAlive(owner: LockContent): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const stat = procStat(owner.pid);
  if (!stat) return true; // no /proc: the pid check is all there is
  // A killed runner whose parent does not reap it stays a zombie: gone all the same.
  return stat.state !== 'Z' && stat.state !== 'X' && (!owner.start || stat.start === owner.start);
}

/** The owner named by the data folder's lock, if that runner is alive. */
export function lockOwner(dataDir: string): LockContent | undefined {
  const dir = path.resolve(dataDir);
  let owner: LockContent;
  try {
    owner = LockContent.parse(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')));
  } catch {
    return undefined; // no lock, or a torn one (its writer died while writing it)
  }
  if (owner.pid === process.pid) return heldHere.has(dir) ? owner : undefined;
  return isAlive(owner) ? owner : undefined;
}

/** URL and token of a serving owner (undefined for an embedded `flows run`, which has no API). */
export function ownerConnection(owner: LockContent): { url: string; token: string } | undefined {
  if (!owner.url || !owner.token_file) return undefined;
  return { url: owner.url, token: fs.readFileSync(owner.token_file, 'utf8').trim() };
}

export class DataDirLock {
  private released = false;
  private content: LockContent;
  private readonly onExit = () => this.release();

  private constructor(
    readonly dataDir: string,
    content: LockContent,
  ) {
    this.content = content;
    // A runner that exits without stop() (an uncaught error) must not leave its lock behind.
    process.on('exit', this.onExit);
  }

  /** Takes the folder, or throws DataDirBusyError naming the runner that has it. */
  static acquire(dataDir: string): DataDirLock {
    const dir = path.resolve(dataDir);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, LOCK_FILE);
    const content: LockContent = {
      pid: process.pid,
      start: procStat(process.pid)?.start,
      started_at: new Date().toISOString(),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(file, JSON.stringify(content), { flag: 'wx', mode: 0o600 });
        heldHere.add(dir);
        return new DataDirLock(dir, content);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const stale = readRaw(file);
      const owner = lockOwner(dir);
      if (owner) throw new DataDirBusyError(dir, owner);
      // Stale: its runner is gone. Remove exactly that lock (not one another runner has just
      // written in its place); then exactly one of the racing exclusive creates succeeds.
      if (readRaw(file) === stale) fs.rmSync(file, { force: true });
    }
    throw new Error(`cannot take ${file}: it keeps coming back`);
  }

  /** Adds what other processes need to reach this runner (its URL and token file). */
  update(fields: Pick<LockContent, 'url' | 'token_file'>): void {
    if (this.released) return;
    this.content = { ...this.content, ...fields };
    const file = path.join(this.dataDir, LOCK_FILE);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.content), { mode: 0o600 });
    fs.renameSync(tmp, file); // atomic: a reader never sees half a lock
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    heldHere.delete(this.dataDir);
    const file = path.join(this.dataDir, LOCK_FILE);
    try {
      const now = LockContent.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
      if (now.pid === process.pid && now.started_at === this.content.started_at) fs.rmSync(file);
    } catch {
      // already gone, or taken over: not ours to remove
    }
  }
}
