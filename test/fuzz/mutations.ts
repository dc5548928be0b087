/**
 * Mutations of a valid request: one field made wrong (its type, its range, its text, its nesting,
 * its presence), the body as a whole made wrong (not JSON, not an object, too big, nested too
 * deep), a query parameter or a path segment made wrong. Each mutation says which field it broke
 * (`target`), so the oracle can check that a 400 names that field.
 *
 * A body is built as a JSON value and serialized at the end; what JSON.stringify cannot write
 * (a number literal like 1e999, a duplicate key, an own `__proto__` key, 10,000 levels of
 * nesting) goes in as a marker string that `serialize` replaces with the raw text.
 */
import { MAX_BODY_BYTES, MAX_JSON_DEPTH } from '../../protocol';
import { isStrictObject, randomJson, schemaAt, typesOf, type JsonSchema } from './jsonSchemaValues';
import type { Prng } from './prng';

/** A JSON text fragment to splice in where a marker stands. */
export class Raw {
  constructor(readonly text: string) {}
}

const MARK = (i: number) => `__fuzz_raw_${i}__`;

/** JSON text of `value`, with every Raw (as a value or, via rawKeys, as a key) spliced in. */
export function serialize(value: unknown, rawKeys: Map<string, string> = new Map()): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v.text);
      return MARK(raws.length - 1);
    }
    return v;
  });
  let out = text.replace(/"__fuzz_raw_(\d+)__"/g, (_m, i: string) => raws[Number(i)]);
  for (const [marker, key] of rawKeys) out = out.split(JSON.stringify(marker)).join(JSON.stringify(key));
  return out;
}

/** `[[[…]]]` or `{"a":{"a":…}}` `depth` levels deep, as text (no recursion anywhere). */
export function deepText(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? '['.repeat(depth) + ']'.repeat(depth)
    : '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
}

/** A depth that passes MAX_JSON_DEPTH wherever it is put, from just past it to far past it. */
export const tooDeep = (rng: Prng): number =>
  rng.pick([MAX_JSON_DEPTH + 1, MAX_JSON_DEPTH + 2, 200, 5_000, 50_000]);

export const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'nul\u0000inside',
  '\ud800',
  'lone \udfff low',
  'a\u202eb',
  '\ufeffbom',
  '\u0085\u2028\u2029',
  '\r\n\t\b\f',
  '🙂'.repeat(40),
  'e\u0301\u0301\u0301',
  '../../../etc/passwd',
  '..\\..\\windows',
  '%00%zz%',
  "'; DROP TABLE executions; --",
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e999',
  '日本語のテキスト',
];

export const NUMBERISH_STRINGS = ['NaN', 'Infinity', '-Infinity', '1e3', ' 5 ', '0x10', '', '5', '1,5', '١٢'];

export const RAW_NUMBERS = [
  '1e999',
  '-1e999',
  '-0',
  '1E2',
  '0.0000000000000000000000000001',
  '123456789012345678901234567890',
  '1.7976931348623157e309',
  '5e-324',
];

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'];

/** A value of a JSON type the schema does not allow, or undefined when it allows every type. */
export function wrongType(rng: Prng, schema: JsonSchema): unknown {
  const allowed = typesOf(schema);
  if (allowed.has('any')) return undefined;
  const candidates: Array<[string, () => unknown]> = [
    ['string', () => rng.pick(['x', 'true', '12', ''])],
    ['number', () => rng.pick([0, 1, -1, 3.25, 1e21])],
    ['boolean', () => rng.chance(0.5)],
    ['object', () => ({ x: 1 })],
    ['array', () => [1, 'two']],
    ['null', () => null],
  ];
  const wrong = candidates.filter(([t]) => !allowed.has(t));
  // An integer field given a fraction is a wrong type too.
  if (schema.type === 'integer') wrong.push(['number', () => rng.pick([1.5, -0.25, 1e-7])]);
  return wrong.length ? rng.pick(wrong)[1]() : undefined;
}

