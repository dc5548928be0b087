/**
 * Frame ids, variable references and source references are small integers local to each
 * worker; the DAP client needs them unique across the session. This maps
 * (execution, local id) ↔ session id. Ids are never reused, so a stale one is recognised.
 */
export interface LocalId {
  executionId: string;
  local: number;
}

export class IdMap {
  private next = 1;
  private readonly toSession = new Map<string, number>();
  private readonly toLocal = new Map<number, LocalId>();
  private readonly byExecution = new Map<string, number[]>();

  /** The session id of a worker-local id; 0 (no reference) stays 0. */
  session(executionId: string, local: unknown): number {
    if (typeof local !== 'number' || local <= 0) return 0;
    const key = `${executionId}\0${local}`;
    let id = this.toSession.get(key);
    if (id === undefined) {
      id = this.next++;
      this.toSession.set(key, id);
      this.toLocal.set(id, { executionId, local });
      let ids = this.byExecution.get(executionId);
      if (!ids) this.byExecution.set(executionId, (ids = []));
      ids.push(id);
    }
    return id;
  }

  local(id: number): LocalId | undefined {
    return this.toLocal.get(id);
  }

  /** The execution ran on (or ended): its ids are no longer valid. */
  forget(executionId: string): void {
    for (const id of this.byExecution.get(executionId) ?? []) {
      const l = this.toLocal.get(id);
      if (l) this.toSession.delete(`${executionId}\0${l.local}`);
      this.toLocal.delete(id);
    }
    this.byExecution.delete(executionId);
  }
}
