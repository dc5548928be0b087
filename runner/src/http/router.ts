/**
 * A small router: a table of (method, path pattern) → handler. Patterns use `:name` segments.
 * Handlers return a status and a JSON body; HttpError carries refusals.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './validation';

export interface RouteContext {
  req: IncomingMessage;
  params: Record<string, string>;
  query: Record<string, string>;
  /** The parsed JSON body (undefined when there is none). */
  body: unknown;
  /** The raw body bytes (webhooks need them as sent). */
  rawBody: Buffer;
  url: URL;
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
  /** Largest body accepted, in bytes. */
  maxBody?: number;
  /** Skip JSON parsing (the handler reads rawBody). */
  rawBody?: boolean;
  /**
   * 'handler': no bearer token needed — the handler authenticates the caller itself (a
   * webhook's key). The Host and Origin checks still apply.
   */
  auth?: 'token' | 'handler';
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

  match(method: string, pathname: string): { route: Compiled; params: Record<string, string> } {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.regex.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== '*' && route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] ?? '')));
      return { route, params };
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
