/**
 * The layers are npm workspace packages. `tsc -b` refuses an import of a package a tsconfig
 * does not reference (TS6307); this test keeps the three descriptions of a package's
 * dependencies in agreement, so that none of them can drift into a lie: what its sources import,
 * what its package.json declares, and what its tsconfig references.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const rootManifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  workspaces: string[];
};

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
}

/** Folder of each workspace package, by package name. */
const folders = new Map<string, string>(
  rootManifest.workspaces.map((dir) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as Manifest;
    return [manifest.name, dir];
  }),
);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'python') out.push(...sources(full));
    } else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/** The package a module specifier names (`@scope/name/sub` → `@scope/name`); undefined for a relative one. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)'([^']+)'/g)) found.push(m[1]);
  return found;
}

describe('packages: each layer is a workspace package that imports only what it declares', () => {
  it('has the six layers as workspaces', () => {
    assert.deepEqual([...folders.keys()].sort(), [
      '@flows/client',
      '@flows/debug-adapter',
      '@flows/protocol',
      '@flows/runner',
      '@flows/runner-client',
      '@flows/server',
    ]);
  });

  for (const [name, dir] of folders) {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as Manifest;
    const declared = new Set(Object.keys(manifest.dependencies ?? {}));
    // vscode is the extension host's own module; only the extension may import it.
    if (name === '@flows/client') declared.add('vscode');

    it(`${name} imports only its declared dependencies, and never another package's files`, () => {
      const undeclared = new Set<string>();
      const reachingOut: string[] = [];
      for (const file of sources(path.join(ROOT, dir))) {
        for (const spec of importsOf(file)) {
          const pkg = packageOf(spec);
          if (pkg && !builtinModules.includes(pkg) && !declared.has(pkg)) {
            undeclared.add(`${pkg} (${path.relative(ROOT, file)})`);
          }
          if (spec.startsWith('.')) {
            const target = path.resolve(path.dirname(file), spec);
            if (!target.startsWith(path.join(ROOT, dir) + path.sep)) {
              reachingOut.push(`${path.relative(ROOT, file)} → ${spec}`);
            }
          }
        }
      }
      assert.deepEqual([...undeclared], [], 'imported but not in package.json');
      assert.deepEqual(reachingOut, [], 'a relative import into another package: import it by name');
    });

    it(`${name}'s tsconfig references exactly its @flows dependencies`, () => {
      const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, dir, 'tsconfig.json'), 'utf8')) as {
        compilerOptions: { composite?: boolean };
        references?: { path: string }[];
      };
      assert.equal(tsconfig.compilerOptions.composite ?? true, true);
      const referenced = (tsconfig.references ?? [])
        .map((r) => path.relative(ROOT, path.resolve(ROOT, dir, r.path)))
        .sort();
      const wanted = [...declared]
        .filter((d) => folders.has(d))
        .map((d) => folders.get(d)!)
        .sort();
      assert.deepEqual(referenced, wanted);
    });
  }
});
