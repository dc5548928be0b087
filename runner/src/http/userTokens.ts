/**
 * Who is calling: the runner's own token (the data folder's runner.token, or --token) is the
 * user "local", as every caller was before there were users; a user's token (`flows token
 * create NAME`) is that user. Users' tokens live in the store, so every node of a team shares
 * them, and only as a hash.
 *
 * Why SHA-256, and not a password hash (scrypt, argon2): a token is 256 random bits the runner
 * made, not a password a person chose. A slow hash defends guessable secrets against a stolen
 * table; nothing guesses 2^256, so it would only cost every request (and every node) ~50 ms of
 * CPU for nothing. A plain SHA-256 still makes a copy of the table (a backup, a read-only role)
 * useless for logging in, and lets the lookup go by the hash (a unique index) instead of trying
 * a slow hash against every user's row.
 *
 * Constant time: the runner's own token is compared with timingSafeEqual. A user's token is
 * found by its hash; an index lookup's timing can tell at most how the hash of a token the caller
 * made up compares with stored hashes, which gives no way to a token that has one (that would
 * take a SHA-256 preimage). The hash found is compared once more with timingSafeEqual anyway.
 *
 * Revocation: a lookup is kept for at most CACHE_MS (1 s), found or not, so a token revoked on
 * one node (or by `flows token revoke` against the database) is refused on every node within a
 * second, while a busy client costs the database one lookup a second, not one per request.
 */
import crypto from 'node:crypto';
import type { CreatedUserToken } from '@flows/protocol';
import { Conflict, Invalid, NotFound } from '../engine/errors';
import type { Store } from '../store/store';

/** How long a lookup (a user found, or no user) is believed. */
export const CACHE_MS = 1_000;
/** How often a token's last use is written, at most (flows token list shows it). */
const TOUCH_MS = 60_000;
/** Lookups kept at most; more (a flood of made-up tokens) start the cache afresh. */
const CACHE_MAX = 10_000;

/** The user of the runner's own token (and of everything the CLI starts itself). */
export const LOCAL_USER = 'local';

/** The prefix of users' tokens: secret scanners and people can tell one at a glance. */
const PREFIX = 'flows_';

/** A new user token: 256 random bits, base64url, with a prefix. */
export function newUserToken(): string {
  return PREFIX + crypto.randomBytes(32).toString('base64url');
}

/** What the store keeps of a token: its SHA-256, hex. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/**
 * Why `name` cannot name a user, or undefined when it can: a name appears in every execution it
 * starts (started_by), in logs and in the CLI's tables, so it is one plain word; "local" and
 * names that start like "schedule " or "webhook " would pass for the runner's own.
 */
export function badUserName(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 64) return `is ${name.length} characters long; at most 64`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]*$/.test(name))
    return `'${name}' may hold only letters, digits and . _ @ - (no spaces), starting with a letter or digit`;
  if (name.toLowerCase() === LOCAL_USER) return `'${name}' is the runner's own token's user`;
  return undefined;
}

interface Lookup {
  until: number;
  user: Promise<{ name: string; hash: string } | undefined>;
}

/** The users' tokens that the HTTP server accepts, besides the runner's own. */
export class TokenCheck {
  private readonly cache = new Map<string, Lookup>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly store: Pick<Store, 'findUserToken' | 'touchUserToken'>,
    private readonly localToken: string,
    private readonly log: (msg: string) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The user `token` belongs to, or undefined when it is nobody's (never was, or revoked). */
  async userOf(token: string): Promise<string | undefined> {
    if (sameSecret(token, this.localToken)) return LOCAL_USER;
    const hash = hashToken(token);
    const t = this.now();
    let hit = this.cache.get(hash);
    if (!hit || hit.until <= t) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      // One lookup for the requests of the same second (a client sends several at once).
      hit = {
        until: t + CACHE_MS,
        user: this.store.findUserToken(hash).then((u) => u && { name: u.name, hash: u.hash }),
      };
      this.cache.set(hash, hit);
      // A failed lookup is not believed for a second: the next request asks again.
      hit.user.catch(() => this.cache.delete(hash));
    }
    const found = await hit.user;
    if (!found || !sameSecret(found.hash, hash)) return undefined;
    this.touch(found.name, t);
    return found.name;
  }

  /** Writes the last use now and then, never holding up the request. */
  private touch(name: string, t: number): void {
    if ((this.touched.get(name) ?? -Infinity) > t - TOUCH_MS) return;
    if (this.touched.size >= CACHE_MAX) this.touched.clear();
    this.touched.set(name, t);
    this.store
      .touchUserToken(name, new Date(t).toISOString())
      .catch((err: Error) => this.log(`noting the use of ${name}'s token failed: ${err.message}`));
  }
}

/** Where users' tokens are managed: a store (`flows token` on the database, the REST routes). */
export type TokenAdmin = Pick<Store, 'createUserToken' | 'revokeUserToken' | 'listUserTokens'>;

/**
 * Makes `name`'s token and answers it, the one time it is seen: Invalid (naming `name`) for a
 * name that cannot be a user's, Conflict when the user has a token already (one per user:
 * revoke it first).
 */
export async function createUserToken(admin: TokenAdmin, name: string): Promise<CreatedUserToken> {
  const bad = badUserName(name);
  if (bad) throw new Invalid(`the user's name ${bad}`, 'name');
  const token = newUserToken();
  const created_at = new Date().toISOString();
  if (!(await admin.createUserToken({ name, hash: hashToken(token), created_at })))
    throw new Conflict(`${name} has a token already (one per user): revoke it first`, 'name');
  return { name, token, created_at };
}

/** Revokes `name`'s token: every node refuses it within CACHE_MS. NotFound for a name without one. */
export async function revokeUserToken(admin: TokenAdmin, name: string): Promise<void> {
  if (!(await admin.revokeUserToken(name))) {
    const known = (await admin.listUserTokens()).map((t) => t.name);
    throw new NotFound(
      `no user named ${JSON.stringify(name)} has a token${known.length ? ` (users with one: ${known.join(', ')})` : ''}`,
      'name',
    );
  }
}
