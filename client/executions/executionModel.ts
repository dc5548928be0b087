/**
 * What the Executions view shows, without VS Code: the loaded top-level executions (newest
 * first, one page at a time), the children of the ones that were expanded, and the filter.
 * Runner events are applied here; the tree only reads. Kept free of `vscode` so it is unit-tested
 * in plain Node.
 */
import { isEnded, type ExecutionRecord, type ExecutionStatus } from '@flows/protocol';

export interface ExecutionFilter {
  statuses?: ExecutionStatus[];
  flowName?: string;
  mode?: 'run' | 'try';
}

/** One page of a list: the records and how many there are in all. */
export interface Page {
  items: ExecutionRecord[];
  total: number;
}

interface Children {
  ids: string[];
  /** How many there are in all: a lower bound that events raise (see apply). */
  total: number;
  /** Children announced by events but not loaded yet (pages of "Load more" bring them). */
  unloaded: Set<string>;
}

/** Unloaded children remembered per parent; past this the "not shown yet" count stops rising. */
const MAX_UNLOADED = 10_000;

/** `undefined` = the root list changed. */
export type Changed = string | undefined;

export const ROOT = undefined;

/** Live top-level rows kept beyond what was paged in; older ones drop off (paging brings them back). */
const MAX_TOP = 2000;

export class ExecutionModel {
  private readonly records = new Map<string, ExecutionRecord>();
  private top: string[] = [];
  private topTotal = 0;
  private readonly children = new Map<string, Children>();
  /** Executions known to have children although those were not loaded (a child event arrived). */
  private readonly hasKids = new Set<string>();
  loaded = false;
  filter: ExecutionFilter = {};

  /** Stores `rec` unless a newer state of it is already known (a list answer can lag behind events). */
  private put(rec: ExecutionRecord): void {
    const old = this.records.get(rec.id);
    if (!old || old.updated_at <= rec.updated_at) this.records.set(rec.id, rec);
    // A list says when a row has no children: it shows no expand arrow that opens to nothing.
    if (rec.has_children === false && !this.children.has(rec.id))
      this.children.set(rec.id, { ids: [], total: 0, unloaded: new Set() });
  }

  /** Forgets an execution and everything loaded below it. */
  private forget(id: string): void {
    this.records.delete(id);
    this.hasKids.delete(id);
    const c = this.children.get(id);
    this.children.delete(id);
    c?.ids.forEach((child) => this.forget(child));
  }

  get(id: string): ExecutionRecord | undefined {
    return this.records.get(id);
  }

  get size(): number {
    return this.records.size;
  }

  topLevel(): { ids: readonly string[]; more: number } {
    return { ids: this.top, more: Math.max(0, this.topTotal - this.top.length) };
  }

  /** Loaded children (oldest first), or undefined when they have not been loaded. */
  childrenOf(id: string): { ids: readonly string[]; more: number } | undefined {
    const c = this.children.get(id);
    return c && { ids: c.ids, more: Math.max(0, c.total - c.ids.length) };
  }

  /** Whether a child of the execution is known (loaded, counted, or announced by an event). */
  knownToHaveChildren(id: string): boolean {
    const c = this.children.get(id);
    return (c !== undefined && (c.ids.length > 0 || c.total > 0)) || this.hasKids.has(id);
  }

  /** Whether the execution may have children: true until they were loaded and found empty. */
  mayHaveChildren(id: string): boolean {
    const rec = this.records.get(id);
    if (!rec || rec.type === 'CONNECTION') return false;
    const c = this.children.get(id);
    // One that has not ended may still start children: its row stays expandable (and expanded,
    // when Run revealed it) until it ends with none.
    if (c) return c.ids.length > 0 || c.total > 0 || !isEnded(rec.status);
    return true;
  }

  /** The query the runner filters the top-level list with. */
  topQuery(): {
    parent_execution_id: 'none';
    status?: ExecutionStatus[];
    flow_name?: string;
    is_productive?: boolean;
  } {
    const f = this.filter;
    return {
      parent_execution_id: 'none',
      status: f.statuses?.length ? f.statuses : undefined,
      flow_name: f.flowName || undefined,
      is_productive: f.mode === undefined ? undefined : f.mode === 'run',
    };
  }

  matchesFilter(rec: ExecutionRecord): boolean {
    const f = this.filter;
    if (f.statuses?.length && !f.statuses.includes(rec.status)) return false;
    if (f.flowName && rec.flow_name !== f.flowName) return false;
    if (f.mode && rec.is_productive !== (f.mode === 'run')) return false;
    return true;
  }

  /** Replaces everything with a fresh first page (after connect, refresh or a filter change). */
  reset(page: Page): void {
    this.records.clear();
    this.children.clear();
    this.hasKids.clear();
    this.top = [];
    this.topTotal = page.total;
    this.appendTop(page.items);
    this.loaded = true;
  }

  /** A further page of top-level executions; ids already shown are skipped. */
  appendTop(items: ExecutionRecord[], total?: number): void {
    const shown = new Set(this.top);
    for (const rec of items) {
      this.put(rec);
      if (!shown.has(rec.id)) this.top.push(rec.id);
    }
    if (total !== undefined) this.topTotal = Math.max(total, this.top.length);
  }

