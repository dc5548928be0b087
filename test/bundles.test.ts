/**
 * The layers stay apart in what ships: each bundle's esbuild metafile (written by esbuild.js)
 * lists the source files it holds. The extension talks to the runner over HTTP and WebSocket;
 * none of the runner's code (engine, store, HTTP server, scheduler, SQLite) belongs in it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const DIST = path.resolve(__dirname, '../dist');

function inputsOf(bundle: string): string[] {
  const file = path.join(DIST, `${bundle}.meta.json`);
  assert.ok(fs.existsSync(file), `${file} is missing: run npm run build first`);
  const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    outputs: Record<string, { entryPoint?: string; inputs: Record<string, unknown> }>;
  };
  const out = Object.values(meta.outputs).find((o) => o.entryPoint);
  return Object.keys(out!.inputs);
}

describe('bundles: each layer ships only its own code', () => {
  it('the extension bundle holds no runner code, SQLite or cron library', () => {
    const leaks = inputsOf('extension').filter((f) =>
      /^runner\/|node_modules\/(node-sqlite3-wasm|croner)\//.test(f),
    );
    assert.deepEqual(leaks, []);
  });

  it('the standalone debug adapter holds no runner code: it starts dist/runner.js as a process', () => {
    const leaks = inputsOf('debugAdapter').filter((f) =>
      /^(runner|client|server)\/|node_modules\/(node-sqlite3-wasm|croner)\//.test(f),
    );
    assert.deepEqual(leaks, []);
  });

  it('the language server bundle holds neither the runner nor the extension', () => {
    const leaks = inputsOf('server').filter((f) => /^(runner|client|debug-adapter)\//.test(f));
    assert.deepEqual(leaks, []);
  });

  it('the runner bundle holds neither the extension nor the language server', () => {
    const leaks = inputsOf('runner').filter((f) => /^(client|server|debug-adapter)\//.test(f));
    assert.deepEqual(leaks, []);
  });
});

describe('the .vsix ships every bundle it starts', () => {
  it('names each bundle of esbuild.js in .vscodeignore, but the standalone debug adapter', () => {
    const ignore = fs.readFileSync(path.resolve(__dirname, '../.vscodeignore'), 'utf8').split('\n');
    const bundles = fs
      .readdirSync(DIST)
      .filter((f) => f.endsWith('.meta.json'))
      .map((f) => f.slice(0, -'.meta.json'.length))
      .filter((b) => b !== 'debugAdapter');
    assert.ok(bundles.includes('storeThread'), 'the store thread is a bundle of its own');
    assert.deepEqual(
      bundles.filter((b) => !ignore.includes(`!dist/${b}.js`)),
      [],
      'bundles left out of the .vsix',
    );
  });
});
