/**
 * Named connectors: `this.connect('my-database', …)` looks the name up first among the stored
 * `connection` records (`{"connector_type": "SQLITE", "value": {"database": "…"}}`, kept with
 * flow_api's record API), then in the workspace's `.flows/config.json`
 * (`{"connectors": {"my-database": {"type": "SQLITE", "database": "…"}}}`). Values written
 * `${env:NAME}` come from the environment, so secrets stay out of both.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Store, StoredExecution } from '../store/store';

export const BUILTIN_CONNECTOR_TYPES = ['REST', 'SQLITE', 'SHELL'] as const;

export type ConnectorLookup =
  { ok: true; type: string; params: Record<string, unknown> } | { ok: false; reason: string };

function substituteEnv(value: unknown, missing: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = process.env[name];
      if (v === undefined) missing.push(name);
      return v ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v) => substituteEnv(v, missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, missing)]));
  }
  return value;
}

export function readConnectorConfig(flowsDir: string): Record<string, Record<string, unknown>> {
  const file = path.join(flowsDir, '.flows', 'config.json');
  if (!fs.existsSync(file)) return {};
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    connectors?: Record<string, Record<string, unknown>>;
  };
  return parsed.connectors ?? {};
}

/**
 * The data of the `connection` record a CONNECTION execution names, if there is one. Looked up
 * before the execution is created because the store is read asynchronously.
 */
export async function storedConnection(
  store: Store,
  rec: Pick<StoredExecution, 'type' | 'connector_name'>,
): Promise<Record<string, unknown> | undefined> {
  if (rec.type !== 'CONNECTION' || !rec.connector_name) return undefined;
  return (await store.getRecord('connection', 'name', rec.connector_name))?.data;
}

function fromRecord(
  name: string,
  data: Record<string, unknown>,
  type: string | null | undefined,
  params: Record<string, unknown>,
): ConnectorLookup {
  const missing: string[] = [];
  const value = substituteEnv(data.value ?? {}, missing);
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: `connection '${name}': its "value" must be an object of parameters` };
  }
  if (missing.length) {
    return {
      ok: false,
      reason: `connection '${name}' needs the environment variable(s) ${missing.join(', ')}`,
    };
  }
  const t = String(type ?? data.connector_type ?? '').toUpperCase();
  if (!t) return { ok: false, reason: `connection '${name}' has no connector_type` };
  return { ok: true, type: t, params: { ...(value as Record<string, unknown>), ...params } };
}

/** `stored`: the data of the `connection` record named `name` (see storedConnection). */
export function resolveConnector(
  flowsDir: string,
  name: string | null | undefined,
  type: string | null | undefined,
  params: Record<string, unknown>,
  stored?: Record<string, unknown>,
): ConnectorLookup {
  if (name && stored) return fromRecord(name, stored, type, params);
  if (name) {
    let config: Record<string, Record<string, unknown>>;
    try {
      config = readConnectorConfig(flowsDir);
    } catch (err) {
      return { ok: false, reason: `cannot read .flows/config.json: ${(err as Error).message}` };
    }
    const entry = config[name];
    if (entry) {
      const missing: string[] = [];
      const { type: entryType, ...entryParams } = substituteEnv(entry, missing) as Record<string, unknown>;
      if (missing.length) {
        return {
          ok: false,
          reason: `connector '${name}' needs the environment variable(s) ${missing.join(', ')}`,
        };
      }
      const t = String(type ?? entryType ?? '').toUpperCase();
      if (!t) return { ok: false, reason: `connector '${name}' in .flows/config.json has no "type"` };
      return { ok: true, type: t, params: { ...entryParams, ...params } };
    }
    // `this.connect('REST', url=…)`: the positional name is a built-in type.
    if (!type && (BUILTIN_CONNECTOR_TYPES as readonly string[]).includes(name.toUpperCase())) {
      return { ok: true, type: name.toUpperCase(), params };
    }
    if (!type) {
      return {
        ok: false,
        reason: `unknown connector '${name}': save a connection record of that name, define it under "connectors" in .flows/config.json, or pass connector_type= (built-in types: ${BUILTIN_CONNECTOR_TYPES.join(', ')})`,
      };
    }
  }
  if (!type) return { ok: false, reason: 'a connection needs a connector name or connector_type' };
  return { ok: true, type: type.toUpperCase(), params };
}
