/**
 * Rows the user (or a Run that revealed its execution) expanded get their children read from the
 * runner once more, and are redrawn. VS Code may keep an expanded row's first answer — empty when
 * the run had just started, or lost in its batching of children requests (`TreeDataSource` in
 * VS Code's treeView.ts answers a request from a later batch when one starts between its
 * timeouts) — and the end-to-end suite saw a run expanded at its start show no children (2 in
 * ~12 runs). Kept free of `vscode` (unit-tested).
 */
import type { ExecutionModel } from './executionModel';

export class ExpandedRows {
  /** Rows read again since the last reload of the view: once each. */
  private readonly reread = new Set<string>();

  constructor(
    private readonly model: ExecutionModel,
    /** Reads the children of a row from the runner into the model. */
    private readonly load: (id: string) => Promise<void>,
    /** Redraws a row, so VS Code asks for its children again. */
    private readonly redraw: (id: string) => void,
  ) {}

  /** A row was expanded: read its children again, once, and redraw it. */
  async expanded(id: string): Promise<void> {
    // (A "Load more…" row is no execution: the model does not know it.)
    if (this.reread.has(id) || !this.model.mayHaveChildren(id)) return;
    this.reread.add(id);
    try {
      await this.load(id);
    } catch {
      // The runner went away; the next connect reloads the whole view.
      this.reread.delete(id);
      return;
    }
    if (this.model.get(id)) this.redraw(id);
  }

  /** The view was reloaded: expanding a row reads it again. */
  reset(): void {
    this.reread.clear();
  }
}
