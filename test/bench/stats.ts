/** Small helpers shared by the benchmarks: percentiles and a uniform figure line. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const ms = (n: number): string => `${n.toFixed(2)} ms`;

export function figure(name: string, value: string, note = ''): void {
  process.stdout.write(`  ${name.padEnd(48)} ${value.padStart(14)}  ${note}\n`);
}

/** Prints whether a target holds; benchmarks report, they do not fail the build. */
export function target(what: string, ok: boolean): void {
  process.stdout.write(`  target ${ok ? 'MET   ' : 'MISSED'} ${what}\n`);
}
