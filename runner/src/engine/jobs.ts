/**
 * What a worker will run for an execution: a flow file, a script, or a connector with its
 * parameters. Worked out when the execution is made (or restored), so one whose flow or
 * connector cannot be found ends INVALID at once instead of failing in a process.
 */
import { resolveConnector } from './connectors';
import type { Active } from './executionTable';
import { resolveFlow, type FlowLookup } from './flowFiles';

export interface JobFolders {
  flowsDir: string;
  filesDir: string;
  /** Where a flow name points: deployed flows first (engine.ts); default the flows folder alone. */
  resolveFlow?: (name: string) => FlowLookup;
}

/** Sets `a.job`, or `a.invalidReason` when there is nothing to run. */
export function prepareJob(a: Active, dirs: JobFolders, connection?: Record<string, unknown>): void {
  const r = a.rec;
  const base = {
    execution_id: r.id,
    flows_dir: dirs.flowsDir,
    files_dir: dirs.filesDir,
    debug: null,
  };
  if (r.type === 'FLOW') {
    const name = r.flow_name ?? '';
    const found = dirs.resolveFlow ? dirs.resolveFlow(name) : resolveFlow(dirs.flowsDir, name);
    if (!found.ok) a.invalidReason = found.reason;
    else a.job = { ...base, kind: 'flow', flow_path: found.path };
  } else if (r.type === 'SCRIPT') {
    a.job = { ...base, kind: 'script', script: r.script ?? '' };
  } else if (r.type === 'CONNECTION') {
    const params = (r.input_value && typeof r.input_value === 'object' ? r.input_value : {}) as Record<
      string,
      unknown
    >;
    const found = resolveConnector(dirs.flowsDir, r.connector_name, r.connector_type, params, connection);
    if (!found.ok) a.invalidReason = found.reason;
    else {
      // A named connector's type comes from its record or .flows/config.json; show it.
      r.connector_type = found.type;
      a.job = { ...base, kind: 'connection', connector_type: found.type, connector_params: found.params };
    }
  }
}