  /** Children of `parentId`, the first page (`append` false) or a further one. */
  setChildren(parentId: string, page: Page, append = false): void {
    const c = this.children.get(parentId);
    const ids = append && c ? [...c.ids] : [];
    const unloaded = c?.unloaded ?? new Set<string>();
    const shown = new Set(ids);
    for (const rec of page.items) {
      this.put(rec);
      unloaded.delete(rec.id);
      if (!shown.has(rec.id)) ids.push(rec.id);
    }
    this.children.set(parentId, { ids, unloaded, total: Math.max(page.total, ids.length + unloaded.size) });
  }

  /**
   * The whole tree below a top-level execution, all of it (`items` holds every descendant): each
   * node's children become known, so rows without children show no twistie.
   */
  setTree(topId: string, items: ExecutionRecord[]): void {
    const byParent = new Map<string, ExecutionRecord[]>();
    for (const rec of items) {
      if (rec.id === topId) this.put(rec);
      if (rec.parent_execution_id === null) continue;
      const list = byParent.get(rec.parent_execution_id) ?? [];
      list.push(rec);
      byParent.set(rec.parent_execution_id, list);
    }
    const visit = (id: string) => {
      const kids = (byParent.get(id) ?? []).sort((a, b) => a.created_at.localeCompare(b.created_at));
      this.setChildren(id, { items: kids, total: kids.length });
      kids.forEach((k) => visit(k.id));
    };
    visit(topId);
  }

  /**
   * An execution was created or changed. Returns what must be redrawn: its own id, its parent
   * (a new child), ROOT (a new top-level row), or nothing when it is not shown.
   */
  apply(rec: ExecutionRecord): Changed[] {
    if (!this.loaded) return [];
    const known = this.records.has(rec.id);
    const parent = rec.parent_execution_id;
    if (known) {
      const before = this.records.get(rec.id)!;
      this.put(rec);
      // Ended with no child ever seen, though it may have had some (their events can be missed
      // across a reconnect, and VS Code may keep an expanded row's first, empty answer): its
      // children are read again, once, and the whole view redrawn so an open row asks for them.
      // Not when the runner's end event says it has none (put() took that in).
      const c = this.children.get(rec.id);
      if (
        rec.has_children !== false &&
        !isEnded(before.status) &&
        isEnded(rec.status) &&
        c &&
        c.ids.length === 0 &&
        c.total === 0 &&
        c.unloaded.size === 0 &&
        rec.type !== 'CONNECTION'
      ) {
        this.children.delete(rec.id);
        return [ROOT];
      }
      return [rec.id];
    }
    if (parent === null) {
      if (!this.matchesFilter(rec)) return [];
      this.records.set(rec.id, rec);
      // Newest first: a new execution normally goes to the front, but events can overtake.
      const at = this.top.findIndex((id) => (this.records.get(id)?.created_at ?? '') < rec.created_at);
      if (at < 0) this.top.push(rec.id);
      else this.top.splice(at, 0, rec.id);
      this.topTotal++;
      for (const old of this.top.splice(MAX_TOP)) this.forget(old);
      return [ROOT];
    }
    const siblings = this.children.get(parent);
    if (siblings) {
      // Children are shown oldest first, a page at a time. One not loaded yet belongs after the
      // loaded ones: shown at once when every earlier one is, else counted in "Load more", whose
      // pages bring it in its place. An event does not say whether the child is new or one the
      // page's total already counted (a batch announces its children when they start), so the
      // total only rises to what is known to exist.
      if (siblings.ids.length >= siblings.total && siblings.unloaded.size === 0) {
        this.records.set(rec.id, rec);
        siblings.ids.push(rec.id);
        siblings.total++;
        // The first child of a row that was expanded while it had none: VS Code may keep the
        // row's empty children through a refresh of the row alone (seen in code-server: a run
        // revealed at its start stayed empty under its thousand children), so redraw it all.
        return [siblings.ids.length === 1 ? ROOT : parent];
      }
      if (siblings.unloaded.has(rec.id) || siblings.unloaded.size >= MAX_UNLOADED) return [];
      siblings.unloaded.add(rec.id);
      const total = Math.max(siblings.total, siblings.ids.length + siblings.unloaded.size);
      if (total === siblings.total) return [];
      siblings.total = total;
      return [parent];
    }
    if (this.records.has(parent) && !this.hasKids.has(parent)) {
      this.hasKids.add(parent);
      return [parent];
    }
    return [];
  }

  /** The parent of a shown execution, for reveal(); undefined for top-level ones. */
  parentOf(id: string): string | undefined {
    return this.records.get(id)?.parent_execution_id ?? undefined;
  }

  /** Up to `limit` ids of shown executions that have not ended (their "running 12 s" ticks). */
  activeIds(limit: number): string[] {
    const ids: string[] = [];
    for (const rec of this.records.values()) {
      if (ids.length >= limit) break;
      if (!isEnded(rec.status)) ids.push(rec.id);
    }
    return ids;
  }
}
