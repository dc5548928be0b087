/**
 * Where in a flow file a failed expectation of its end is shown: a changed output at the line
 * that sets it (`this.save(output_value=…)`, `set_output(…)`) or else at the handler's `return`,
 * a changed status or message at the `return`, and at `def handler` when neither is there. Read
 * from the source (the last such line of the handler's body), not from the run: a worker reports
 * no line for a handler that returns, and tracing it to learn one would slow every replay.
 */

export interface HandlerLines {
  /** 1-based line of `def handler`, when there is one. */
  def?: number;
  /** The last line of the handler that returns. */
  end?: number;
  /** The last line of the handler that sets its output, else `end`. */
  output?: number;
}

export function handlerLines(source: string): HandlerLines {
  const lines = source.split(/\r?\n/);
  const def = lines.findIndex((l) => /^(async\s+)?def\s+handler\s*\(/.test(l));
  if (def < 0) return {};
  let end: number | undefined;
  let output: number | undefined;
  for (let i = def + 1; i < lines.length; i++) {
    const l = lines[i];
    // The body ends at the next line that starts at the margin (and is code, not a comment).
    if (/^\S/.test(l) && !l.startsWith('#') && !/^[)\]}]/.test(l)) break;
    if (/^\s+return\b/.test(l)) end = i + 1;
    if (/\boutput_value\s*=|\bset_output\s*\(/.test(l)) output = i + 1;
  }
  return { def: def + 1, end: end ?? def + 1, output: output ?? end ?? def + 1 };
}
