/**
 * HTTP + WebSocket server of the runner on 127.0.0.1. Every request passes the security checks,
 * has its body size limited and parsed, and ends as JSON — including every error.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { MAX_BODY_BYTES, WS_PATH, jsonTextWithinDepth, type ErrorBody } from '@flows/protocol';
import type { Duplex } from 'node:stream';
import { admit, givenToken, type UserOf } from './security';
import { CACHE_MS, LOCAL_USER, sameSecret } from './userTokens';
import { refusalAnswer } from './refusals';
import type { Router, RouteResult } from './router';
import { HttpError, checkDepth } from './validation';
import type { WsHub } from './wsHub';

const DEFAULT_MAX_BODY = MAX_BODY_BYTES; // protocol/limits.ts

/**
 * The time limits and the connection cap of the server. The answer is not limited: a synchronous
 * webhook or a live run may take as long as its flow does; only receiving the request is.
 */
export interface HttpLimits {
  /** Open connections at most (HTTP and WebSocket); more are closed at once. */
  maxConnections: number;
  /** Time to receive a request's headers. */
  headersTimeoutMs: number;
  /** Longest pause while a request body arrives; then 408 and the connection is closed. */
  bodyIdleTimeoutMs: number;
  /** Time to receive a whole request, headers and body. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection waits for its next request. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 1024,
  headersTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
};

/** Whether body bytes the request announced have not all arrived. */
const bodyPending = (req: IncomingMessage): boolean =>
  !req.complete &&
  (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined);

function checkDeclaredSize(req: IncomingMessage, limit: number): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    throw new HttpError(413, {
      error: 'body_too_large',
      message: `body is ${declared} bytes; the limit here is ${limit}`,
    });
  }
}

function readBody(req: IncomingMessage, limit: number, idleMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(
            new HttpError(408, {
              error: 'request_timeout',
              message: `no body bytes arrived for ${idleMs / 1000} s (${size} received)`,
            }),
          ),
        idleMs,
      );
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        finish(
          new HttpError(413, {
            error: 'body_too_large',
            message: `body exceeds the limit of ${limit} bytes`,
          }),
        );
        return;
      }
      chunks.push(c);
      arm();
    };
    const onEnd = () => finish();
    const onError = (err: Error) =>
      finish(new HttpError(400, { error: 'aborted', message: `reading the body: ${err.message}` }));
    const onClose = () =>
      finish(new HttpError(400, { error: 'aborted', message: 'the client closed the connection' }));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
    arm();
  });
}

/**
 * The answer to a request Node's HTTP parser refused (it never reaches a route): in the API's
 * error shape, naming the part of the request at fault, instead of Node's bare 400 without a
 * body. Found by the fuzz run (test/fuzz): a byte like 0xE9 in the path was a 400 naming nothing.
 */
function parseErrorAnswer(err: NodeJS.ErrnoException): { status: number; body: ErrorBody } {
  const code = err.code ?? '';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, body: { error: 'request_timeout', message: 'the request did not arrive in time' } };
  }
  if (code === 'HPE_HEADER_OVERFLOW') {
    const reason = 'the request line and headers are larger than this runner accepts';
    return {
      status: 431,
      body: {
        error: 'headers_too_large',
        message: `headers: ${reason}`,
        issues: [{ path: 'headers', message: reason }],
      },
    };
  }
  const field =
    code === 'HPE_INVALID_URL'
      ? 'path'
      : code === 'HPE_INVALID_METHOD'
        ? 'method'
        : /CONTENT_LENGTH|TRANSFER_ENCODING|CHUNK/.test(code)
          ? 'body'
          : /HEADER|TOKEN|CONSTANT|LF_EXPECTED|CR_EXPECTED/.test(code)
            ? 'headers'
            : 'request';
  const reason = `not valid HTTP (${err.message.replace(/^Parse Error: /, '')})`;
  return {
    status: 400,
    body: {
      error: 'invalid_request',
      message: `${field}: ${reason}`,
      issues: [{ path: field, message: reason }],
    },
  };
}

