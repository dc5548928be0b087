/**
 * One fuzz case from an operation and a seeded generator: a valid request (its body built from
 * the schema, ids taken from the pools) or one made wrong in one place — a body field, the body
 * as a whole, a query parameter, a path segment, the method, the credentials. A case names the
 * field it broke (`target`) for the oracle.
 */
import {
  EXECUTION_MODES,
  EXECUTION_STATUSES,
  EXECUTION_TYPES,
  MAX_WEBHOOK_BODY_BYTES,
  MAX_WS_MESSAGE_BYTES,
  WEBHOOK_KEY_HEADER,
} from '../../protocol';
import { OMIT, randomJson, validValue, type Hints, type JsonSchema } from './jsonSchemaValues';
import {
  deepText,
  mutateBody,
  ODD_STRINGS,
  serialize,
  strayBody,
  tooDeep,
  type MutatedBody,
} from './mutations';
import type { HttpOperation, WsOperation } from './operations';
import type { Prng } from './prng';
import { CALLBACK, MISSING_FLOW, RUNNABLE_FLOWS, WEBHOOK_KEY, type Pools } from './world';

export interface HttpCase {
  kind: 'http';
  op: HttpOperation;
  variant: string;
  target?: string;
  /** Other names the oracle accepts for the target (see oracle.ts). */
  aliases?: string[];
  method: string;
  /** The request target as sent. */
  path: string;
  /** The path parameters as meant (decoded), for the pools' restore. */
  params: Record<string, string>;
  headers: Record<string, string>;
  body?: string | Buffer;
  expectContinue?: boolean;
}

export interface WsCase {
  kind: 'ws';
  op: WsOperation;
  variant: string;
  target?: string;
  frame: string | Buffer;
  binary: boolean;
  /** Larger than the runner takes: it must close the socket with 1009, nothing else. */
  oversize: boolean;
}

export type FuzzCase = HttpCase | WsCase;

/** Operations whose accepted requests start a Python process: fewer valid cases there. */
export function startsPython(opId: string): boolean {
  return /^POST \/api\/latest\/execution$|\/(start|resume|run|call)$|^POST \/v1\/actions\/|^WS debug\.launch$/.test(
    opId,
  );
}

const HEX = '0123456789abcdef';
/** An id in the runner's shape that names nothing. */
const uuidLike = (rng: Prng) =>
  [
    rng.string(8, HEX),
    rng.string(4, HEX),
    `4${rng.string(3, HEX)}`,
    `a${rng.string(3, HEX)}`,
    rng.string(12, HEX),
  ].join('-');

