/**
 * The Executions view: the ExecutionModel drawn as a tree, kept live by runner events. Changes
 * are collected and drawn at most every FLUSH_MS, so a burst of thousands of events costs a few
 * redraws rather than thousands.
 */
import * as vscode from 'vscode';
import { isEnded, type ExecutionRecord } from '@flows/protocol';
import { readConfig } from '../config';
import { messageOf } from '../log';
import type { RunnerConnection, RunnerService } from '../runner/runnerService';
import { ExecutionItem, LOAD_MORE_PREFIX, LoadMoreItem, loadMoreId } from './executionItems';
import { ExecutionModel, ROOT, type Changed, type ExecutionFilter } from './executionModel';
import { ExpandedRows } from './expandedRows';

/** Which executions wait for an answer to a form (MessagePrompts knows). */
export interface OpenForms {
  isWaiting(executionId: string): boolean;
  readonly onDidChangeOpenForms: vscode.Event<string>;
}

const FLUSH_MS = 120;
/** The longest a reveal holds redraws back. */
const REVEAL_WAIT_MS = 2000;
/** Running rows whose "running 12 s" is redrawn each second; more than this and they wait. */
const MAX_TICKING = 200;
/** Trees up to this size are loaded whole when their top execution is expanded. */
const TREE_LIMIT = 500;

