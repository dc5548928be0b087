/**
 * Newline-delimited JSON over a byte stream: the framing of every channel between the runner and
 * its Python processes. A line longer than `maxLine` is a protocol error, not a memory leak.
 */
import type { Readable } from 'node:stream';

export function readJsonLines(
  stream: Readable,
  onMessage: (msg: unknown) => void,
  onError: (err: Error) => void,
  maxLine = 64 * 1024 * 1024,
): void {
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
      onMessage(msg);
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
