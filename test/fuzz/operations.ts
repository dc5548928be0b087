/**
 * Every operation of the runner's OpenAPI document (as GET /api/openapi.json serves it) and every
 * member of the WebSocket's ClientMessage union, each with the schemas its cases are built from.
 * Nothing here lists operations by hand: a new route or message type is fuzzed once documented.
 */
import { z } from 'zod';
import { ClientMessage } from '../../protocol';
import type { JsonSchema } from './jsonSchemaValues';

export interface QueryParam {
  name: string;
  schema: JsonSchema;
}

export interface HttpOperation {
  kind: 'http';
  /** `POST /api/latest/execution/{id}/cancel` */
  id: string;
  method: string;
  /** The path template, `{name}` for parameters. */
  template: string;
  pathParams: string[];
  /** Path parameters that may hold `/` (an action name): the router sees them as the rest of the path. */
  multiSegment: string[];
  query: QueryParam[];
  /** The request body's schema, when the operation documents one. */
  body?: JsonSchema;
  /** false: the operation declares `security: []` (a webhook call authenticates by its key). */
  bearer: boolean;
}

export interface WsOperation {
  kind: 'ws';
  /** `WS debug.launch` */
  id: string;
  type: string;
  schema: JsonSchema;
}

export type Operation = HttpOperation | WsOperation;

interface OpenApiDoc {
  paths: Record<string, Record<string, OpenApiOp>>;
  components?: { schemas?: Record<string, JsonSchema> };
}
interface OpenApiOp {
  parameters?: Array<{ name: string; in: string; schema?: JsonSchema; description?: string }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  security?: unknown[];
}

/** A copy of `schema` with every `$ref` into components replaced by its target. */
function resolveRefs(schema: unknown, components: Record<string, JsonSchema>, seen = new Set<string>()): any {
  if (Array.isArray(schema)) return schema.map((s) => resolveRefs(s, components, seen));
  if (!schema || typeof schema !== 'object') return schema;
  const ref = (schema as JsonSchema).$ref;
  if (ref) {
    const name = ref.replace('#/components/schemas/', '');
    if (seen.has(name)) return {}; // a recursive schema: anything below this level
    return resolveRefs(components[name], components, new Set([...seen, name]));
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolveRefs(v, components, seen)]));
}

/** The HTTP operations of an OpenAPI document, in document order. */
export function httpOperations(doc: OpenApiDoc): HttpOperation[] {
  const components = doc.components?.schemas ?? {};
  const ops: HttpOperation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = op.parameters ?? [];
      const body = op.requestBody?.content?.['application/json']?.schema;
      ops.push({
        kind: 'http',
        id: `${method.toUpperCase()} ${template}`,
        method: method.toUpperCase(),
        template,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        multiSegment: params
          .filter((p) => p.in === 'path' && /may contain \//.test(p.description ?? ''))
          .map((p) => p.name),
        query: params
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, schema: resolveRefs(p.schema ?? {}, components) })),
        body: body ? resolveRefs(body, components) : undefined,
        bearer: !(Array.isArray(op.security) && op.security.length === 0),
      });
    }
  }
  return ops;
}

/** The members of the ClientMessage union, read from the zod schema itself. */
export function wsOperations(): WsOperation[] {
  const members = (ClientMessage as unknown as { options: z.ZodType[] }).options;
  return members.map((m) => {
    const schema = z.toJSONSchema(m, {
      io: 'input',
      unrepresentable: 'any',
      target: 'openapi-3.0',
    }) as JsonSchema;
    const type = schema.properties?.type?.enum?.[0] ?? schema.properties?.type?.const;
    if (typeof type !== 'string') throw new Error(`a ClientMessage member without a literal type`);
    return { kind: 'ws', id: `WS ${type}`, type, schema };
  });
}