export class ExecutionTree implements vscode.TreeDataProvider<string>, vscode.Disposable {
  readonly model = new ExecutionModel();
  readonly view: vscode.TreeView<string>;
  private readonly changes = new vscode.EventEmitter<string | string[] | undefined>();
  readonly onDidChangeTreeData = this.changes.event;
  private readonly dirty = new Set<Changed>();
  private flushTimer: NodeJS.Timeout | undefined;
  /**
   * Reveals in flight. Redraws wait for them: VS Code 1.100's tree registers the rows it fetches
   * for a reveal and for a redraw separately, and the two overlapping fail with "Element with id
   * … is already registered" (microsoft/vscode#192055), leaving the run drawn without children.
   */
  private revealing = 0;
  private ticker: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  /** Selected the next time the view is shown (see revealWhenShown). */
  private pendingReveal: ExecutionRecord | undefined;
  /** Events that arrive while a page is loading, applied on top of it. */
  private heldBack: ExecutionRecord[] | undefined;
  /**
   * The same for each load of children in flight: a child created after the runner read the
   * list, but announced before the list's answer came, is in neither without this.
   */
  private readonly childLoads = new Set<ExecutionRecord[]>();
  private readonly expandedRows = new ExpandedRows(
    this.model,
    async (id) => {
      const conn = this.runner.connection;
      if (conn) await this.loadChildren(conn, id);
    },
    (id) => this.markDirty(id),
  );
  /**
   * Runs revealed (by Run) before they had a child: each is expanded by revealing its first
   * child when that arrives, rather than expanded empty. VS Code can keep the first, empty
   * answer of a row expanded while it had no children (the end-to-end suite saw it: a run
   * showed no children under it), while a revealed child is always asked for with its parent.
   */
  private readonly expandOnFirstChild = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly runner: RunnerService,
    private readonly forms: OpenForms,
  ) {
    this.view = vscode.window.createTreeView('flows.executions', {
      treeDataProvider: this,
      showCollapseAll: true,
    });
    this.disposables.push(
      this.view,
      this.changes,
      this.view.onDidChangeVisibility(({ visible }) => {
        this.updateTicker();
        const pending = this.pendingReveal;
        this.pendingReveal = undefined;
        if (visible && pending) void this.reveal(pending, false);
      }),
      this.view.onDidExpandElement(({ element }) => void this.expandedRows.expanded(element)),
      // Closed by the user before its first child came: it stays closed.
      this.view.onDidCollapseElement(({ element }) => this.expandOnFirstChild.delete(element)),
      runner.onDidChangeState(() => this.refresh()),
      runner.executions.onDidChange(({ record }) => this.onRecord(record)),
      // A row waiting for an answer offers "Answer Form".
      forms.onDidChangeOpenForms((id) => this.model.get(id) && this.markDirty(id)),
      // After a reconnect (or on a new runner) the events in between are lost: load again.
      runner.session.onDidConnect(() => this.refresh()),
    );
    this.refresh();
  }

  /** Reloads everything (the first page of top-level executions, and children when expanded). */
  refresh(): void {
    this.model.loaded = false;
    this.expandedRows.reset();
    this.markDirty(ROOT);
  }

  setFilter(filter: ExecutionFilter): void {
    this.model.filter = filter;
    const parts = [
      ...(filter.statuses ?? []).map((s) => s.toLowerCase()),
      filter.flowName,
      filter.mode,
    ].filter(Boolean);
    this.view.description = parts.length ? `filtered: ${parts.join(', ')}` : undefined;
    void vscode.commands.executeCommand('setContext', 'flows.executions.filtered', parts.length > 0);
    this.refresh();
  }

  /** Shows a record the user just started, before (or after) its event arrives. */
  async reveal(rec: ExecutionRecord, expand = true): Promise<void> {
    // A view shown for the first time (F5 before the Flows view was ever opened) has not loaded
    // its list yet: load it, or there is nothing to select.
    const conn = this.runner.connection;
    if (!this.model.loaded && conn) await this.load(conn).catch(() => undefined);
    else if (this.loading) await this.loading;
    if (this.model.loaded) this.apply(rec);
    this.flush();
    if (!this.model.get(rec.id)) return;
    const childless = expand && !this.model.knownToHaveChildren(rec.id) && !isEnded(rec.status);
    if (childless) this.expandOnFirstChild.add(rec.id);
    await this.revealRow(rec.id, { select: true, focus: false, expand: expand && !childless });
  }

  /** view.reveal, with redraws held back until it settles (see `revealing`). */
  private async revealRow(id: string, options: { select: boolean; focus: boolean; expand: boolean }) {
    this.revealing++;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.view.reveal(id, options),
        // A reveal VS Code never answers (the view went away) must not stop the redraws for good.
        new Promise((resolve) => (timer = setTimeout(resolve, REVEAL_WAIT_MS))),
      ]);
    } catch {
      // Not drawn yet (the view is hidden); nothing to reveal.
    } finally {
      clearTimeout(timer);
      this.revealing--;
      if (this.revealing === 0 && this.dirty.size)
        this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
    }
  }

  /**
   * Like reveal, but without bringing the view to the front or expanding the row: a hidden view
   * selects the record when it is next shown (for F5, where Run and Debug must stay in front).
   */
  revealWhenShown(rec: ExecutionRecord): void {
    if (this.view.visible) {
      void this.reveal(rec, false);
      return;
    }
    if (this.model.loaded) this.apply(rec);
    this.pendingReveal = rec;
  }

  private onRecord(rec: ExecutionRecord): void {
    for (const held of this.childLoads) held.push(rec);
    if (this.heldBack) this.heldBack.push(rec);
    else this.apply(rec);
  }

  private apply(rec: ExecutionRecord): void {
    for (const c of this.model.apply(rec)) this.markDirty(c);
    const parent = rec.parent_execution_id;
    if (parent && this.expandOnFirstChild.delete(parent) && this.model.get(parent)) {
      // Drawn first, then opened: VS Code asks for the run's children now that it has one.
      this.flush();
      void this.revealRow(parent, { select: false, focus: false, expand: true });
    } else if (this.expandOnFirstChild.has(rec.id) && isEnded(rec.status)) {
      // Ended without a child: nothing to open.
      this.expandOnFirstChild.delete(rec.id);
    }
  }

  private markDirty(c: Changed): void {
    this.dirty.add(c);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    // Drawn when the reveal settles (revealRow marks the view dirty again).
    if (this.dirty.size === 0 || this.revealing > 0) return;
    const all = this.dirty.has(ROOT);
    const ids = [...this.dirty].filter((c): c is string => c !== ROOT);
    this.dirty.clear();
    this.changes.fire(all ? undefined : ids);
    this.updateTicker();
  }

  /** While the view is visible and something runs, redraw running rows once a second. */
  private updateTicker(): void {
    const running = this.view.visible && this.model.activeIds(1).length > 0;
    if (running && !this.ticker) {
      this.ticker = setInterval(() => {
        const ids = this.model.activeIds(MAX_TICKING);
        if (ids.length === 0) this.updateTicker();
        else if (this.revealing === 0) this.changes.fire(ids);
      }, 1000);
    } else if (!running && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  // ---- TreeDataProvider ------------------------------------------------------------------

  getTreeItem(element: string): vscode.TreeItem {
    if (element.startsWith(LOAD_MORE_PREFIX)) {
      const parent = element.slice(LOAD_MORE_PREFIX.length) || undefined;
      const list = parent ? this.model.childrenOf(parent) : this.model.topLevel();
      return new LoadMoreItem(parent, list?.more ?? 0);
    }
    const rec = this.model.get(element);
    if (!rec) return new vscode.TreeItem('(gone)');
    // Collapsed, not Expanded, even when the children are loaded: VS Code keeps what the user
    // expanded by the row's id, and a whole tree opening by itself would bury the list.
    const state = this.model.mayHaveChildren(rec.id)
      ? vscode.TreeItemCollapsibleState.Collapsed
      : vscode.TreeItemCollapsibleState.None;
    return new ExecutionItem(rec, state, this.forms.isWaiting(rec.id));
  }

  getParent(element: string): string | undefined {
    if (element.startsWith(LOAD_MORE_PREFIX)) return element.slice(LOAD_MORE_PREFIX.length) || undefined;
    return this.model.parentOf(element);
  }

  async getChildren(element?: string): Promise<string[]> {
    const conn = this.runner.connection;
    if (!conn) return [];
    try {
      if (element === undefined) {
        if (!this.model.loaded) await this.load(conn);
        const { ids, more } = this.model.topLevel();
        this.view.message =
          ids.length === 0 && this.view.description ? 'No executions match the filter.' : undefined;
        return more ? [...ids, loadMoreId(undefined)] : [...ids];
      }
      if (element.startsWith(LOAD_MORE_PREFIX)) return [];
      let children = this.model.childrenOf(element);
      if (!children) {
        await this.loadChildren(conn, element);
        children = this.model.childrenOf(element)!;
        // Found to have none (and to start no more): redraw it without the twistie.
        if (!this.model.mayHaveChildren(element)) this.markDirty(element);
      }
      return children.more ? [...children.ids, loadMoreId(element)] : [...children.ids];
    } catch (err) {
      this.view.message = `Could not load executions: ${messageOf(err)}`;
      return [];
    }
  }

  private load(conn: RunnerConnection): Promise<void> {
    return (this.loading ??= (async () => {
      this.heldBack = [];
      try {
        const page = await conn.api.listExecutions({
          ...this.model.topQuery(),
          limit: readConfig().pageSize,
          sort: '-created_at',
        });
        this.model.reset(page);
        const held = this.heldBack;
        this.heldBack = undefined;
        held.forEach((rec) => this.model.apply(rec));
        void vscode.commands.executeCommand('setContext', 'flows.executions.empty', page.total === 0);
      } finally {
        this.heldBack = undefined;
        this.loading = undefined;
      }
    })());
  }

  /**
   * Children of `id`. For a top-level execution the whole tree comes in one request when it is not
   * too big, so every row below knows whether it has children; else one level, one page.
   */
  private async loadChildren(conn: RunnerConnection, id: string): Promise<void> {
    const held: ExecutionRecord[] = [];
    this.childLoads.add(held);
    try {
      await this.loadChildrenOnce(conn, id);
    } finally {
      this.childLoads.delete(held);
    }
    held.forEach((rec) => this.apply(rec));
  }

  private async loadChildrenOnce(conn: RunnerConnection, id: string): Promise<void> {
    const rec = this.model.get(id);
    if (rec && rec.parent_execution_id === null) {
      const tree = await conn.api.listExecutions({
        top_execution_id: id,
        sort: 'created_at',
        limit: TREE_LIMIT,
      });
      if (tree.total <= tree.items.length) {
        this.model.setTree(id, tree.items);
        return;
      }
    }
    this.model.setChildren(id, await this.childPage(conn, id, 0));
  }

  private childPage(conn: RunnerConnection, parentId: string, offset: number) {
    return conn.api.listExecutions({
      parent_execution_id: parentId,
      sort: 'created_at',
      limit: readConfig().pageSize,
      offset,
    });
  }

  /**
   * The "Load more…" row that was clicked: the selection, which VS Code may report just after
   * it runs the row's command (seen in code-server with hundreds of rows redrawn each second).
   */
  async selectedLoadMore(): Promise<string | undefined> {
    const isMore = (row: string | undefined) => row?.startsWith(LOAD_MORE_PREFIX) === true;
    if (isMore(this.view.selection[0])) return this.view.selection[0];
    return new Promise((resolve) => {
      const done = (row: string | undefined) => {
        clearTimeout(timer);
        sub.dispose();
        resolve(row);
      };
      const sub = this.view.onDidChangeSelection(({ selection }) => {
        if (isMore(selection[0])) done(selection[0]);
      });
      const timer = setTimeout(() => done(undefined), 500);
    });
  }

  /** The "Load more…" row of `parentId` (or of the top level) was clicked. */
  async loadMore(parentId: string | undefined): Promise<void> {
    const conn = this.runner.connection;
    if (!conn) return;
    if (parentId === undefined) {
      const page = await conn.api.listExecutions({
        ...this.model.topQuery(),
        limit: readConfig().pageSize,
        offset: this.model.topLevel().ids.length,
        sort: '-created_at',
      });
      this.model.appendTop(page.items, page.total);
      this.markDirty(ROOT);
    } else {
      const loaded = this.model.childrenOf(parentId)?.ids.length ?? 0;
      this.model.setChildren(parentId, await this.childPage(conn, parentId, loaded), true);
      // The whole view, not the row alone: a row whose children change under hundreds of running
      // rows redrawn each second kept its old children in code-server.
      this.markDirty(ROOT);
    }
  }

  dispose(): void {
    clearTimeout(this.flushTimer);
    clearInterval(this.ticker);
    this.disposables.forEach((d) => d.dispose());
  }
}
