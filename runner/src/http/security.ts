/**
 * The runner's front door. It listens on loopback only, but loopback is reachable from every
 * browser tab on the machine, so: a bearer token on every request, no browser Origins (a page
 * cannot forge that header away), and a Host check against DNS rebinding.
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const newToken = (): string => crypto.randomBytes(24).toString('base64url');

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export type Refusal = { status: 401 | 403; message: string };

/** Why a request must be refused, or undefined when it may go on. */
export function refuse(
  req: IncomingMessage,
  token: string,
  port: number,
  allowQueryToken: boolean,
  requireToken = true,
  checkOrigin = true,
  publicHosts: readonly string[] = [],
): Refusal | undefined {
  const host = (req.headers.host ?? '').toLowerCase();
  const allowedHosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, ...publicHosts];
  if (!allowedHosts.includes(host)) {
    return { status: 403, message: `Host '${host}' is not this runner (expected 127.0.0.1:${port})` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && checkOrigin) {
    return { status: 403, message: `requests from browser pages (Origin: ${origin}) are not accepted` };
  }
  if (!requireToken) return undefined;
  const auth = req.headers.authorization ?? '';
  let given = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
  if (!given && allowQueryToken) {
    given = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
  }
  if (!given) return { status: 401, message: 'missing token: send "Authorization: Bearer <token>"' };
  if (!sameToken(given, token)) return { status: 401, message: 'wrong token' };
  return undefined;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v)?.trim().toLowerCase();
};

/**
 * What gives a request away as sent by a page of another site, or undefined when nothing does.
 * A browser adds Sec-Fetch-Site to every request (an <img>, a form, a no-cors fetch, which
 * carry no Origin) and Origin to CORS and POST requests; neither can a page remove. `none` (the
 * user typed the URL) and `same-origin` (a page this runner served) are fine; so is a request
 * without these headers — curl and other programs do not send them.
 */
export function browserCaller(req: IncomingMessage, port: number): string | undefined {
  const origin = header(req, 'origin');
  const own = [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`];
  if (origin !== undefined && !own.includes(origin)) return `Origin: ${origin}`;
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined && site !== 'none' && site !== 'same-origin') return `Sec-Fetch-Site: ${site}`;
  return undefined;
}
