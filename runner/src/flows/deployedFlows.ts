/**
 * Flow records (team mode) as the runner runs them. Flows deployed to the runner
 * (PUT /api/latest/flow/<name>, POST /api/latest/flows/deploy, `flows deploy`) live in the store
 * by name, so that no node needs a copy of anyone's folder. The rule, wherever a flow is named
 * (a run, a child `this.flow(name)`, a schedule, a webhook, the runs API): a deployed flow of
 * that name first, else the `--flows` folder's file as before.
 *
 * The names and hashes are held in memory, so resolving a name stays synchronous (executions
 * are made synchronously, and a child's flow is resolved when it is made). A worker runs a
 * deployed flow from a file of this node's cache, `<data>/flow-cache/<hash>/<name>.py`, written
 * atomically once per hash: tracebacks, the debugger and its breakpoints see a real file, and the
 * Python side is the same as for a folder's flow. The file is written when this node deploys
 * the flow, or fetched from the store the first time an execution of it starts here.
 *
 * Where other nodes share the store (PostgreSQL), their deploys are seen through a version
 * number every deploy moves (Store.flowsVersion): read every FLOWS_REFRESH_MS, and before a
 * request that may start a flow (refresh()), so a flow deployed through one node runs at once
 * through another.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DeployResult, FlowInfo } from '@flows/protocol';
import { flowHash } from '@flows/runner-client/flowDeploy';
import type { FlowSummary, Store, StoredFlow } from '../store/store';
import type { FlowLookup } from '../engine/flowFiles';

/** How often a node that shares its store looks for deploys made through other nodes. */
export const FLOWS_REFRESH_MS = 2_000;

/** The cache folder of a data folder. */
export const flowCacheDir = (dataDir: string): string => path.join(dataDir, 'flow-cache');

export interface DeployedFlowsOptions {
  store: Store;
  /** Where sources are kept as files: `<dir>/<hash>/<name>.py` (flowCacheDir). */
  cacheDir: string;
  /** Other runners share the store (PostgreSQL): look for their deploys (refresh()). */
  shared: boolean;
  log: (msg: string) => void;
}

/** The API's view of a record. */
export function flowInfo(f: FlowSummary): FlowInfo {
  return { name: f.name, hash: f.hash, size: f.size, updated_at: f.updated_at, deployed_by: f.deployed_by };
}

const summary = (f: StoredFlow): FlowSummary => {
  const { source, ...rest } = f;
  return { ...rest, size: Buffer.byteLength(source, 'utf8') };
};

/** A run may name a flow with its .py; a record's name has none. */
const recordName = (name: string): string => (name.endsWith('.py') ? name.slice(0, -3) : name);

