/**
 * What a store keeps of the parents whose children come through insertExecutions (an async
 * run's inputs): how many rows each still has to write, and whether its mark in bulk_inserts is
 * written (a restart in between then fails the parent: see Store.expectBulk). SqliteStore and
 * PostgresStore count the same way; only how they write the rows differs.
 */
import type { StoredExecution } from './store';

export interface BulkParent {
  /** Rows not written yet. */
  left: number;
  /** Rows in all (the mark's count). */
  rows: number;
  /** Its mark is in bulk_inserts. */
  marked: boolean;
  /** The count was given up front (expectBulk), so rows that arrive do not add to it. */
  expected: boolean;
}

export type BulkParents = Map<string, BulkParent>;

/** Counts queued bulk rows against their parents (those announced by expectBulk are counted already). */
export function countBulkRows(parents: BulkParents, recs: readonly StoredExecution[]): void {
  for (const r of recs) {
    if (!r.parent_execution_id) continue;
    const p = parents.get(r.parent_execution_id);
    if (p?.expected) continue;
    if (p) {
      p.left++;
      p.rows++;
    } else parents.set(r.parent_execution_id, { left: 1, rows: 1, marked: false, expected: false });
  }
}

/** `rows` children of `parentId` are coming (Store.expectBulk). */
export function expectBulkRows(parents: BulkParents, parentId: string, rows: number): void {
  if (rows <= 0) return;
  const p = parents.get(parentId);
  if (p) {
    p.left += rows;
    p.rows += rows;
    p.expected = true;
  } else parents.set(parentId, { left: rows, rows, marked: false, expected: true });
}
