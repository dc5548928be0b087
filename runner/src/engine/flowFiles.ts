/**
 * Where a flow name points: `my-child-flow` is `<flows folder>/my-child-flow.py`. A name that
 * would leave the flows folder, by `..` or through a symbolic link, is refused, so an API caller
 * cannot run arbitrary files.
 */
import fs from 'node:fs';
import path from 'node:path';

export type FlowLookup = { ok: true; path: string } | { ok: false; reason: string };

export function resolveFlow(flowsDir: string, name: string): FlowLookup {
  if (name.includes('\0') || path.isAbsolute(name) || /^[a-zA-Z]:/.test(name)) {
    return { ok: false, reason: `flow name '${name}' must be a path relative to the flows folder` };
  }
  const file = path.resolve(flowsDir, name.endsWith('.py') ? name : `${name}.py`);
  const rel = path.relative(path.resolve(flowsDir), file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    return { ok: false, reason: `flow name '${name}' points outside the flows folder` };
  }
  if (!fs.existsSync(file)) {
    return { ok: false, reason: `flow '${name}' not found: there is no ${rel} in ${flowsDir}` };
  }
  // A symbolic link (of the file or a folder on its way) must not lead out of the folder either.
  // .native: one realpath(3) call, not an lstat per path component (it is on every start).
  const real = path.relative(fs.realpathSync.native(flowsDir), fs.realpathSync.native(file));
  if (real.startsWith('..') || path.isAbsolute(real)) {
    return { ok: false, reason: `flow '${name}' is a link to a file outside the flows folder` };
  }
  return { ok: true, path: file };
}

/** The flow name of a file: its path relative to the flows folder, `/`-separated, without .py. */
export function flowNameOf(flowsDir: string, file: string): string {
  return path.relative(flowsDir, file).replace(/\\/g, '/').replace(/\.py$/, '');
}
