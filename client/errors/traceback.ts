/**
 * Where a failed execution broke, read from its log: the worker writes the traceback to stderr,
 * trimmed to the flow's own frames (runner/python/flows_worker/failure.py), so the last
 * `File "…", line N` of the last traceback is the deepest line of the flow's code. Free of
 * `vscode`, so it is unit-tested in plain Node.
 */
import * as path from 'node:path';

export interface ErrorLocation {
  /** Absolute path of the file, as Python named it. */
  file: string;
  /** 1-based, as Python counts. */
  line: number;
}

/** `  File "/flows/order.py", line 12, in handler` */
export const TRACEBACK_FRAME = /File "([^"]+)", line (\d+)/;

/**
 * The deepest frame of the last traceback in `lines` (log texts, oldest first), or undefined
 * when there is none. Frames of ad-hoc scripts (`<script>`) and other pseudo-files are skipped.
 */
export function errorLocation(lines: readonly string[]): ErrorLocation | undefined {
  let start = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].startsWith('Traceback (most recent call last)')) {
      start = i;
      break;
    }
  }
  if (start < 0) return undefined;
  let found: ErrorLocation | undefined;
  for (let i = start + 1; i < lines.length; i++) {
    const m = TRACEBACK_FRAME.exec(lines[i]);
    if (m && !m[1].startsWith('<')) found = { file: m[1], line: Number(m[2]) };
  }
  return found;
}

/**
 * A deployed flow's file on a runner (team mode): `<data>/flow-cache/<SHA-256>/<name>.py`
 * (runner/src/flows/deployedFlows.ts), the flow `<name>` as deployed from a folder.
 */
const CACHED_FLOW = /[\\/]flow-cache[\\/][0-9a-f]{64}[\\/](.+\.py)$/;

/**
 * The file of this workspace a runner's path stands for: a deployed flow's cache file is that
 * flow's file in the flows folder (the folder it was deployed from); any other path is itself.
 */
export function localFile(file: string, flowsFolder: string | undefined): string {
  const m = CACHED_FLOW.exec(file);
  if (!m || !flowsFolder) return file;
  return path.join(flowsFolder, ...m[1].split(/[\\/]/));
}
