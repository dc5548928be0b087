/**
 * Finding the runner that owns a data folder, for every process that is not that runner: the
 * extension, `flows list`/`flows run` and the runner itself before it takes a folder. A runner
 * owns its folder through `runner.lock` (runner/src/store/dataDirLock.ts writes it), naming its
 * pid, the pid's start time and, once it serves, its URL and token file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const LOCK_FILE = 'runner.lock';

export const LockContent = z.object({
  pid: z.number().int(),
  /** /proc/<pid>/stat start time (Linux); absent elsewhere. */
  start: z.string().optional(),
  started_at: z.string(),
  url: z.string().optional(),
  token_file: z.string().optional(),
});
export type LockContent = z.infer<typeof LockContent>;

/** State and start time from /proc/<pid>/stat (Linux); undefined elsewhere. */
export function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    // Fields 3 (state) and 22 (starttime), counted from after the ")" that ends the name.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: fields[19] };
  } catch {
    return undefined;
  }
}

/** The lock's owner is still running (a reused pid does not count: see `start`). */
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

/**
 * The owner named by the data folder's lock, if that runner is alive. `heldHere` answers for
 * locks of this very process, which a pid check cannot tell apart (the runner passes it).
 */
export function lockOwner(dataDir: string, heldHere?: (dir: string) => boolean): LockContent | undefined {
  const dir = path.resolve(dataDir);
  let owner: LockContent;
  try {
    owner = LockContent.parse(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')));
  } catch {
    return undefined; // no lock, or a torn one (its writer died while writing it)
  }
  if (owner.pid === process.pid) return heldHere?.(dir) ? owner : undefined;
  return isAlive(owner) ? owner : undefined;
}

/** URL and token of a serving owner (undefined for an embedded `flows run`, which has no API). */
export function ownerConnection(owner: LockContent): { url: string; token: string } | undefined {
  if (!owner.url || !owner.token_file) return undefined;
  return { url: owner.url, token: fs.readFileSync(owner.token_file, 'utf8').trim() };
}