/** A number the field's range (or integer-ness) refuses, or an odd literal. */
function badNumber(rng: Prng, schema: JsonSchema): unknown {
  const out: unknown[] = [1e308, -1e308, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, -1e-300];
  if (schema.minimum !== undefined) out.push(schema.minimum - 1, schema.minimum - 0.5);
  if (schema.maximum !== undefined) out.push(schema.maximum + 1, schema.maximum * 10);
  if (schema.type === 'integer') out.push(1.5, 0.1 + 0.2);
  out.push(new Raw(rng.pick(RAW_NUMBERS)), rng.pick(NUMBERISH_STRINGS));
  return rng.pick(out);
}

function hugeString(rng: Prng, schema: JsonSchema): string {
  const sizes = [70_000, 300_000, 900_000];
  if (schema.maxLength !== undefined && schema.maxLength < 100_000) sizes.push(schema.maxLength + 1);
  const n = rng.pick(sizes);
  const unit = rng.pick(['x', 'ä', '🙂', 'ab\u0000']);
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

/** A field the mutation can reach: its path in the body, its schema, whether it is there. */
interface Spot {
  path: string[];
  schema: JsonSchema;
  present: boolean;
  required: boolean;
}

function spots(schema: JsonSchema, value: unknown, path: string[] = [], out: Spot[] = []): Spot[] {
  if (schema.type === 'object' && value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const required = new Set(schema.required ?? []);
    const keys = new Set([...Object.keys(schema.properties ?? {}), ...Object.keys(obj)]);
    for (const key of keys) {
      const sub = schemaAt(schema, [key]);
      if (!sub) continue;
      const p = [...path, key];
      out.push({ path: p, schema: sub, present: key in obj, required: required.has(key) });
      if (key in obj) spots(sub, obj[key], p, out);
    }
  } else if (schema.type === 'array' && Array.isArray(value)) {
    value.forEach((v, i) => {
      const p = [...path, String(i)];
      out.push({ path: p, schema: schema.items ?? {}, present: true, required: true });
      spots(schema.items ?? {}, v, p, out);
    });
  }
  return out;
}

/** The objects in a value that the schema declares strict (no unknown keys), by path. */
function strictObjects(schema: JsonSchema, value: unknown, path: string[] = []): string[][] {
  if (!value || typeof value !== 'object' || Array.isArray(value) || schema.type !== 'object') return [];
  const out = isStrictObject(schema) ? [path] : [];
  for (const [k, v] of Object.entries(value)) {
    const sub = schema.properties?.[k];
    if (sub) out.push(...strictObjects(sub, v, [...path, k]));
  }
  return out;
}

function getAt(root: unknown, path: readonly string[]): unknown {
  let v = root as any;
  for (const seg of path) v = v?.[seg];
  return v;
}

function setAt(root: unknown, path: readonly string[], value: unknown): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string, unknown>;
  parent[path[path.length - 1]] = value;
}

function deleteAt(root: unknown, path: readonly string[]): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string, unknown>;
  if (Array.isArray(parent)) parent.splice(Number(path[path.length - 1]), 1);
  else delete parent[path[path.length - 1]];
}

/** A body after one mutation: its text (or bytes), what was done and to which field. */
export interface MutatedBody {
  /** Undefined: send no body at all. */
  body?: string | Buffer;
  variant: string;
  /** The field at fault: a dotted path, `body` for the body as a whole, none when still valid. */
  target?: string;
  contentType?: string | null;
}

const FIELD_MUTATIONS = [
  'wrong-type',
  'null',
  'missing-required',
  'extra-field',
  'huge-string',
  'deep-nesting',
  'bad-number',
  'odd-string',
  'bad-enum',
  'proto-key',
  'duplicate-key',
  'bad-array',
  'missing-flow',
] as const;

