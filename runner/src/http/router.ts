/**
 * A small router: a table of (method, path pattern) → handler. Patterns use `:name` segments.
 * Handlers return a status and a JSON body; HttpError carries refusals.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './validation';

/** What is known before the body is read: enough to refuse a caller without waiting for it. */
export interface RequestHead {
  req: IncomingMessage;
  params: Record<string, string>;
  query: Record<string, string>;
  url: URL;
  /**
   * Who sent it: the user its token belongs to ("local" for the runner's own token);
   * undefined on routes that authenticate their callers themselves (a webhook's call).
   */
  user?: string;
}

export interface RouteContext extends RequestHead {
  /** The parsed JSON body (undefined when there is none). */
  body: unknown;
  /** The raw body bytes (webhooks need them as sent). */
  rawBody: Buffer;
  /** What the route's `beforeBody` returned. */
  pre?: unknown;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send this as is instead of JSON. */
  raw?: Buffer | string;
}

export interface Route {
  method: string;
  pattern: string;
  handler: (ctx: RouteContext) => Promise<RouteResult> | RouteResult;
  /**
   * Runs after the security checks and before a byte of the body is read (or its size checked):
   * a route that authenticates its callers itself refuses them here by throwing an HttpError,
   * so a caller without credentials cannot hold a connection open by sending a body slowly.
   * What it returns reaches the handler as `pre`.
   */
  beforeBody?: (head: RequestHead) => Promise<unknown> | unknown;
  /** Largest body accepted, in bytes (checked against Content-Length before reading). */
  maxBody?: number;
  /** Skip JSON parsing (the handler reads rawBody). */
  rawBody?: boolean;
  /**
   * 'handler': no bearer token needed — the handler authenticates the caller itself (a
   * webhook's key). The Host check still applies, and the Origin check unless `browsers`
   * says otherwise.
   */
  auth?: 'token' | 'handler';
  /**
   * 'route': requests from browser pages (an Origin header) are not refused up front; the
   * route's `beforeBody` decides (webhooks that allow browsers). Default 'refuse'.
   */
  browsers?: 'refuse' | 'route';
}

interface Compiled extends Route {
  regex: RegExp;
  names: string[];
}

export class Router {
  private readonly routes: Compiled[] = [];

  add(...routes: Route[]): this {
    for (const r of routes) {
      const names: string[] = [];
      const source = r.pattern
        .split('/')
        .map((seg) => {
          if (seg === '*') {
            names.push('rest');
            return '(.*)';
          }
          if (seg.startsWith(':')) {
            names.push(seg.slice(1));
            return '([^/]+)';
          }
          return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        })
        .join('/');
      this.routes.push({
        ...r,
        regex: new RegExp(`^${source.replace(/\/\(\.\*\)$/, '(?:/(.*))?')}$`),
        names,
      });
    }
    return this;
  }

  /**
   * `first` runs ahead of the handler of every route added so far that may change something (any
   * method but GET): team mode awaits there the flows other nodes deployed (a request that starts
   * a flow must see a deploy made through another node just before it).
   */
  beforeChanges(first: () => Promise<void>): this {
    for (const route of this.routes) {
      if (route.method === 'GET') continue;
      const handler = route.handler;
      route.handler = async (ctx) => {
        await first();
        return handler(ctx);
      };
    }
    return this;
  }

  /**
   * The route for a request, and its decoded `:name` parameters. A parameter that is not valid
   * percent-encoding does not throw here: `badParam` carries the 400, so the caller can first
   * apply the route's authentication (a caller without the token learns nothing).
   */
  match(
    method: string,
    pathname: string,
  ): { route: Compiled; params: Record<string, string>; badParam?: HttpError } {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.regex.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== '*' && route.method !== method) continue;
      const params: Record<string, string> = {};
      let badParam: HttpError | undefined;
      route.names.forEach((n, i) => {
        const raw = m[i + 1] ?? '';
        try {
          params[n] = decodeURIComponent(raw);
        } catch {
          params[n] = raw;
          badParam ??= malformed(raw, n);
        }
      });
      return { route, params, badParam };
    }
    if (pathMatched) {
      throw new HttpError(405, {
        error: 'method_not_allowed',
        message: `${method} is not allowed on ${pathname}`,
      });
    }
    throw new HttpError(404, { error: 'not_found', message: `no such endpoint: ${method} ${pathname}` });
  }
}

/** The 400 for a path whose percent-encoding is broken, naming the segment at fault. */
function malformed(raw: string, name: string): HttpError {
  const segment =
    raw.split('/').find((seg) => {
      try {
        decodeURIComponent(seg);
        return false;
      } catch {
        return true;
      }
    }) ?? raw;
  const what = name === 'rest' ? 'path segment' : `path segment ${name}`;
  return new HttpError(400, {
    error: 'invalid_request',
    message: `${what} '${segment}': malformed percent-encoding (a % must be followed by two hex digits of valid UTF-8)`,
    issues: [{ path: name === 'rest' ? 'path' : name, message: `malformed percent-encoding: '${segment}'` }],
  });
}