/** Percent-encoding that never throws (encodeURIComponent does on a lone surrogate). */
export function encode(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

const csv = (rng: Prng, values: readonly string[]) => rng.sample(values, rng.int(1, 2)).join(',');
const label = (rng: Prng, pool: Record<string, string>) => pool[rng.pick(Object.keys(pool).sort())];

/** The pool a path parameter takes its values from: the segment before it names the kind. */
function poolFor(
  op: HttpOperation,
  param: string,
  pools: Pools,
): Record<string, string> | 'flows' | undefined {
  const segs = op.template.split('/');
  const before = segs[segs.indexOf(`{${param}}`) - 1];
  switch (before) {
    case 'execution':
      return pools.execution;
    case 'message':
      return pools.message;
    case 'schedule':
      return pools.schedule;
    case 'webhook':
      return pools.webhook;
    case 'runs':
      return pools.run;
    case 'actions':
      return 'flows';
    default:
      return undefined;
  }
}

/** A path parameter naming something that exists (a flow for an action). */
function validParam(rng: Prng, op: HttpOperation, param: string, pools: Pools): string {
  const pool = poolFor(op, param, pools);
  if (pool === 'flows') return rng.pick(RUNNABLE_FLOWS);
  if (pool && Object.keys(pool).length) return label(rng, pool);
  return rng.string(8);
}

/** Values a body schema cannot describe, by field name (or dotted path). */
export function bodyHints(op: { id: string }, pools: Pools): Hints {
  const isWebhook = op.id.includes('/webhook');
  return {
    // A missing flow is a mutation of its own (`missing-flow`): a valid body names one that exists.
    flow_name: (rng) => rng.pick(RUNNABLE_FLOWS),
    script: () => "def handler(system, this):\n    return 'script'\n",
    name: (rng) => (isWebhook ? `fz-${rng.string(10)}` : rng.chance(0.3) ? OMIT : `fuzz ${rng.string(5)}`),
    input_value: (rng) => (rng.chance(0.3) ? OMIT : randomJson(rng, 3)),
    input: (rng) => ({ n: rng.int(0, 9) }),
    inputs: (rng) => (rng.chance(0.5) ? OMIT : Array.from({ length: rng.int(1, 2) }, (_, i) => ({ n: i }))),
    // Any valid value would do, but a flow killed by a 1 s limit fails: keep to real limits.
    max_runtime_minutes: (rng) => rng.pick([0, 1, 5, 60, 525_600]),
    // Far past (runs at once), far future (waits past any timer's range), odd offsets.
    scheduled_for: (rng) =>
      rng.chance(0.6)
        ? OMIT
        : rng.pick([
            '2099-01-01T00:00:00Z',
            '2020-01-01T00:00:00+02:00',
            '0001-01-01T00:00:00Z',
            '9999-12-31T23:59:59.999999999Z',
            '2024-02-29T12:00:00-23:59',
          ]),
    start: (rng) => rng.chance(0.4),
    // Yearly or never (31 February): a schedule made here must not fire during the run.
    cron: (rng) => rng.pick(['0 0 1 1 *', '@yearly', '0 0 29 2 *', '0 0 31 2 *', '0 0 0 1 1 *', '0 0 1 1 1']),
    time: (rng) => `${String(rng.int(0, 23)).padStart(2, '0')}:${String(rng.int(0, 59)).padStart(2, '0')}`,
    timezone: (rng) =>
      rng.pick([
        'UTC',
        'Europe/Vienna',
        'America/New_York',
        'Asia/Kolkata',
        'Etc/GMT+12',
        'Pacific/Kiritimati',
      ]),
    // A schedule created enabled fires: rarely, and never at a short interval.
    enabled: (rng) => rng.chance(0.2),
    interval: (rng) => rng.int(1, 1000),
    unit: (rng) => rng.pick(['minutes', 'hours']),
    callback: (rng) => (rng.chance(0.7) ? OMIT : CALLBACK),
    key: (rng) => (rng.chance(0.5) ? null : `key-${rng.string(12)}`),
    max_iterations: (rng) => (rng.chance(0.5) ? OMIT : rng.int(1, 5)),
    response: (rng) => ({ ok: rng.chance(0.5) }),
    // WebSocket debug messages: no breakpoint in a flow of ours, no stop on entry.
    config: (rng) => ({
      breakpoints: rng.chance(0.5) ? {} : { '/nowhere/flow.py': [{ line: rng.int(1, 50) }] },
      exception_filters: rng.sample(['raised', 'uncaught'], rng.int(0, 2)),
      stop_on_entry: false,
    }),
    execution_id: (rng) => label(rng, pools.execution),
    session_id: (rng) => uuidLike(rng),
    command: (rng) => rng.pick(['stackTrace', 'threads', 'continue', 'scopes', 'evaluate']),
    source: () => '/nowhere/flow.py',
    // POST /execution/{id}/test: a test file the pattern accepts (the generator knows no regex),
    // and now and then the name of a case to record again.
    out: (rng) => (rng.chance(0.5) ? OMIT : `fuzz-tests/${rng.string(6)}.flowtest.yaml`),
    replace: (rng) => (rng.chance(0.8) ? OMIT : `fuzz case ${rng.string(4)}`),
  };
}

/** Values of query parameters (strings), by name. */
export function queryHints(op: { id: string }, pools: Pools): Hints {
  const runs = op.id === 'GET /v1/runs';
  const executionId = (rng: Prng) => label(rng, pools.execution);
  const sortFields = runs
    ? ['created_at', 'status', 'updated_at']
    : ['created_at', 'updated_at', 'status', 'priority', 'name'];
  return {
    status: (rng) => csv(rng, EXECUTION_STATUSES),
    type: (rng) => csv(rng, EXECUTION_TYPES),
    execution_mode: (rng) => csv(rng, EXECUTION_MODES),
    is_productive: (rng) => rng.pick(['true', 'false']),
    open: (rng) => rng.pick(['true', 'false']),
    limit: (rng) => String(rng.int(1, runs ? 100 : 200)),
    offset: (rng) => String(rng.int(0, 3)),
    sort: (rng) => (rng.chance(0.5) ? '-' : '') + rng.pick(sortFields),
    flow_name: (rng) => rng.pick(RUNNABLE_FLOWS),
    parent_execution_id: (rng) => (rng.chance(0.5) ? 'none' : executionId(rng)),
    top_execution_id: executionId,
    execution_id: executionId,
    schedule_id: (rng) => label(rng, pools.schedule),
    uid: (rng) => label(rng, pools.run),
    action_name: (rng) => rng.pick(RUNNABLE_FLOWS),
  };
}

/** Make a schema-valid body valid for the runner too: the rules between fields. */
function fixBody(rng: Prng, schema: JsonSchema, body: Record<string, unknown>): void {
  const props = schema.properties ?? {};
  if ('flow_name' in props && 'script' in props) {
    if (rng.chance(0.85)) {
      delete body.script;
      body.flow_name ??= rng.pick(RUNNABLE_FLOWS);
    } else {
      delete body.flow_name;
      body.script = "def handler(system, this):\n    return 'script'\n";
    }
  }
  if ('kind' in props && 'cron' in props) {
    const required = (schema.required ?? []).includes('kind');
    const kind = required || rng.chance(0.5) ? rng.pick(['interval', 'daily', 'cron']) : undefined;
    for (const f of ['kind', 'interval', 'unit', 'time', 'cron']) delete body[f];
    if (kind) body.kind = kind;
    if (kind === 'interval') {
      body.interval = rng.int(1, 1000);
      if (rng.chance(0.5)) body.unit = rng.pick(['minutes', 'hours']);
    } else if (kind === 'daily') body.time = '09:30';
    else if (kind === 'cron') body.cron = rng.pick(['0 0 1 1 *', '@yearly']);
  } else if ('cron' in props && 'input' in props && 'inputs' in props) {
    if (body.input !== undefined) delete body.inputs;
  }
  if ('input_value' in props && 'inputs' in props && body.inputs !== undefined) delete body.input_value;
}

function validQuery(rng: Prng, op: HttpOperation, hints: Hints): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const q of op.query) {
    if (q.name === 'key' || q.name === 'async') continue; // the webhook call's own
    // A page cursor (described as a page's `next`) is valid only as the runner gave it, for the
    // same sort: valid queries leave it out; the query mutations still reach it.
    if (/`next`/.test(q.schema.description ?? '')) continue;
    if (!rng.chance(0.35)) continue;
    const hint = hints[q.name];
    const v = hint ? hint(rng, [q.name]) : validValue(rng, q.schema, {}, [q.name]);
    if (v !== OMIT) out.push([q.name, String(v)]);
  }
  return out;
}