/** One field of a valid JSON body made wrong; undefined when that mutation finds no field. */
function mutateField(rng: Prng, schema: JsonSchema, valid: unknown, kind: string): MutatedBody | undefined {
  const body = structuredClone(valid);
  const all = spots(schema, body);
  const present = all.filter((s) => s.present);
  const dotted = (p: string[]) => p.join('.');
  const done = (variant: string, target: string, rawKeys?: Map<string, string>): MutatedBody => ({
    body: serialize(body, rawKeys),
    variant,
    target,
  });
  const place = (s: Spot, v: unknown) => setAt(body, s.path, v);
  switch (kind) {
    case 'wrong-type': {
      const s = rng.sample(all, all.length).find((x) => wrongType(rng, x.schema) !== undefined);
      if (!s) return undefined;
      place(s, wrongType(rng, s.schema));
      return done(kind, dotted(s.path));
    }
    case 'null': {
      const s = rng
        .sample(all, all.length)
        .find((x) => !typesOf(x.schema).has('null') && !typesOf(x.schema).has('any'));
      if (!s) return undefined;
      place(s, null);
      return done(kind, dotted(s.path));
    }
    case 'missing-required': {
      const s = rng.sample(present, present.length).find((x) => x.required && !/^\d+$/.test(x.path.at(-1)!));
      if (!s) return undefined;
      deleteAt(body, s.path);
      return done(kind, dotted(s.path));
    }
    case 'extra-field': {
      const objs = strictObjects(schema, body);
      if (!objs.length) return undefined;
      const at = rng.pick(objs);
      const key = rng.pick([
        'zzz',
        'unknown_field',
        'flowName',
        'Priority',
        'id',
        'status',
        '',
        ' ',
        '🙂',
        'a.b',
      ]);
      const obj = getAt(body, at) as Record<string, unknown>;
      if (key in obj) return undefined;
      obj[key] = randomJson(rng, 2);
      return done(kind, dotted([...at, key]));
    }
    case 'huge-string': {
      const s = rng.pick(all);
      place(s, hugeString(rng, s.schema));
      return done(kind, dotted(s.path));
    }
    case 'deep-nesting': {
      const s = rng.pick(all);
      place(s, new Raw(deepText(tooDeep(rng), rng.chance(0.5) ? 'array' : 'object')));
      return done(kind, dotted(s.path));
    }
    case 'bad-number': {
      const nums = all.filter((x) => x.schema.type === 'number' || x.schema.type === 'integer');
      if (!nums.length) return undefined;
      const s = rng.pick(nums);
      place(s, badNumber(rng, s.schema));
      return done(kind, dotted(s.path));
    }
    case 'odd-string': {
      const strs = all.filter((x) => typesOf(x.schema).has('string') || typesOf(x.schema).has('any'));
      if (!strs.length) return undefined;
      const s = rng.pick(strs);
      place(s, rng.pick(ODD_STRINGS));
      return done(kind, dotted(s.path));
    }
    case 'bad-enum': {
      const enums = all.filter((x) => x.schema.enum || x.schema.items?.enum);
      if (!enums.length) return undefined;
      const s = rng.pick(enums);
      const bad = rng.pick([
        '',
        'NOPE',
        ' skip',
        'Cron',
        'RUNNING',
        'executions ',
        '\u0000',
        'minutes,hours',
      ]);
      place(s, s.schema.enum ? bad : [bad]);
      return done(kind, dotted(s.path));
    }
    case 'proto-key': {
      const objs = strictObjects(schema, body);
      if (!objs.length) return undefined;
      const at = rng.pick(objs);
      const key = rng.pick(PROTO_KEYS);
      const marker = `__fuzz_key_${key}__`;
      (getAt(body, at) as Record<string, unknown>)[marker] = rng.pick([{ polluted: true }, 1, 'x', null]);
      return done(kind, dotted([...at, key]), new Map([[marker, key]]));
    }
    case 'duplicate-key': {
      // The key again, later in the object, with a wrong value: JSON.parse keeps the last one.
      const s = rng.sample(present, present.length).find((x) => wrongType(rng, x.schema) !== undefined);
      if (!s) return undefined;
      const marker = `__fuzz_dup_${s.path.at(-1)}__`;
      const parent = getAt(body, s.path.slice(0, -1));
      if (Array.isArray(parent)) return undefined;
      (parent as Record<string, unknown>)[marker] = wrongType(rng, s.schema);
      return done(kind, dotted(s.path), new Map([[marker, s.path.at(-1)!]]));
    }
    case 'missing-flow': {
      // Well-formed, but no such flow file: refused (naming flow_name) or an INVALID execution.
      const s = present.find((x) => x.path.length === 1 && x.path[0] === 'flow_name');
      if (!s) return undefined;
      setAt(
        body,
        s.path,
        rng.pick(['no/such-flow', 'missing', '../outside', '/etc/passwd', 'sub', 'quick.py']),
      );
      return done(kind, 'flow_name');
    }
    case 'bad-array': {
      const arrays = all.filter((x) => x.schema.type === 'array');
      if (!arrays.length) return undefined;
      const s = rng.pick(arrays);
      const min = s.schema.minItems ?? 0;
      const max = s.schema.maxItems;
      const options: unknown[] = [[{ wrong: 'item' }, 42, null]];
      if (min > 0) options.push([]);
      if (max !== undefined && max <= 1000) options.push(Array.from({ length: max + 1 }, () => 'x'));
      place(s, rng.pick(options));
      return done(kind, dotted(s.path));
    }
  }
  return undefined;
}

