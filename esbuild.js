// Bundles the four entry points into dist/. Type-checking is `tsc --noEmit` (kept apart, as in
// the esbuild-sample): esbuild only strips types, so a build never waits for the checker.
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

/** Entry points that exist yet; each is its own bundle so layers never import each other's code. */
const targets = [
  { in: 'client/extension.ts', out: 'extension', external: ['vscode'] },
  { in: 'server/server.ts', out: 'server', external: [] },
  { in: 'debug-adapter/debugAdapter.ts', out: 'debugAdapter', external: [] },
  // pg's optional native binding (pg-native, a C addon) is never used: pg's pure-JS client is.
  { in: 'runner/src/main.ts', out: 'runner', external: ['pg-native'] },
  // The store's thread (runner/src/store/threadedStore.ts starts it beside runner.js).
  { in: 'runner/src/store/storeThread.ts', out: 'storeThread', external: [] },
].filter((t) => fs.existsSync(t.in));

/** Files that must sit beside the bundles at run time (WASM modules, the Python package). */
function copyAssets() {
  const copies = [
    ['node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.wasm', 'dist/node-sqlite3-wasm.wasm'],
    ['node_modules/web-tree-sitter/tree-sitter.wasm', 'dist/tree-sitter.wasm'],
    ['node_modules/web-tree-sitter/web-tree-sitter.wasm', 'dist/web-tree-sitter.wasm'],
    ['node_modules/tree-sitter-python/tree-sitter-python.wasm', 'dist/tree-sitter-python.wasm'],
  ];
  for (const [from, to] of copies) {
    if (fs.existsSync(from)) fs.copyFileSync(from, to);
  }
  fs.rmSync('dist/python', { recursive: true, force: true });
  fs.cpSync('runner/python', 'dist/python', {
    recursive: true,
    filter: (src) =>
      !src.includes('__pycache__') &&
      !src.endsWith('.pyc') &&
      !src.includes(`${path.sep}tests`) &&
      !src.startsWith(path.join('runner', 'python', 'tools')), // the build-time generator: not shipped
  });
  if (fs.existsSync('server/stubs')) fs.cpSync('server/stubs', 'dist/stubs', { recursive: true });
}

async function main() {
  fs.mkdirSync('dist', { recursive: true });
  const contexts = await Promise.all(
    targets.map((t) =>
      esbuild.context({
        entryPoints: { [t.out]: t.in },
        bundle: true,
        format: 'cjs',
        platform: 'node',
        target: 'node20',
        outdir: 'dist',
        external: t.external,
        sourcemap: !production,
        minify: production,
        logLevel: 'warning',
        metafile: true,
        // The metafile says which source files each bundle holds (test/bundles.test.ts checks
        // that the layers stay apart).
        plugins: [
          {
            name: 'metafile',
            setup(build) {
              build.onEnd((result) => {
                if (result.metafile) {
                  fs.writeFileSync(`dist/${t.out}.meta.json`, JSON.stringify(result.metafile));
                }
              });
            },
          },
        ],
      }),
    ),
  );
  copyAssets();
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
