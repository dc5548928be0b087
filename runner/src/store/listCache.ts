/**
 * Pages of the executions list kept until a write that could change them.
 *
 * Why: lists are polled — the VS Code views, a dashboard, a script waiting for a status — and
 * each page costs the store's thread about a millisecond at a million rows (counts, key walk,
 * JSON) plus a round trip, taken from the work of starting executions. Most writes cannot change
 * most lists: the executions of a run starting and ending do not change "status=FAILED",
 * "flow_name=x" or the top-level list. So a page is answered again from memory until a write
 * touches a row it filters on. Exact, not time-based: a page is dropped the moment a write is
 * made (before it is even committed), so a client that changes something and then lists sees
 * its change.
 *
 * Which writes drop a page: one whose row matches the page's filters now (it may have joined
 * the page, moved in it or changed its total), or may have matched them before. "Before" is
 * told by the fields the write changed (Store.putExecution's `changed`): a filter on a field it
 * did not change fails now, so it failed before. A status filter is checked against the
 * statuses the lifecycle allows before the new one (an execution that SUCCEEDED was never
 * FAILED before), so runs ending do not drop "status=FAILED".
 *
 * Only for a store this process alone writes (the threaded SQLite store): on a shared database
 * other nodes write too, and nothing here would see it.
 */
import { EXECUTION_STATUSES, type ExecutionStatus, type ListExecutionsQuery } from '@flows/protocol';
import type { ExecutionField, ListPage, StoredExecution } from './store';

type JsonPage = ListPage<{ id: string; json: string }>;

/** Pages kept; the least recently asked for goes first. */
const MAX_PAGES = 64;
/** A page bigger than this is not kept (limit=1000 pages of large records). */
const MAX_PAGE_BYTES = 256 * 1024;
/** An insert of more rows than this is taken to touch every page rather than tested row by row. */
const MAX_TESTED_ROWS = 2_000;

/** One filter of a list on one field of the row. */
interface FieldFilter {
  field: ExecutionField;
  values: ReadonlySet<unknown>;
}

interface Entry {
  filters: FieldFilter[];
  page?: JsonPage;
  /** The store's answer on its way (identical lists asked meanwhile share it). */
  pending?: Promise<JsonPage>;
  /** A write dropped it while its answer was on the way: that answer is not kept. */
  stale?: boolean;
}

/** An insert on its way into the store: its rows, or undefined when too many to test. */
interface Landing {
  recs: readonly StoredExecution[] | undefined;
}

/** The statuses an execution may have had just before it went to a status (itself included). */
export type StatusesBefore = (status: ExecutionStatus) => ReadonlySet<ExecutionStatus>;

/** Without the lifecycle (see ListCache.statusesBefore): any status may have come before. */
const ANY_BEFORE: StatusesBefore = () => new Set(EXECUTION_STATUSES);

function filtersOf(q: ListExecutionsQuery): FieldFilter[] {
  const f: FieldFilter[] = [];
  const add = (field: ExecutionField, values: unknown[] | undefined) => {
    if (values?.length) f.push({ field, values: new Set(values) });
  };
  add('status', q.status);
  add('type', q.type);
  if (q.flow_name !== undefined) add('flow_name', [q.flow_name]);
  if (q.parent_execution_id !== undefined)
    add('parent_execution_id', [q.parent_execution_id === 'none' ? null : q.parent_execution_id]);
  if (q.top_execution_id !== undefined) add('top_execution_id', [q.top_execution_id]);
  if (q.schedule_id !== undefined) add('schedule_id', [q.schedule_id]);
  if (q.is_productive !== undefined) add('is_productive', [q.is_productive]);
  return f;
}

const valueOf = (rec: StoredExecution, field: ExecutionField): unknown => {
  const v = (rec as unknown as Record<string, unknown>)[field] ?? null;
  // SQLite hands booleans back as 0/1; the query's is_productive is a boolean.
  return field === 'is_productive' ? Boolean(v) : v;
};