const NOT_JSON = [
  '{',
  '{"a":',
  'nul',
  'NaN',
  "{'flow_name': 'x'}",
  '{"a":1,}',
  '[1,2',
  'undefined',
  '\ufeff{}',
  '<xml/>',
  'a=1&b=2',
  '{"a":1}garbage',
  '{"a":"\\x"}',
  '"unterminated',
  '{"a":1}}',
  '\u0000',
  '{"a":"\u0001"}',
];

/** The body as a whole made wrong. */
function mutateWhole(rng: Prng, valid: unknown, kind: string): MutatedBody {
  switch (kind) {
    case 'not-json':
      return { body: rng.pick(NOT_JSON), variant: kind, target: 'body' };
    case 'invalid-utf8':
      return {
        body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]),
        variant: kind,
        target: 'body',
      };
    case 'wrong-root':
      return {
        body: rng.pick(['[]', serialize([valid]), '"a string"', '42', 'null', 'true', '1e999', '-0', '{}']),
        variant: kind,
        target: 'body',
      };
    case 'empty':
      return { body: rng.chance(0.5) ? undefined : '', variant: kind, target: 'body' };
    case 'deep-root':
      return {
        body: deepText(tooDeep(rng), rng.chance(0.5) ? 'array' : 'object'),
        variant: kind,
        target: 'body',
      };
    case 'oversize': {
      // Valid JSON, just past the limit of a REST body: a 413 that names the body.
      const pad = 'x'.repeat(MAX_BODY_BYTES + rng.int(1, 5_000));
      return { body: serialize({ ...(valid as object), zz_padding: pad }), variant: kind, target: 'body' };
    }
    case 'content-type':
    default:
      // The body is fine; only its declared type is not JSON (the runner reads it as JSON anyway).
      return {
        body: serialize(valid),
        variant: kind,
        contentType: rng.pick([
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=xyz',
          'application/json; charset=latin1',
          'application/xml',
          null,
        ]),
      };
  }
}

const WHOLE_MUTATIONS = [
  'not-json',
  'invalid-utf8',
  'wrong-root',
  'empty',
  'deep-root',
  'oversize',
  'content-type',
] as const;

/**
 * A mutated body: mostly one field made wrong, sometimes the body as a whole. `valid` is a valid
 * body of `schema`.
 */
export function mutateBody(rng: Prng, schema: JsonSchema, valid: unknown): MutatedBody {
  for (let attempt = 0; attempt < 8; attempt++) {
    const whole = rng.chance(0.25);
    if (whole) {
      // Oversize bodies are slow to send: rarely.
      const kind = rng.weighted(WHOLE_MUTATIONS.map((k) => [k === 'oversize' ? 0.15 : 1, k] as const));
      return mutateWhole(rng, valid, kind);
    }
    const m = mutateField(rng, schema, valid, rng.pick(FIELD_MUTATIONS));
    if (m) return m;
  }
  return mutateWhole(rng, valid, 'not-json');
}

/** A body sent to an operation that documents none (it should be ignored or refused cleanly). */
export function strayBody(rng: Prng): MutatedBody {
  return rng.weighted<MutatedBody>([
    [2, { body: serialize(randomJson(rng, 3)), variant: 'stray-json-body' }],
    [1, { body: rng.pick(NOT_JSON), variant: 'stray-not-json', target: 'body' }],
    [1, { body: deepText(tooDeep(rng), 'array'), variant: 'stray-deep', target: 'body' }],
  ]);
}