const BAD_INTS = [
  '-1',
  '0',
  'abc',
  '1.5',
  '1e3',
  '1e400',
  'Infinity',
  'NaN',
  '',
  ' 7',
  '0x10',
  '9007199254740993',
  '-0',
  '١٢',
  '1_000',
];
const BAD_ENUMS = ['yes', 'TRUE', '1', '', 'maybe', 'true,false', 'true '];
const BAD_CSV = [
  'FOO',
  'RUNNING,FOO',
  ',,',
  'running',
  'RUNNING,,SUCCEEDED',
  'ENDED_SUCCESS',
  'RUNNING;FAILED',
  ' RUNNING',
];
const BAD_SORT = ['bogus', '--created_at', '-', 'created_at,name', '-name ', 'created_at desc', 'id'];
const CSV_PARAMS = new Set(['status', 'type', 'execution_mode']);

/** One query parameter made wrong; `target` is the parameter (or `query` for the whole). */
function mutateQuery(
  rng: Prng,
  op: HttpOperation,
  query: Array<[string, string]>,
): { variant: string; target?: string; raw?: string } {
  const q = rng.pick(op.query);
  const name = q.name;
  const kind = rng.pick([
    'bad-value',
    'bad-value',
    'unknown',
    'repeated',
    'huge',
    'malformed-percent',
    'odd-string',
  ]);
  const bad = () => {
    const t = q.schema.type;
    if (t === 'integer' || t === 'number') return rng.pick(BAD_INTS);
    if (q.schema.enum) return rng.pick(BAD_ENUMS);
    if (CSV_PARAMS.has(name)) return rng.pick(BAD_CSV);
    if (q.schema.pattern) return rng.pick(BAD_SORT);
    return rng.pick(ODD_STRINGS);
  };
  const others = query.filter(([k]) => k !== name);
  switch (kind) {
    case 'unknown': {
      const unknown = rng.pick(['zzz', '__proto__', 'constructor', 'limit[]', 'toString', 'LIMIT', '']);
      query.push([unknown, rng.pick(['1', 'x', ''])]);
      return { variant: 'query-unknown', target: unknown || 'query' };
    }
    case 'repeated': {
      // The last one counts (URLSearchParams → Object.fromEntries).
      others.push([name, rng.pick(['1', 'true', 'RUNNING', 'created_at'])], [name, bad()]);
      query.splice(0, query.length, ...others);
      return { variant: 'query-repeated', target: name };
    }
    case 'huge':
      others.push([name, 'x'.repeat(rng.pick([3_000, 10_000]))]);
      query.splice(0, query.length, ...others);
      return { variant: 'query-huge', target: name };
    case 'malformed-percent': {
      const raw = `${encode(name)}=${rng.pick(['%zz', '%', '%E0%A4%A', '%ff', '%C0%AF', '%ED%A0%80'])}`;
      query.splice(0, query.length, ...others);
      return { variant: 'query-malformed-percent', target: name, raw };
    }
    case 'odd-string':
      others.push([name, rng.pick(ODD_STRINGS)]);
      query.splice(0, query.length, ...others);
      return { variant: 'query-odd-string', target: name };
    default:
      others.push([name, bad()]);
      query.splice(0, query.length, ...others);
      return { variant: 'query-bad-value', target: name };
  }
}