export class DeployedFlows {
  /** Name → hash of every record, as of the last look (and this node's own deploys since). */
  private hashes = new Map<string, string>();
  /** The store's flowsVersion when `hashes` was read; undefined before the first read. */
  private version?: number;
  /** Cache files known to be on disk. */
  private readonly onDisk = new Set<string>();
  /** Cache files being fetched and written, so that starts of one flow share the fetch. */
  private readonly writing = new Map<string, Promise<string>>();
  private running?: Promise<void>;
  private next?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: DeployedFlowsOptions) {}

  /**
   * Reads the records' names and hashes (before the engine restores anything), drops cached
   * files of sources no record has any more (nothing runs yet to need them), and, where the
   * store is shared, starts looking for other nodes' deploys.
   */
  async load(): Promise<void> {
    await this.reload();
    this.prune();
    if (this.opts.shared) {
      this.timer = setInterval(() => void this.refresh(), FLOWS_REFRESH_MS);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Whether deployed flows take part in resolving names here (a note for "not found"). */
  get inUse(): boolean {
    return this.opts.shared || this.hashes.size > 0;
  }

  /** The cache file of a source: `<cache>/<hash>/<name>.py`. */
  fileOf(name: string, hash: string): string {
    const file = path.join(this.opts.cacheDir, hash, ...`${name}.py`.split('/'));
    // Names are checked when deployed (protocol/flows.ts); this is the belt to those braces.
    const rel = path.relative(this.opts.cacheDir, file);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`flow name '${name}' leaves the cache`);
    return file;
  }

  isCacheFile(file: string): boolean {
    return file.startsWith(this.opts.cacheDir + path.sep);
  }

  /**
   * Where a name points when a record has it: the cache file of its source (maybe not written
   * yet: fileToRun writes it before the execution starts). Undefined: no record of that name.
   */
  resolve(name: string): FlowLookup | undefined {
    const key = recordName(name);
    const hash = this.hashes.get(key);
    return hash === undefined ? undefined : { ok: true, path: this.fileOf(key, hash) };
  }

  has(name: string): boolean {
    return this.hashes.has(recordName(name));
  }

  /**
   * The file an execution of `name` runs, as the records are now (a flow deployed again after
   * the execution was made runs as deployed when it starts), written if this node has not got
   * it; undefined when no record has the name (any more).
   */
  async fileToRun(name: string): Promise<string | undefined> {
    const key = recordName(name);
    const hash = this.hashes.get(key);
    if (hash === undefined) return undefined;
    const file = this.fileOf(key, hash);
    if (this.onDisk.has(file)) return file;
    if (fs.existsSync(file)) {
      this.onDisk.add(file);
      return file;
    }
    let fetching = this.writing.get(file);
    if (!fetching) {
      fetching = this.fetch(key).finally(() => this.writing.delete(file));
      this.writing.set(file, fetching);
    }
    return fetching;
  }

  /** The record from the store, as a cache file (the store's hash: it may be newer than ours). */
  private async fetch(name: string): Promise<string> {
    const rec = await this.opts.store.getFlow(name);
    if (!rec) {
      this.hashes.delete(name);
      throw new Error(`the deployed flow '${name}' was deleted before this execution started`);
    }
    if (flowHash(rec.source) !== rec.hash)
      throw new Error(`the stored source of flow '${name}' does not match its hash ${rec.hash}`);
    this.hashes.set(name, rec.hash);
    return this.write(name, rec.hash, rec.source);
  }

  /** Writes a source's cache file once: to a temporary file first, renamed into place. */
  private async write(name: string, hash: string, source: string): Promise<string> {
    const file = this.fileOf(name, hash);
    if (this.onDisk.has(file)) return file;
    if (!fs.existsSync(file)) {
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`;
      await fs.promises.writeFile(tmp, source, { flag: 'wx' });
      await fs.promises.rename(tmp, file);
    }
    this.onDisk.add(file);
    return file;
  }

  /**
   * Deploys flows: one transaction (all or none); a flow whose source the store has already is
   * left as it is. The cache files are written first, so a flow runs here from the moment its
   * record is committed.
   */
  async deploy(
    flows: ReadonlyArray<{ name: string; source: string }>,
    by: string | null,
  ): Promise<DeployResult> {
    const at = new Date().toISOString();
    const recs: StoredFlow[] = flows.map((f) => ({
      name: f.name,
      source: f.source,
      hash: flowHash(f.source),
      updated_at: at,
      deployed_by: by,
    }));
    for (const r of recs) await this.write(r.name, r.hash, r.source);
    const written = new Set(await this.opts.store.putFlows(recs));
    // Unchanged ones have this hash in the store too (another node's deploy may not be seen yet).
    for (const r of recs) this.hashes.set(r.name, r.hash);
    return {
      deployed: recs.filter((r) => written.has(r.name)).map((r) => r.name),
      unchanged: recs.filter((r) => !written.has(r.name)).map((r) => r.name),
    };
  }

  /** Deletes a record; its name resolves to the folder again. Undefined when there was none. */
  async remove(name: string): Promise<FlowInfo | undefined> {
    const rec = await this.opts.store.getFlow(name);
    if (!rec || !(await this.opts.store.deleteFlow(name))) return undefined;
    this.hashes.delete(name);
    return flowInfo(summary(rec));
  }

  async list(): Promise<FlowInfo[]> {
    return (await this.opts.store.listFlows()).map(flowInfo);
  }

  async get(name: string): Promise<(FlowInfo & { source: string }) | undefined> {
    const rec = await this.opts.store.getFlow(name);
    return rec && { ...flowInfo(summary(rec)), source: rec.source };
  }

  /**
   * Where the store is shared: resolves once the records here are as the store has them at the
   * call or later. A look already under way may have read the store before the caller's deploy
   * was committed, so the caller waits for the next one, which every caller meanwhile shares.
   * Never rejects: a store that cannot be read leaves the records as they were (and is logged).
   */
  refresh(): Promise<void> {
    if (!this.opts.shared) return Promise.resolve();
    this.next ??= (this.running ?? Promise.resolve()).then(() => {
      this.next = undefined;
      this.running = this.reload()
        .catch((err: unknown) => this.opts.log(`reading the deployed flows failed: ${String(err)}`))
        .finally(() => (this.running = undefined));
      return this.running;
    });
    return this.next;
  }

  private async reload(): Promise<void> {
    const version = await this.opts.store.flowsVersion();
    if (version === this.version) return;
    const list = await this.opts.store.listFlows();
    this.hashes = new Map(list.map((f) => [f.name, f.hash]));
    this.version = version;
  }

  /** Removes cache folders of hashes no record has (at start: nothing runs from them). */
  private prune(): void {
    const current = new Set(this.hashes.values());
    let entries: string[];
    try {
      entries = fs.readdirSync(this.opts.cacheDir);
    } catch {
      return; // no cache yet
    }
    for (const entry of entries) {
      if (current.has(entry)) continue;
      try {
        fs.rmSync(path.join(this.opts.cacheDir, entry), { recursive: true, force: true });
      } catch (err) {
        this.opts.log(`could not remove the cached flow sources ${entry}: ${String(err)}`);
      }
    }
  }
}
