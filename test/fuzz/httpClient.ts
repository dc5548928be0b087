/**
 * Requests sent byte for byte as the case says (fetch would normalize the path, add headers and
 * refuse some bodies): node:http with the path as given, only the headers given, and the body
 * after "100 Continue" when the case asks for it.
 */
import http from 'node:http';

export interface RawRequest {
  method: string;
  /** The request target, sent as is (percent-encoding and all). */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** Send the body only after the server's "100 Continue" (Expect: 100-continue). */
  expectContinue?: boolean;
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The parsed body, when it is JSON. */
  json?: unknown;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

export function closeAgent(): void {
  agent.destroy();
}

/**
 * Rejects when no answer arrives (a reset connection, a timeout): never a valid outcome. A kept
 * alive connection the server closed just as it was reused is the one exception, retried once
 * (the documented `reusedSocket` race of node:http: the request never reached the server).
 */
export async function send(port: number, r: RawRequest, timeoutMs: number): Promise<RawAnswer> {
  try {
    return await sendOnce(port, r, timeoutMs);
  } catch (err) {
    if ((err as { reusedSocketReset?: boolean }).reusedSocketReset) return sendOnce(port, r, timeoutMs);
    throw err;
  }
}

function sendOnce(port: number, r: RawRequest, timeoutMs: number): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let answered = false;
    const headers: Record<string, string | number> = { ...r.headers };
    if (r.body !== undefined) headers['content-length'] = Buffer.byteLength(r.body);
    if (r.expectContinue) headers.expect = '100-continue';
    const req = http.request(
      { host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new Error(`reading the answer: ${err.message}`)));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: the oracle says whether that is allowed
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json,
            ms: Date.now() - started,
          });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      // The server may answer early (a 413 before the body) and close while the body is sent.
      if (!answered) {
        clearTimeout(timer);
        const code = (err as NodeJS.ErrnoException).code;
        if (req.reusedSocket && code === 'ECONNRESET') Object.assign(err, { reusedSocketReset: true });
        reject(err);
      }
    });
    if (r.expectContinue && r.body !== undefined) {
      req.on('continue', () => req.end(r.body));
      req.flushHeaders();
    } else {
      req.end(r.body);
    }
  });
}