const queryString = (query: Array<[string, string]>, raw?: string): string => {
  const parts = query.map(([k, v]) => `${encode(k)}=${encode(v)}`);
  if (raw) parts.push(raw);
  return parts.length ? `?${parts.join('&')}` : '';
};

const BAD_SEGMENTS: Array<[string, string]> = [
  ['%', 'malformed-percent'],
  ['%zz', 'malformed-percent'],
  ['%E0%A4%A', 'malformed-percent'],
  ['%ff', 'malformed-percent'],
  ['abc%', 'malformed-percent'],
  ['%C0%AF', 'malformed-percent'],
  ['%ED%A0%80', 'malformed-percent'],
  ['%2F', 'encoded-slash'],
  ['a%2Fb', 'encoded-slash'],
  ['.', 'dot-segment'],
  ['..', 'dot-segment'],
  ['__proto__', 'proto-name'],
  ['constructor', 'proto-name'],
  ['hasOwnProperty', 'proto-name'],
  ['%00', 'nul'],
  ['%F0%9F%99%82', 'unicode'],
  ['%E2%80%AE', 'unicode'],
  ['\u00e9\u00ff', 'latin1-bytes'],
  ["1'%20OR%20'1'='1", 'sql-ish'],
  ['', 'empty-segment'],
];

function buildPath(
  op: HttpOperation,
  values: Record<string, string>,
  raw: Record<string, string> = {},
): string {
  return op.template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (raw[name] !== undefined) return raw[name];
    const v = values[name];
    // An action may contain `/`: its segments are encoded one by one.
    return name === 'action' ? v.split('/').map(encode).join('/') : encode(v);
  });
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

