/** Execution records with test defaults, for tests that build them by hand. */
import type { ExecutionRecord } from '../../protocol';

/** A RUNNING top-level FLOW execution, created now; `over` sets the rest. */
export function executionRecord(
  over: Partial<ExecutionRecord> & { id: string },
): ExecutionRecord & { started_by: string | null } {
  const ts = new Date().toISOString();
  return {
    name: over.flow_name ?? 'flow',
    type: 'FLOW',
    status: 'RUNNING',
    flow_name: 'flow',
    script: null,
    connector_name: null,
    connector_type: null,
    input_value: null,
    output_value: null,
    message: null,
    is_productive: false,
    priority: 0,
    max_runtime_minutes: 0,
    parent_execution_id: null,
    top_execution_id: over.id,
    schedule_id: null,
    webhook_id: null,
    scheduled_for: null,
    created_at: ts,
    started_at: ts,
    ended_at: null,
    updated_at: ts,
    started_by: null,
    ...over,
  } as ExecutionRecord & { started_by: string | null };
}

/** `after` cursors no store made, for a list sorted by -priority (one was made for another sort). */
export const BAD_CURSORS: readonly string[] = [
  'garbage!',
  Buffer.from('not json').toString('base64url'),
  Buffer.from(JSON.stringify(['-priority', 'x', 'y', 'z'])).toString('base64url'),
  Buffer.from(JSON.stringify({ sort: '-priority' })).toString('base64url'),
  'x'.repeat(3000),
];
