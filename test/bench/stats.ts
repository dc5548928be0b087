/** Small helpers shared by the benchmarks: percentiles, a uniform figure line, the machine's CPU. */
import fs from 'node:fs';

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

/** Busy and total CPU time of the whole machine, in ticks (Linux /proc/stat; zeros elsewhere). */
export function machineCpu(): { busy: number; total: number } {
  try {
    const [, ...f] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const n = f.map(Number);
    const idle = n[3] + n[4];
    const total = n.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 1 };
  }
}