/** The webhook call: any method, any sub-path, any content type; its key instead of the token. */
function webhookCall(rng: Prng, op: HttpOperation, pools: Pools, valid: boolean): HttpCase {
  // Calls go by name: the id (which the CRUD routes accept) names no webhook here.
  const name = valid || rng.chance(0.7) ? pools.webhook.base : rng.pick(['no-such-hook', pools.webhook.byId]);
  const sub = rng.pick(['', '', '/', '/a/b', '/%7Euser', '/deep/' + 'x/'.repeat(20)]);
  const query: Array<[string, string]> = [];
  const headers: Record<string, string> = {};
  let variant = valid ? 'valid' : 'call';
  let target: string | undefined;
  const keyHow = valid
    ? rng.pick(['header', 'query'])
    : rng.pick(['header', 'query', 'none', 'wrong', 'both']);
  if (keyHow === 'header' || keyHow === 'both') headers[WEBHOOK_KEY_HEADER] = WEBHOOK_KEY;
  if (keyHow === 'query' || keyHow === 'both') query.push(['key', WEBHOOK_KEY]);
  if (keyHow === 'wrong') headers[WEBHOOK_KEY_HEADER] = 'not-the-key';
  if (rng.chance(0.3)) query.push(['async', rng.pick(['1', 'true', 'yes', '0'])]);
  if (rng.chance(0.3)) query.push([rng.pick(['x', 'a b', 'ü']), rng.pick(['1', '', 'two'])]);
  let body: string | Buffer | undefined;
  const how = valid
    ? rng.pick(['none', 'json', 'form', 'text'])
    : rng.pick(['none', 'json', 'form', 'text', 'binary', 'bad-json', 'deep-json', 'oversize', 'browser']);
  switch (how) {
    case 'json':
      headers['content-type'] = rng.pick(['application/json', 'application/vnd.api+json; charset=utf-8']);
      body = serialize(randomJson(rng, 4));
      break;
    case 'form':
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = 'a=1&a=2&b=%zz&c';
      break;
    case 'text':
      headers['content-type'] = rng.pick(['text/plain', 'text/csv']);
      body = rng.pick(ODD_STRINGS);
      break;
    case 'binary':
      headers['content-type'] = 'application/octet-stream';
      body = Buffer.from(Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 255)));
      break;
    case 'bad-json':
      headers['content-type'] = 'application/json';
      body = rng.pick(['{', '{"a":1,}', 'nope', '\ufeff{}']);
      target = 'body';
      break;
    case 'deep-json':
      headers['content-type'] = 'application/json';
      body = deepText(tooDeep(rng), rng.chance(0.5) ? 'array' : 'object');
      target = 'body';
      break;
    case 'oversize':
      headers['content-type'] = 'text/plain';
      body = Buffer.alloc(MAX_WEBHOOK_BODY_BYTES + 1, 0x61);
      target = 'body';
      break;
    case 'browser':
      if (rng.chance(0.5)) headers.origin = 'https://evil.example';
      else headers['sec-fetch-site'] = 'cross-site';
      break;
  }
  if (!valid) variant = `call-${how}-key-${keyHow}`;
  if (rng.chance(0.2)) headers.authorization = 'Bearer whatever'; // not the webhook's business
  const path = `/api/latest/webhook/${encode(name)}/call${sub}${queryString(query)}`;
  return {
    kind: 'http',
    op,
    variant,
    target,
    method: valid ? rng.pick(['POST', 'GET', 'PUT']) : rng.pick(METHODS.filter((m) => m !== 'HEAD')),
    path,
    params: { name },
    headers,
    body,
  };
}

