/**
 * HTTP + WebSocket server of the runner on 127.0.0.1. Every request passes the security checks,
 * has its body size limited and parsed, and ends as JSON — including every error.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WS_PATH } from '../../../protocol';
import { refuse } from './security';
import type { Router, RouteResult } from './router';
import { HttpError } from './validation';
import type { WsHub } from './wsHub';

const DEFAULT_MAX_BODY = 1024 * 1024;

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(
        new HttpError(413, {
          error: 'body_too_large',
          message: `body is ${declared} bytes; the limit here is ${limit}`,
        }),
      );
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(
          new HttpError(413, {
            error: 'body_too_large',
            message: `body exceeds the limit of ${limit} bytes`,
          }),
        );
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, result: RouteResult): void {
  if (result.raw !== undefined) {
    res.writeHead(result.status, result.headers);
    res.end(result.raw);
    return;
  }
  const text = result.body === undefined ? '' : JSON.stringify(result.body);
  res.writeHead(result.status, { 'content-type': 'application/json; charset=utf-8', ...result.headers });
  res.end(text);
}

export interface HttpServerOptions {
  router: Router;
  hub: WsHub;
  token: string;
  host?: string;
  port: number;
  log: (msg: string) => void;
}

export async function startHttpServer(
  opts: HttpServerOptions,
): Promise<{ server: http.Server; port: number }> {
  let port = 0;
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      let matched: ReturnType<Router['match']> | undefined;
      let unmatched: unknown;
      try {
        matched = opts.router.match(req.method ?? 'GET', url.pathname);
      } catch (err) {
        unmatched = err;
      }
      // Authentication comes before "no such endpoint", so a caller without the token learns
      // nothing about the routes.
      const refusal = refuse(req, opts.token, port, false, matched?.route.auth !== 'handler');
      if (refusal)
        throw new HttpError(refusal.status, {
          error: refusal.status === 401 ? 'unauthorized' : 'forbidden',
          message: refusal.message,
        });
      if (!matched) throw unmatched;
      const { route, params } = matched;
      const rawBody = await readBody(req, route.maxBody ?? DEFAULT_MAX_BODY);
      let body: unknown;
      if (!route.rawBody && rawBody.length > 0) {
        try {
          body = JSON.parse(rawBody.toString('utf8'));
        } catch (err) {
          throw new HttpError(400, {
            error: 'invalid_json',
            message: `body: not valid JSON (${(err as Error).message})`,
          });
        }
      }
      const query = Object.fromEntries(url.searchParams);
      send(res, await route.handler({ req, params, query, body, rawBody, url }));
    } catch (err) {
      if (err instanceof HttpError) {
        send(res, { status: err.status, body: err.body });
      } else {
        opts.log(`internal error on ${req.method} ${req.url}: ${(err as Error).stack ?? err}`);
        send(res, { status: 500, body: { error: 'internal', message: (err as Error).message } });
      }
    }
  });
  server.on('upgrade', (req, socket, head) => {
    const refusal = refuse(req, opts.token, port, true);
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    if (refusal || pathname !== WS_PATH) {
      const status = refusal?.status ?? 404;
      const reason = refusal?.message ?? `no WebSocket at ${pathname}; use ${WS_PATH}`;
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${reason}\n`,
      );
      return;
    }
    opts.hub.handleUpgrade(req, socket, head);
  });
  // Loopback only: the runner runs flows with the user's rights and must not be reachable from
  // the network.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', resolve);
  });
  port = (server.address() as AddressInfo).port;
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // synchronous webhooks and live runs may take long
  return { server, port };
}
