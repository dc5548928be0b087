/**
 * Named connectors: `this.connect('my-database', …)` looks the name up in the workspace's
 * `.flows/config.json` (`{"connectors": {"my-database": {"type": "SQLITE", "database": "…"}}}`).
 * Values written `${env:NAME}` come from the environment, so secrets stay out of the file.
 */
import fs from 'node:fs';
import path from 'node:path';

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

export function resolveConnector(
  flowsDir: string,
  name: string | null | undefined,
  type: string | null | undefined,
  params: Record<string, unknown>,
): ConnectorLookup {
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
        reason: `unknown connector '${name}': define it under "connectors" in .flows/config.json, or pass connector_type= (built-in types: ${BUILTIN_CONNECTOR_TYPES.join(', ')})`,
      };
    }
  }
  if (!type) return { ok: false, reason: 'a connection needs a connector name or connector_type' };
  return { ok: true, type: type.toUpperCase(), params };
}