/** One HTTP case of `op`. */
export function httpCase(rng: Prng, op: HttpOperation, pools: Pools, token: string): HttpCase {
  const expensive = startsPython(op.id);
  const valid = rng.chance(expensive ? 0.1 : 0.3);
  if (op.template.endsWith('/call')) return webhookCall(rng, op, pools, valid);
  const params = Object.fromEntries(op.pathParams.map((p) => [p, validParam(rng, op, p, pools)]));
  const query = validQuery(rng, op, queryHints(op, pools));
  let validBody: unknown;
  if (op.body) {
    validBody = validValue(rng, op.body, bodyHints(op, pools));
    fixBody(rng, op.body, validBody as Record<string, unknown>);
  }
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  const c: HttpCase = { kind: 'http', op, variant: 'valid', method: op.method, path: '', params, headers };
  let mutated: MutatedBody | undefined;
  let rawQuery: string | undefined;
  const rawParams: Record<string, string> = {};
  if (!valid) {
    const what = rng.weighted<string>([
      [op.body ? 10 : 0, 'body'],
      [op.body ? 0 : 2, 'stray-body'],
      [op.query.length ? 4 : 1, 'query'],
      [op.pathParams.length ? 4 : 0, 'path'],
      [0.6, 'method'],
      [0.6, 'auth'],
      [0.4, 'expect'],
    ]);
    if (what === 'body') mutated = mutateBody(rng, op.body!, validBody);
    else if (what === 'stray-body') mutated = strayBody(rng);
    else if (what === 'query') {
      if (op.query.length) {
        const q = mutateQuery(rng, op, query);
        c.variant = q.variant;
        c.target = q.target;
        rawQuery = q.raw;
      } else {
        // Parameters the operation does not take: ignored.
        query.push([rng.pick(['zzz', 'limit', '__proto__']), rng.pick(['1', '-5', '%'])]);
        c.variant = 'query-stray';
      }
    } else if (what === 'path') {
      const name = rng.pick(op.pathParams);
      // Well-formed, naming nothing: as likely as all the malformed kinds together.
      const missing = poolFor(op, name, pools) === 'flows' ? MISSING_FLOW : uuidLike(rng);
      const [seg, kind] = rng.chance(0.5) ? [missing, 'nonexistent'] : rng.pick(BAD_SEGMENTS);
      c.variant = `path-${kind}`;
      // Bytes HTTP does not allow in a request target are refused by the parser, before any route
      // or parameter; a parameter that may hold `/` is, to the router, the rest of the path.
      c.target = kind === 'latin1-bytes' ? 'path' : name;
      if (op.multiSegment.includes(name)) c.aliases = ['path'];
      if (kind === 'nonexistent') {
        params[name] = seg;
      } else if (kind === 'unicode' || kind === 'nul' || kind === 'proto-name' || kind === 'sql-ish') {
        rawParams[name] = seg;
        try {
          params[name] = decodeURIComponent(seg);
        } catch {
          params[name] = seg;
        }
      } else if (rng.chance(0.15)) {
        c.variant = 'path-long';
        params[name] = 'x'.repeat(rng.pick([300, 5_000, 20_000]));
      } else {
        rawParams[name] = seg;
        params[name] = seg;
      }
    } else if (what === 'method') {
      c.method = rng.pick(METHODS.filter((m) => m !== op.method));
      c.variant = 'method';
    } else if (what === 'auth') {
      c.variant = rng.pick(['no-token', 'wrong-token', 'basic-auth', 'origin', 'bad-host']);
      if (c.variant === 'no-token') delete headers.authorization;
      if (c.variant === 'wrong-token') headers.authorization = `Bearer ${token.slice(0, -1)}x`;
      if (c.variant === 'basic-auth') headers.authorization = 'Basic Zm9vOmJhcg==';
      if (c.variant === 'origin') headers.origin = 'https://evil.example';
      if (c.variant === 'bad-host') headers.host = 'evil.example';
    } else {
      c.variant = 'expect-continue';
      c.expectContinue = true;
    }
  }
  if (mutated) {
    c.variant = mutated.variant;
    c.target = mutated.target;
    c.body = mutated.body;
    if (mutated.contentType !== null) headers['content-type'] = mutated.contentType ?? 'application/json';
  } else if (validBody !== undefined) {
    c.body = serialize(validBody);
    headers['content-type'] = 'application/json';
  }
  c.path = buildPath(op, params, rawParams) + queryString(query, rawQuery);
  return c;
}

/** One WebSocket case of message type `op`. */
export function wsCase(rng: Prng, op: WsOperation, pools: Pools): WsCase {
  const valid = rng.chance(startsPython(op.id) ? 0.1 : 0.3);
  const message = validValue(rng, op.schema, bodyHints(op, pools));
  if (valid)
    return { kind: 'ws', op, variant: 'valid', frame: serialize(message), binary: false, oversize: false };
  if (rng.chance(0.08)) {
    // Raw bytes in a binary frame.
    const bytes = Buffer.from(Array.from({ length: rng.int(0, 40) }, () => rng.int(0, 255)));
    return {
      kind: 'ws',
      op,
      variant: 'binary-garbage',
      target: 'body',
      frame: bytes,
      binary: true,
      oversize: false,
    };
  }
  const m = mutateBody(rng, op.schema, message);
  const frame = m.body ?? '';
  const size = Buffer.byteLength(frame);
  return {
    kind: 'ws',
    op,
    // The valid message with a "content type" mutation: the same JSON in a binary frame.
    variant: m.variant === 'content-type' ? 'binary-json' : m.variant,
    target: m.target,
    frame,
    binary: m.variant === 'content-type' || Buffer.isBuffer(frame),
    oversize: size > MAX_WS_MESSAGE_BYTES,
  };
}
