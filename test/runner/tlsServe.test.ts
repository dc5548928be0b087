/**
 * `flows serve` beyond loopback (team mode): refused without TLS or an explicit proxy opt-in;
 * over HTTPS and WSS with --tls-cert/--tls-key, the token, Origin and Host checks all stay, and
 * --public-host lets in the name clients use.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import WebSocket from 'ws';
import { WS_PATH } from '../../protocol';
import { freePort } from '../support/freePort';
import { flowsFolder, runCli, serveRunner, tempDir, type ServedRunner } from './harness';

/** A self-signed certificate for 127.0.0.1 and localhost, or why there is none. */
function selfSigned(dir: string): { cert: string; key: string } | { missing: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:flows.example',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'pipe' },
    );
  } catch (err) {
    return { missing: `openssl cannot make a test certificate: ${(err as Error).message}` };
  }
  return { cert, key };
}

/** One HTTPS GET that trusts `ca`, with headers of the test's choosing. */
function get(
  url: string,
  ca: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, headers, servername: 'localhost' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('flows serve beyond loopback: TLS, or refused', function () {
  this.timeout(60_000);
  const flows = flowsFolder({ 'hello.py': "def handler(system, this):\n    return 'hi'\n" });

  it('refuses a non-loopback --host without TLS, naming the options, and half a key pair', async () => {
    const open = await runCli([
      'serve',
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--flows',
      flows,
      '--data',
      tempDir(),
    ]);
    assert.equal(open.status, 2);
    assert.match(
      open.stderr,
      /--host 0\.0\.0\.0 reaches beyond this machine.*--tls-cert and --tls-key.*--insecure-behind-proxy/,
    );
    const half = await runCli(['serve', '--tls-cert', '/nowhere.pem', '--flows', flows, '--data', tempDir()]);
    assert.equal(half.status, 2);
    assert.match(half.stderr, /--tls-cert and --tls-key go together/);
    const unreadable = await runCli([
      'serve',
      '--tls-cert',
      '/nowhere/cert.pem',
      '--tls-key',
      '/nowhere/key.pem',
      '--flows',
      flows,
      '--data',
      tempDir(),
    ]);
    assert.equal(unreadable.status, 2);
    assert.match(unreadable.stderr, /--tls-cert \/nowhere\/cert\.pem: cannot read it \(ENOENT\)/);
  });

  describe('over HTTPS', () => {
    let served: ServedRunner | undefined;
    let ca: Buffer;
    let port: number;
    before(async function () {
      const pair = selfSigned(tempDir());
      if ('missing' in pair) {
        process.stdout.write(`      skipped: ${pair.missing}\n`);
        this.skip();
      }
      ca = fs.readFileSync(pair.cert);
      port = await freePort();
      served = await serveRunner([
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--tls-cert',
        pair.cert,
        '--tls-key',
        pair.key,
        '--public-host',
        'flows.example',
        '--flows',
        flows,
        '--data',
        tempDir(),
      ]);
    });
    after(() => served?.child.kill('SIGTERM'));

    it('answers over HTTPS with the token, and keeps the token, Origin and Host checks', async () => {
      const s = served!;
      assert.equal(s.ready.url, `https://127.0.0.1:${port}`);
      const url = `${s.ready.url}/api/latest/execution?limit=1`;
      const auth = { authorization: `Bearer ${s.token}` };
      assert.equal((await get(url, ca, auth)).status, 200);
      assert.equal((await get(url, ca, {})).status, 401);
      const page = await get(url, ca, { ...auth, origin: 'https://evil.example' });
      assert.equal(page.status, 403);
      assert.equal((await get(url, ca, { ...auth, host: 'flows.example:' + port })).status, 200);
      const other = await get(url, ca, { ...auth, host: `rebound.example:${port}` });
      assert.equal(other.status, 403);
      assert.match(other.body, /Host 'rebound\.example:\d+' is not this runner/);
    });

    it('serves the WebSocket as WSS', async () => {
      const s = served!;
      const ws = new WebSocket(`wss://127.0.0.1:${port}${WS_PATH}`, {
        ca,
        headers: { authorization: `Bearer ${s.token}` },
      });
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('message', (d) => resolve(d.toString()));
        ws.once('error', reject);
      });
      ws.close();
      assert.equal(JSON.parse(first).type, 'hello');
    });
  });
});
