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
): Refusal | undefined {
  const host = (req.headers.host ?? '').toLowerCase();
  const allowedHosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  if (!allowedHosts.includes(host)) {
    return { status: 403, message: `Host '${host}' is not this runner (expected 127.0.0.1:${port})` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
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