function send(req: IncomingMessage, res: ServerResponse, result: RouteResult): void {
  if (res.headersSent || res.destroyed) return;
  // Answered before the body arrived (a refusal, a timeout): drop the rest with the connection
  // instead of waiting for it.
  if (bodyPending(req)) result = { ...result, headers: { ...result.headers, connection: 'close' } };
  if (result.raw !== undefined) {
    res.writeHead(result.status, result.headers);
    res.end(result.raw);
    return;
  }
  const text = result.body === undefined ? '' : JSON.stringify(result.body);
  res.writeHead(result.status, { 'content-type': 'application/json; charset=utf-8', ...result.headers });
  res.end(text);
}

/** 0.0.0.0 / :: : every interface. */
export const isAnyAddress = (host: string): boolean => host === '0.0.0.0' || host === '::' || host === '[::]';

/** `host:port`, with an IPv6 address in brackets. */
export const hostPort = (host: string, port: number): string =>
  host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;

/** Whether `host` is this machine only (the default, where the token and Origin checks suffice). */
export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

export interface HttpServerOptions {
  router: Router;
  hub: WsHub;
  /** The runner's own token (its user is "local"). */
  token: string;
  /**
   * Who a token belongs to, the runner's own included (userTokens.ts TokenCheck); default: the
   * runner's own token only.
   */
  userOf?: UserOf;
  /** Default 127.0.0.1. Anything else needs `tls` or `insecureBehindProxy` (see exposure()). */
  host?: string;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Host headers to accept besides loopback's (DNS rebinding: only names this runner goes by). */
  publicHosts?: string[];
  port: number;
  log: (msg: string) => void;
  /** Defaults: DEFAULT_HTTP_LIMITS. */
  limits?: Partial<HttpLimits>;
}

