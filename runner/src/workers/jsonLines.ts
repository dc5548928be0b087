/**
 * Newline-delimited JSON over a byte stream: the framing of every channel between the runner and
 * its Python processes. A line longer than `maxLine` is a protocol error, not a memory leak, and
 * a line nested deeper than `maxDepth` is one too, not a stack overflow later (protocol/limits.ts).
 */
import type { Readable } from 'node:stream';
import { JsonTooDeepError, MAX_WIRE_DEPTH, MAX_WIRE_LINE_BYTES, checkJsonDepth } from '@flows/protocol';

export interface JsonLinesLimits {
  /** Bytes of one line (default MAX_WIRE_LINE_BYTES). */
  maxLine?: number;
  /** Nesting of one line's JSON (default MAX_WIRE_DEPTH). */
  maxDepth?: number;
}

/**
 * Calls `onMessage` for each JSON line, `onError` for each bad one (not JSON, too long, or too
 * deep: a JsonTooDeepError) and for anything `onMessage` throws: a bad line is its sender's
 * problem, never an uncaught exception in the runner.
 */
export function readJsonLines(
  stream: Readable,
  onMessage: (msg: unknown) => void,
  onError: (err: Error) => void,
  limits: JsonLinesLimits = {},
): void {
  const maxLine = limits.maxLine ?? MAX_WIRE_LINE_BYTES;
  const maxDepth = limits.maxDepth ?? MAX_WIRE_DEPTH;
  let buffered: Buffer[] = [];
  let bufferedBytes = 0;
  stream.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      const line = buffered.length
        ? Buffer.concat([...buffered, piece]).toString('utf8')
        : piece.toString('utf8');
      buffered = [];
      bufferedBytes = 0;
      start = nl + 1;
      if (line.length === 0) continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        onError(new Error(`not JSON: ${line.slice(0, 200)}`));
        continue;
      }
      const tooDeep = checkJsonDepth(msg, maxDepth);
      if (tooDeep) {
        onError(new JsonTooDeepError(tooDeep));
        continue;
      }
      try {
        onMessage(msg);
      } catch (err) {
        onError(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (start < chunk.length) {
      buffered.push(chunk.subarray(start));
      bufferedBytes += chunk.length - start;
      if (bufferedBytes > maxLine) {
        buffered = [];
        bufferedBytes = 0;
        onError(new Error(`message longer than ${maxLine} bytes`));
      }
    }
  });
}

export const jsonLine = (msg: unknown): string => `${JSON.stringify(msg)}\n`;
