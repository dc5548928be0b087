/** Requests with a user's token, and waiting out the runner's token cache (http/userTokens.ts). */
import { CACHE_MS } from '../../runner/src/http/userTokens';
import { until } from './until';

/** A REST request to the runner at `runner.ready.url` with `token` (not the runner's own). */
export async function requestAs(
  runner: { ready: { url: string } },
  token: string,
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${runner.ready.url}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Resolves once CACHE_MS has passed since `since` (when a token was revoked): every lookup made
 * before it has expired by then, so a request sent after this is refused on every node, however
 * busy the machine.
 */
export async function pastTokenCache(since: number): Promise<void> {
  await until(
    async () => Date.now(),
    (t) => t > since + CACHE_MS,
    'the token cache time to pass',
    5_000,
    20,
  );
}
