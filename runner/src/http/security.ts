/**
 * The runner's front door. It listens on loopback only, but loopback is reachable from every
 * browser tab on the machine, so: a bearer token on every request, no browser Origins (a page
 * cannot forge that header away), and a Host check against DNS rebinding. The token is the
 * runner's own or a user's (userTokens.ts); which one says who the caller is.
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const newToken = (): string => crypto.randomBytes(24).toString('base64url');

export type Refusal = { status: 401 | 403 | 503; message: string };

/** The user a token belongs to, or undefined when it is nobody's (userTokens.ts TokenCheck). */
export type UserOf = (token: string) => Promise<string | undefined>;

/**
 * Why a request must be refused, or who sent it: `user` is the name its token belongs to
 * ("local" for the runner's own), undefined when the route needs no token (`requireToken`
 * false: it authenticates its callers itself).
 */
export async function admit(
  req: IncomingMessage,
  userOf: UserOf,
  port: number,
  allowQueryToken: boolean,
  requireToken = true,
  checkOrigin = true,
  publicHosts: readonly string[] = [],
): Promise<{ refusal: Refusal } | { refusal?: undefined; user: string | undefined }> {
  const host = (req.headers.host ?? '').toLowerCase();
  const allowedHosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, ...publicHosts];
  if (!allowedHosts.includes(host)) {
    return {
      refusal: { status: 403, message: `Host '${host}' is not this runner (expected 127.0.0.1:${port})` },
    };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && checkOrigin) {
    return {
      refusal: { status: 403, message: `requests from browser pages (Origin: ${origin}) are not accepted` },
    };
  }
  if (!requireToken) return { user: undefined };
  const given = givenToken(req, allowQueryToken);
  if (!given)
    return { refusal: { status: 401, message: 'missing token: send "Authorization: Bearer <token>"' } };
  let user: string | undefined;
  try {
    user = await userOf(given);
  } catch (err) {
    // The users' tokens are in the database: without it, nobody can be told apart.
    return {
      refusal: { status: 503, message: `cannot check the token now: ${(err as Error).message}` },
    };
  }
  // The same answer for a token that never was and one that was revoked: neither tells which.
  if (user === undefined) return { refusal: { status: 401, message: 'wrong token' } };
  return { user };
}

/** The token a request carries: its bearer token, else (`allowQueryToken`) `?token=`; '' for none. */
export function givenToken(req: IncomingMessage, allowQueryToken = true): string {
  const auth = req.headers.authorization ?? '';
  const given = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
  if (given || !allowQueryToken) return given;
  return new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
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
