/**
 * What the runner keeps, behind an interface narrow enough for a second backend (PostgreSQL for
 * teams). Writes are fire-and-forget and may be grouped into one transaction by the backend;
 * reads see every write made before them. Reads are async so a networked backend fits.
 */
import type { ExecutionRecord, ListExecutionsQuery, LogLine, MessageRecord } from '../../../protocol';

/** The record plus what only the runner needs to carry across a restart. */
export interface StoredExecution extends ExecutionRecord {
  /** Status to go back to when a user-paused execution is resumed. */
  paused_from: ExecutionRecord['status'] | null;
}

export interface Store {
  /** Insert or replace the whole row. */
  putExecution(rec: StoredExecution): void;
  getExecution(id: string): Promise<StoredExecution | undefined>;
  listExecutions(q: ListExecutionsQuery): Promise<{ items: StoredExecution[]; total: number }>;
  /** Every execution not in an ended status, oldest first (used on start-up). */
  listUnfinished(): Promise<StoredExecution[]>;
  /** Ids of all descendants of an execution, any depth. */
  listDescendantIds(id: string): Promise<string[]>;

  appendLog(line: LogLine): void;
  getLog(executionId: string, after: number, limit: number): Promise<LogLine[]>;
  lastLogSeq(executionId: string): Promise<number>;

  getSetting(name: string): Promise<{ value: unknown } | undefined>;
  putSetting(name: string, value: unknown): void;
  deleteSetting(name: string): Promise<boolean>;

  putMessage(msg: MessageRecord): void;
  getMessage(id: string): Promise<MessageRecord | undefined>;
  listMessages(opts: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]>;

  /** Write everything queued so far; resolves when it is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