export async function startHttpServer(
  opts: HttpServerOptions,
): Promise<{ server: http.Server; port: number }> {
  let port = 0;
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  const publicHosts = (opts.publicHosts ?? []).map((h) => h.toLowerCase());
  const userOf: UserOf =
    opts.userOf ?? (async (given) => (sameSecret(given, opts.token) ? LOCAL_USER : undefined));
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let url: URL | undefined;
    try {
      try {
        url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      } catch {
        throw new HttpError(400, { error: 'invalid_request', message: 'the request target is not a URL' });
      }
      let matched: ReturnType<Router['match']> | undefined;
      let unmatched: unknown;
      try {
        matched = opts.router.match(req.method ?? 'GET', url.pathname);
      } catch (err) {
        unmatched = err;
      }
      // Authentication comes before "no such endpoint", so a caller without the token learns
      // nothing about the routes.
      const admitted = await admit(
        req,
        userOf,
        port,
        false,
        matched?.route.auth !== 'handler',
        matched?.route.browsers !== 'route',
        publicHosts,
      );
      const refusal = admitted.refusal;
      if (refusal)
        throw new HttpError(refusal.status, {
          error:
            refusal.status === 401 ? 'unauthorized' : refusal.status === 503 ? 'unavailable' : 'forbidden',
          message: refusal.message,
        });
      if (!matched) throw unmatched;
      const { route, params, badParam } = matched;
      if (badParam) throw badParam;
      const query = Object.fromEntries(url.searchParams);
      const user = admitted.user;
      // Not a byte of the body is read before the route has accepted the caller and its size.
      const pre = route.beforeBody ? await route.beforeBody({ req, params, query, url, user }) : undefined;
      const maxBody = route.maxBody ?? DEFAULT_MAX_BODY;
      checkDeclaredSize(req, maxBody);
      if (/100-continue/i.test(req.headers.expect ?? '')) res.writeContinue();
      const rawBody = await readBody(req, maxBody, limits.bodyIdleTimeoutMs);
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
        // Before anything walks it recursively (zod, JSON.stringify in the store): see limits.ts.
        // Counting brackets in the text is cheap; the walk that names the spot only when needed.
        if (!jsonTextWithinDepth(rawBody)) checkDepth(body);
      }
      send(req, res, await route.handler({ req, params, query, body, rawBody, url, pre, user }));
    } catch (thrown) {
      // A service's refusal is answered as its kind says (refusals.ts); anything else is a bug.
      const err = refusalAnswer(thrown) ?? thrown;
      if (err instanceof HttpError) {
        send(req, res, { status: err.status, body: err.body });
      } else {
        // The path only: the query string may hold a webhook's key.
        const where = url?.pathname ?? '(no valid URL)';
        opts.log(`internal error on ${req.method} ${where}: ${(err as Error).stack ?? err}`);
        send(req, res, { status: 500, body: { error: 'internal', message: (err as Error).message } });
      }
    }
  };
  // The receiving side is limited, the answering side is not (see HttpLimits). Node checks
  // headersTimeout and requestTimeout every connectionsCheckingInterval.
  const serverOptions = {
    // A quarter of the shorter timeout (0 = none), so they fire at most 25 % late.
    connectionsCheckingInterval: Math.max(
      100,
      Math.min(30_000, ...[limits.headersTimeoutMs, limits.requestTimeoutMs].filter((ms) => ms > 0)) / 4,
    ),
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  // https.Server has every member of http.Server used here (timeouts, upgrade, close).
  const server = opts.tls
    ? (https.createServer(
        { ...serverOptions, cert: opts.tls.cert, key: opts.tls.key },
        onRequest,
      ) as unknown as http.Server)
    : http.createServer(serverOptions, onRequest);
  // With a listener, Node leaves "100 Continue" to us: sent once the route has accepted the caller.
  server.on('checkContinue', (req, res) => void handle(req, res));
  // What Node does without a listener, with a JSON body: answer unless an answer is already on
  // its way on this connection, then close it (the parser cannot go on after an error).
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent && err.code !== 'ECONNRESET') {
      const { status, body } = parseErrorAnswer(err);
      const text = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
          `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
    }
    socket.destroy();
  });
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  let lastDropLog = 0;
  server.on('drop', () => {
    if (Date.now() - lastDropLog < 60_000) return;
    lastDropLog = Date.now();
    opts.log(`refusing connections: ${limits.maxConnections} are open (the limit)`);
  });
  server.on('upgrade', (req, socket, head) => {
    void admit(req, userOf, port, true, true, true, publicHosts).then((admitted) => {
      // Gone while its token was looked up: nothing to answer.
      if (socket.destroyed) return;
      const refusal = admitted.refusal;
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      if (refusal || pathname !== WS_PATH) {
        const status = refusal?.status ?? 404;
        const reason = refusal?.message ?? `no WebSocket at ${pathname}; use ${WS_PATH}`;
        socket.end(
          `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${reason}\n`,
        );
        return;
      }
      const user = admitted.user ?? LOCAL_USER;
      opts.hub.handleUpgrade(req, socket, head, user);
      if (user !== LOCAL_USER) {
        const token = givenToken(req);
        userSockets.set(socket, token);
        socket.once('close', () => userSockets.delete(socket));
      }
    });
  });
  // A WebSocket stays open for hours: its user's token is looked up again every CACHE_MS, and
  // once revoked the connection is cut, as a new request with it would be refused.
  const userSockets = new Map<Duplex, string>();
  const recheck = setInterval(() => {
    for (const [socket, token] of userSockets) {
      userOf(token).then(
        (still) => {
          if (still === undefined) socket.destroy();
        },
        () => undefined, // the database is away: not a revocation
      );
    }
  }, CACHE_MS);
  recheck.unref();
  server.once('close', () => clearInterval(recheck));
  // Loopback by default: the runner runs flows with the user's rights. `flows serve --host`
  // beyond loopback needs TLS or a proxy that provides it (cli/commands.ts).
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', resolve);
  });
  port = (server.address() as AddressInfo).port;
  // Clients that reach it at the address it listens on send that as their Host.
  if (opts.host && !isAnyAddress(opts.host) && !isLoopback(opts.host))
    publicHosts.push(hostPort(opts.host.toLowerCase(), port));
  return { server, port };
}
