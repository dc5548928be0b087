/**
 * Values from the JSON Schemas of the OpenAPI document (the subset zod's toJSONSchema writes):
 * valid ones, built from the schema with field hints where a schema cannot say enough (a flow
 * that exists, a cron expression, a pattern), and random JSON of any shape.
 */
import type { Prng } from './prng';

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  nullable?: boolean;
  default?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  description?: string;
}

/** What a hint answers for a field: a value, or OMIT to leave an optional field out. */
export const OMIT = Symbol('omit');
/** `path` is the field's path from the document's root, e.g. ['config', 'stop_on_entry']. */
export type Hint = (rng: Prng, path: readonly string[]) => unknown;
export type Hints = Record<string, Hint | undefined>;

/** A field's hint: by its full dotted path first, then by its own name. */
function hintFor(hints: Hints, path: readonly string[]): Hint | undefined {
  if (path.length === 0) return undefined;
  return hints[path.join('.')] ?? hints[path[path.length - 1]];
}

/** The JSON type names a schema allows (`any` when it allows everything). */
export function typesOf(schema: JsonSchema): Set<string> {
  const out = new Set<string>();
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts) for (const a of alts) for (const t of typesOf(a)) out.add(t);
  else if (schema.enum) for (const v of schema.enum) out.add(v === null ? 'null' : typeof v);
  else if (schema.type === 'integer') out.add('number');
  else if (schema.type) out.add(schema.type);
  else out.add('any');
  if (schema.nullable) out.add('null');
  return out;
}

export const isStrictObject = (s: JsonSchema): boolean =>
  s.type === 'object' && s.additionalProperties === false;

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'order', 'fuzz', 'x', 'n', 'value', 'items'];

/** A random JSON value, `depth` levels deep at most (1 = a scalar). */
export function randomJson(rng: Prng, depth = 3): unknown {
  const kind = depth <= 1 ? rng.int(0, 4) : rng.int(0, 6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.5) ? rng.int(-1000, 1000) : Math.round(rng.next() * 1e6) / 1e3;
    case 3:
      return rng.pick(WORDS) + rng.string(rng.int(0, 6));
    case 4:
      return rng.pick(['', 'ä ö ü', '日本語', '🙂', 'line\nbreak', 'tab\there']);
    case 5:
      return Array.from({ length: rng.int(0, 3) }, () => randomJson(rng, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(0, 3); i > 0; i--) o[rng.pick(WORDS)] = randomJson(rng, depth - 1);
      return o;
    }
  }
}

function validString(rng: Prng, s: JsonSchema): string {
  if (s.format === 'date-time') {
    const year = rng.pick([2020, 2024, 2099, 2100]);
    return `${year}-0${rng.int(1, 9)}-1${rng.int(0, 9)}T0${rng.int(0, 9)}:${rng.int(10, 59)}:00Z`;
  }
  if (s.format === 'uri') return `http://127.0.0.1:9/callback/${rng.string(4)}`;
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 24, min + 24);
  return rng.string(rng.int(Math.max(min, 1), Math.max(max, 1)));
}

function validNumber(rng: Prng, s: JsonSchema): number {
  const lo = s.minimum ?? -1000;
  const hi = s.maximum ?? 1000;
  // Mostly small values near the bottom of the range, sometimes the bounds themselves.
  const pick = rng.weighted<number>([
    [6, Math.min(hi, lo + rng.int(0, 100))],
    [1, lo],
    [1, hi],
    [2, Math.min(hi, Math.max(lo, rng.int(-5, 5)))],
  ]);
  if (s.type === 'integer') return Math.trunc(pick);
  return rng.chance(0.3) && pick < hi ? pick + 0.5 : pick;
}

/**
 * A value the schema accepts. Optional fields are left out half of the time; `hints` give the
 * values a schema cannot describe (or OMIT to leave a field out).
 */
export function validValue(rng: Prng, schema: JsonSchema, hints: Hints, path: string[] = []): unknown {
  const hint = hintFor(hints, path);
  if (hint) return hint(rng, path);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return rng.pick(schema.enum);
  if (schema.nullable && rng.chance(0.1)) return null;
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts) return validValue(rng, rng.pick(alts), hints, path);
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const required = new Set(schema.required ?? []);
      for (const [key, sub] of Object.entries(schema.properties ?? {})) {
        if (!required.has(key) && !hintFor(hints, [...path, key]) && rng.chance(0.5)) continue;
        let v = validValue(rng, sub, hints, [...path, key]);
        // A hint may leave out a field that is optional elsewhere; here it is required.
        if (v === OMIT && required.has(key))
          v = validValue(rng, sub, { ...hints, [key]: undefined, [[...path, key].join('.')]: undefined }, [
            ...path,
            key,
          ]);
        if (v !== OMIT) out[key] = v;
      }
      const extra = schema.additionalProperties;
      if (!schema.properties && extra !== false) {
        for (let i = rng.int(0, 3); i > 0; i--) {
          const key = rng.pick(WORDS) + rng.string(2);
          const v =
            typeof extra === 'object' ? validValue(rng, extra, hints, [...path, key]) : randomJson(rng, 2);
          if (v !== OMIT) out[key] = v;
        }
      }
      return out;
    }
    case 'array': {
      const min = schema.minItems ?? 0;
      const max = Math.min(schema.maxItems ?? 3, min + 3);
      return Array.from({ length: rng.int(min, max) }, (_, i) =>
        validValue(rng, schema.items ?? {}, hints, [...path, String(i)]),
      );
    }
    case 'string':
      return validString(rng, schema);
    case 'integer':
    case 'number':
      return validNumber(rng, schema);
    case 'boolean':
      return rng.chance(0.5);
    default:
      return randomJson(rng, 3);
  }
}

/** The sub-schema at `path` (object properties, array items, additionalProperties). */
export function schemaAt(schema: JsonSchema, path: readonly string[]): JsonSchema | undefined {
  let s: JsonSchema | undefined = schema;
  for (const seg of path) {
    if (!s) return undefined;
    if (s.anyOf ?? s.oneOf) s = (s.anyOf ?? s.oneOf)!.find((a) => a.type === 'object' || a.type === 'array');
    if (!s) return undefined;
    if (s.type === 'array') s = s.items ?? {};
    else if (s.properties?.[seg]) s = s.properties[seg];
    else if (typeof s.additionalProperties === 'object') s = s.additionalProperties;
    else if (s.type === undefined) return {};
    else return undefined;
  }
  return s;
}