const matches = (filters: readonly FieldFilter[], rec: StoredExecution): boolean =>
  filters.every((f) => f.values.has(valueOf(rec, f.field)));

/** Whether the row may have matched the filters before this write (see the top of the file). */
function mayHaveMatched(
  filters: readonly FieldFilter[],
  rec: StoredExecution,
  changed: readonly ExecutionField[] | undefined,
  before: StatusesBefore,
): boolean {
  return filters.every((f) => {
    if (changed && !changed.includes(f.field)) return f.values.has(valueOf(rec, f.field));
    if (f.field === 'status') {
      for (const s of before(rec.status)) if (f.values.has(s)) return true;
      return false;
    }
    return true;
  });
}

export class ListCache {
  private readonly entries = new Map<string, Entry>();
  /** Inserts whose rows the store is still writing (see inserted). */
  private readonly landing = new Set<Landing>();
  hits = 0;
  misses = 0;
  /**
   * The engine's lifecycle (set by the runner, which assembles the engine): with it, an
   * execution that ends does not drop the pages of other ended statuses.
   */
  statusesBefore: StatusesBefore = ANY_BEFORE;

  /** The page of `q`: from memory when no write could have changed it, else from `read`. */
  async list(q: ListExecutionsQuery, read: () => Promise<JsonPage>): Promise<JsonPage> {
    const key = JSON.stringify(q);
    const known = this.entries.get(key);
    if (known && !known.stale && (known.page || known.pending)) {
      this.hits++;
      // Most recently asked for goes last (the first is dropped when full).
      this.entries.delete(key);
      this.entries.set(key, known);
      return known.page ?? known.pending!;
    }
    this.misses++;
    const entry: Entry = { filters: filtersOf(q) };
    const pending = read();
    entry.pending = pending;
    this.entries.delete(key);
    this.entries.set(key, entry);
    for (const old of this.entries.keys()) {
      if (this.entries.size <= MAX_PAGES) break;
      this.entries.delete(old);
    }
    try {
      const page = await pending;
      entry.pending = undefined;
      const bytes = page.items.reduce((n, i) => n + i.json.length, 0);
      const landing = [...this.landing].some((b) => this.touches(b, entry.filters));
      if (entry.stale || landing || bytes > MAX_PAGE_BYTES) {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      } else {
        entry.page = page;
      }
      return page;
    } catch (err) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw err;
    }
  }

  /** An execution was written (`changed`: the fields this write changed, when known). */
  written(rec: StoredExecution, changed?: readonly ExecutionField[]): void {
    for (const [key, e] of this.entries) {
      if (matches(e.filters, rec) || mayHaveMatched(e.filters, rec, changed, this.statusesBefore))
        this.drop(key, e);
    }
  }

  /**
   * New executions were inserted (no earlier state: only what they are now counts). The store
   * writes bulk rows in slices of their own and a list does not wait for them, so until they
   * have all landed (`landed`, with what this returns) a page they may belong to is not kept.
   */
  inserted(recs: readonly StoredExecution[]): object {
    const bulk = { recs: recs.length > MAX_TESTED_ROWS ? undefined : recs };
    this.landing.add(bulk);
    for (const [key, e] of this.entries) if (this.touches(bulk, e.filters)) this.drop(key, e);
    return bulk;
  }

  /** The rows of an insert are all in the store (or the store failed: nothing is trusted). */
  landed(bulk: object, ok = true): void {
    this.landing.delete(bulk as Landing);
    if (!ok) this.clear();
  }

  /** Whether rows of the insert may belong to a page with these filters (a big one: any page). */
  private touches(bulk: Landing, filters: readonly FieldFilter[]): boolean {
    return !bulk.recs || bulk.recs.some((r) => matches(filters, r));
  }

  clear(): void {
    for (const [key, e] of this.entries) this.drop(key, e);
  }

  private drop(key: string, e: Entry): void {
    // An answer on its way stays, marked, so that it is not kept when it comes.
    if (e.pending) e.stale = true;
    else this.entries.delete(key);
  }
}
