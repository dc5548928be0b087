/**
 * One runner per data folder. Two runners on one SQLite file would both run the queued
 * executions, and the second one's restart recovery would fail the first one's running ones;
 * two VS Code windows on one workspace are enough for that. So a runner owns its data folder
 * through `runner.lock`, created exclusively, naming its pid (and, once it serves, its URL and
 * token file, so that `flows list` can ask it instead of opening the database).
 *
 * A lock whose process is gone (the runner was SIGKILLed) is stale and taken over. The process
 * start time guards against a reused pid keeping a dead runner's lock alive. Reading a lock is
 * runner-client/discovery.ts, shared with the processes that look for a runner.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  LOCK_FILE,
  LockContent,
  lockOwner as ownerOf,
  ownerConnection,
  procStat,
} from '@flows/runner-client/discovery';

export { LOCK_FILE, ownerConnection, type LockContent };

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

/** The owner named by the data folder's lock, if that runner is alive (this process included). */
export function lockOwner(dataDir: string): LockContent | undefined {
  return ownerOf(dataDir, (dir) => heldHere.has(dir));
}

function readRaw(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
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
