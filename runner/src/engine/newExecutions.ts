/**
 * The records of new executions: one made on request, the children of an async run (made by the
 * hundred thousand, so built plainly), and a stopped execution brought back by a resume.
 */
import type { StoredExecution } from '../store/store';
import type { ChildrenSpec, NewExecution } from './executions';

/** A new execution in CREATED; `parent` is the execution it runs below, whose mode it inherits. */
export function newRecord(
  spec: NewExecution,
  parent: StoredExecution | undefined,
  id: string,
  ts: string,
): StoredExecution {
  const defaultName =
    spec.type === 'FLOW'
      ? spec.flow_name
      : spec.type === 'CONNECTION'
        ? (spec.connector_name ?? spec.connector_type)
        : spec.type === 'SCRIPT'
          ? 'script'
          : spec.type.toLowerCase();
  return {
    id,
    name: spec.name ?? defaultName ?? id,
    type: spec.type,
    status: 'CREATED',
    flow_name: spec.flow_name ?? null,
    script: spec.script ?? null,
    connector_name: spec.connector_name ?? null,
    connector_type: spec.connector_type ? spec.connector_type.toUpperCase() : null,
    input_value: spec.input_value ?? null,
    output_value: null,
    message: null,
    // Children inherit the mode: a Try stays a Try all the way down.
    is_productive: spec.is_productive ?? parent?.is_productive ?? true,
    priority: spec.priority ?? parent?.priority ?? 0,
    max_runtime_minutes: spec.max_runtime_minutes ?? 0,
    parent_execution_id: parent?.id ?? null,
    top_execution_id: parent?.top_execution_id ?? id,
    schedule_id: spec.schedule_id ?? parent?.schedule_id ?? null,
    webhook_id: spec.webhook_id ?? null,
    scheduled_for: spec.scheduled_for ?? null,
    created_at: ts,
    started_at: null,
    ended_at: null,
    updated_at: ts,
    // Who asked for it: a child runs on behalf of whoever started its parent (executions.ts).
    started_by: spec.started_by ?? parent?.started_by ?? 'local',
    paused_from: null,
  };
}

/**
 * Input `index` of an async run below `parent`: CREATED (the caller queues or holds it), INVALID
 * with `reason`, or STOPPED when its run ended before this input was made (`live` false).
 */
export function childRecord(
  parent: StoredExecution,
  spec: ChildrenSpec,
  index: number,
  input: unknown,
  id: string,
  ts: string,
  reason: string | undefined,
  live: boolean,
): StoredExecution {
  return {
    id,
    name: `${spec.name ?? spec.flow_name} [${index}]`,
    type: 'FLOW',
    // Tracked as CREATED (a new execution has no log lines to look up), then QUEUED.
    status: reason ? 'INVALID' : live ? 'CREATED' : 'STOPPED',
    flow_name: spec.flow_name,
    script: null,
    connector_name: null,
    connector_type: null,
    input_value: input ?? null,
    output_value: null,
    message: reason ?? (live ? null : 'its run ended before this input was queued'),
    is_productive: parent.is_productive,
    priority: spec.priority ?? parent.priority,
    max_runtime_minutes: spec.max_runtime_minutes ?? 0,
    parent_execution_id: parent.id,
    top_execution_id: parent.top_execution_id,
    schedule_id: parent.schedule_id,
    webhook_id: null,
    scheduled_for: null,
    created_at: ts,
    started_at: null,
    ended_at: reason || !live ? ts : null,
    updated_at: ts,
    started_by: parent.started_by,
    paused_from: null,
  };
}

/** A STOPPED execution queued again with its input (resuming a stopped run). */
export function reopenedRecord(s: StoredExecution, ts: string): StoredExecution {
  return {
    ...s,
    // Not CREATED: its log goes on after the earlier lines, which must be looked up.
    status: 'QUEUED',
    message: null,
    output_value: null,
    started_at: null,
    ended_at: null,
    paused_from: null,
    updated_at: ts,
  };
}
