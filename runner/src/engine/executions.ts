/**
 * The executions service: what the rest of the runner may do with executions. Routes, runs,
 * schedules, webhooks and the debug relay get these interfaces (the engine implements them) and
 * nothing else of the engine: no in-memory state, no store, no options. Each caller takes the
 * parts it needs: Executions, plus ExecutionOwnership for the owners of virtual executions, plus
 * DebugTargets for the debug relay.
 */
import type {
  CreateExecutionBody,
  ExecutionRecord,
  ExecutionStatus,
  ExecutionType,
  ListExecutionsQuery,
  LogLine,
  MessageRecord,
  WorkerIsolation,
} from '@flows/protocol';
import type { ListPage, StoredExecution } from '../store/store';
import type { ControlOp } from './cluster';
import type { EngineEventSource } from './events';
import type { FlowLookup } from './flowFiles';

/** Replay mode (tests made from runs) is set up through these: see recording.ts. */
export type { ReplayedEnd, ReplayedRecord, ReplayHooks } from './recording';
/** Team mode: what the engine asks of the cluster of nodes, and their answers (cluster.ts). */
export type { Cluster, ControlOp, ControlOutcome, RefusalKind, Refused } from './cluster';

/** A new execution, from the REST API, the CLI, a service or a running flow. */
export interface NewExecution {
  type: ExecutionType;
  flow_name?: string | null;
  script?: string | null;
  connector_name?: string | null;
  connector_type?: string | null;
  name?: string | null;
  input_value?: unknown;
  is_productive?: boolean;
  priority?: number;
  max_runtime_minutes?: number;
  scheduled_for?: string | null;
  schedule_id?: string | null;
  webhook_id?: string | null;
  start?: boolean;
  /** The data of the `connection` record named connector_name, looked up by the caller. */
  connection?: Record<string, unknown>;
  /**
   * 'process': run in a fresh process, not a pooled worker (WorkerJob.isolation). Kept in
   * memory only: after a restart a queued execution runs wherever the runner's setting says.
   */
  isolation?: WorkerIsolation;
  /**
   * Who starts it (ExecutionRecord.started_by): the user of the API token, `schedule <name>`,
   * `webhook <name>`. Default: the parent's, else "local" (the runner's own token, the CLI).
   */
  started_by?: string;
  /** The line of the flow that made this child (replay mode reports calls that differ there). */
  caller?: { file: string; line: number } | null;
}

/** The FLOW children of an async run (one per input). */
export interface ChildrenSpec {
  flow_name: string;
  name?: string;
  priority?: number;
  max_runtime_minutes?: number;
}

/** What an owner sets on its virtual execution: it has no process to report a status. */
export type VirtualPatch = Partial<Pick<StoredExecution, 'status' | 'message' | 'started_at'>>;

export interface Executions extends EngineEventSource {
  /** Create an execution; `parentId` is an active execution it runs below. */
  create(spec: NewExecution, parentId?: string): ExecutionRecord;
  /** `startedBy`: the user of the request's token (NewExecution.started_by). */
  createFromApi(body: CreateExecutionBody, startedBy?: string): ExecutionRecord;
  /** Start an execution that was created with start=false. */
  start(id: string): ExecutionRecord;
  /** Stop an execution and everything below it; an ended one is answered as it is. */
  cancel(id: string, reason?: string): Promise<ExecutionRecord>;
  pause(id: string): ExecutionRecord;
  resume(id: string): ExecutionRecord;
  /**
   * Team mode (cluster.ts): `op` on an execution another node holds, done by that node, as the
   * record is after it; undefined when it is this node's to do (then call the method of `op`).
   * Throws the owner's refusal, or Unavailable when it did not answer in time.
   */
  elsewhere?(op: ControlOp, id: string, reason?: string): Promise<ExecutionRecord | undefined>;

  get(id: string): Promise<ExecutionRecord | undefined>;
  /** A page of executions, with those that have not ended as the engine holds them now. */
  list(q: ListExecutionsQuery): Promise<ListPage<ExecutionRecord>>;
  /** The same page as JSON text, when the store can make it without parsing rows. */
  listJson(q: ListExecutionsQuery): Promise<string | undefined>;
  log(id: string, after: number, limit: number): Promise<LogLine[]>;
  /** Resolves with the record once the execution has ended. */
  waitForEnd(id: string): Promise<ExecutionRecord>;

  messages(q: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]>;
  answerMessage(id: string, response: Record<string, unknown>): Promise<MessageRecord>;

  /** Resolves once every change made so far is committed: await it before acknowledging one. */
  durable(): Promise<void>;
  /** The names of the records of one kind (settings, connections, files) flows keep. */
  recordNames(type: 'setting' | 'connection' | 'file'): Promise<string[]>;
  /** Where a flow name points (a deployed flow first, then the flows folder), or why it cannot run. */
  resolveFlow(name: string): FlowLookup;
  /**
   * Resolves once flows deployed through other nodes so far are seen here (team mode; at once
   * otherwise): await it before making an execution a request asked for.
   */
  refreshFlows(): Promise<void>;
}

/**
 * For owners of virtual executions — executions with no process, whose status their owner sets:
 * a schedule's SCHEDULE execution, an async run's parent — and for resuming stopped runs.
 */
export interface ExecutionOwnership {
  /**
   * Create a virtual execution. Cancel, pause and the tree treat it like any other, but it is
   * never queued. INVALID (and not active) when its flow cannot be found.
   */
  createVirtual(spec: NewExecution, patch: VirtualPatch, parentId?: string): ExecutionRecord;
  /** The children of an async run, made in slices; resolves with how many were INVALID. */
  createChildren(
    parentId: string,
    spec: ChildrenSpec,
    inputs: readonly unknown[],
    invalid?: (input: unknown, index: number) => string | undefined,
  ): Promise<{ invalid: number }>;
  /** Queue executions that ended STOPPED again; a virtual one becomes `virtualStatus`. */
  reopen(stored: readonly StoredExecution[], virtualStatus: ExecutionStatus): number;
  /**
   * Team mode: hold executions this node claimed in the shared store (Engine.adopt): queued ones
   * run here, virtual ones wait for their owner (the scheduler) to take them up.
   */
  adopt(recs: readonly StoredExecution[]): Promise<number>;
  /** The record of an execution that has not ended (read-only), else undefined. */
  activeRecord(id: string): Readonly<StoredExecution> | undefined;
  /** The children of `id` that have not ended. */
  activeChildren(id: string): Array<Readonly<StoredExecution>>;
  /** Set what a virtual execution shows; nothing when it has ended. */
  setVirtual(id: string, patch: VirtualPatch): void;
  /** End a virtual execution; nothing when it has ended already. */
  endVirtual(id: string, status: ExecutionStatus, patch?: { message?: string | null }): void;
  /** A line of the runner's own (stream 'system') in an active execution's log. */
  logSystem(id: string, text: string): void;
}

/** For the debug relay: the processes of a debugged tree, and what their debuggers report. */
export interface DebugTargets {
  /** The active record of `id` while it has a process, else undefined. */
  processOf(id: string): Readonly<StoredExecution> | undefined;
  /** Active executions of the tree under `topId` that have a process. */
  processesOf(topId: string): Array<Readonly<StoredExecution>>;
  /** A message to an execution's process (a debug request). */
  tellWorker(id: string, msg: unknown): void;
  /** Its debugger stopped the flow (breakpoint, step, pause): PAUSED, its slot free. */
  debugStopped(id: string, reason: string): void;
  debugContinued(id: string): void;
}
