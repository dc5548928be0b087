/**
 * Language server benchmark: completion latency right after typing `this.` at 200 places of a
 * generated 5,000-line flow (a first pass, reported apart, then two measured ones), and hover
 * latency, over stdio with a real LSP client; the same
 * harness then drives pyright's language server (with the shipped flow_api stubs) for the
 * ratio. Also: parse / analysis time and memory for the 5,000-line file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  CompletionRequest,
  CompletionResolveRequest,
  HoverRequest,
  type CompletionItem,
  type CompletionList,
} from 'vscode-languageserver-protocol/node';
import { Analyzer } from '../../server/analysis';
import { completions } from '../../server/completion';
import { FlowDocument } from '../../server/document';
import { loadParser } from '../../server/parser';
import { generateFlow } from '../server/generateFlow';
import { ensureServerBuilt, fileUri, LspClient, REPO, SERVER_JS } from '../server/lspClient';
import { figure, ms, percentile, target } from './stats';

/** The server measured: dist/server.js, or another build to compare with (`FLOWS_BENCH_SERVER`). */
const SERVER_BUNDLE = process.env.FLOWS_BENCH_SERVER ?? SERVER_JS;
/** The generated flow_api stubs (runner/python/tools/gen_api.py). */
const STUBS = path.join(REPO, 'server', 'stubs');
const LINES = 5000;
const POSITIONS = 200;
/** Completion p99 the issue asks for (issue 16), in every figure. */
const P99_TARGET_MS = 5;
const TEXT = generateFlow(LINES);
const lines = TEXT.split('\n');
/** The unclosed call typed above the cursor for the broken-neighbour figure. */
const BROKEN_LINE = '    x = foo(1,\n';
/** What the typing figures type, one character a keystroke: the second line needs the first. */
const TYPED = "    c = this.flow('child')\n    c.";
/** Places where `TYPED` is typed (each ${TYPED.length} keystrokes). */
const TYPING_POSITIONS = 25;
/**
 * Pauses between keystrokes, ms: a steady typist with bursts and hesitations (a fixed
 * pseudo-random sequence, so runs compare). Spans the reparse delay (30 ms) on both sides, so
 * keystrokes land before, during and after the reparse the previous one started.
 */
function pauses(n: number): number[] {
  let seed = 16;
  return Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return 20 + (seed % 121);
  });
}

interface Measured {
  /** The first pass over the positions, right after the document was opened. */
  firstPass: number[];
  completion: number[];
  /** Completion after `this.` typed below a line left broken (`    x = foo(1,`), our server only. */
  broken?: number[];
  /**
   * Completion after every keystroke while `TYPED` is typed at a human pace, not waiting for
   * the server between keystrokes (our server only): plainly, and below a broken line.
   */
  typing?: { plain: number[]; broken: number[] };
  hover: number[];
  rssMb?: number;
  openMs: number;
  /** Transport baseline (our server only): a no-op request instead of the completion. */
  noop?: { inLoop: number[]; idle: number[] };
}

/** Lines before which `    this.` is typed (inside step functions, where `this` is annotated). */
function completionLines(): number[] {
  const candidates = lines.flatMap((l, i) => (l.startsWith('    this.save(') ? [i] : []));
  return spread(candidates, POSITIONS);
}

/** Positions of `flow` in `this.flow(` for hovers. */
function hoverPositions(): { line: number; character: number }[] {
  const candidates = lines.flatMap((l, i) =>
    l.includes('this.flow(') ? [{ line: i, character: l.indexOf('this.flow(') + 6 }] : [],
  );
  return spread(candidates, POSITIONS);
}

function spread<T>(items: T[], n: number): T[] {
  if (items.length < n) throw new Error(`only ${items.length} candidate positions`);
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]);
}

/** A heap delta: a collection in between can make it negative. */
const signedMb = (bytes: number) => `${bytes < 0 ? '−' : '+'}${(Math.abs(bytes) / 1048576).toFixed(1)} MB`;

function rssMb(pid: number | undefined): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kb ? kb / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const itemsOf = (r: CompletionItem[] | CompletionList | null) => (Array.isArray(r) ? r : (r?.items ?? []));

async function measure(
  name: string,
  command: string,
  args: string[],
  root: string,
  withBaseline = false,
): Promise<Measured> {
  const file = path.join(root, 'big-flow.py');
  const uri = fileUri(file);
  const client = await LspClient.start({
    command,
    args,
    root,
    settings: {
      'python.analysis': { stubPath: STUBS, diagnosticMode: 'openFilesOnly' },
    },
  });
  try {
    const t0 = performance.now();
    await client.open(uri, TEXT);
    await client.diagnosticsFor(uri, 1, 120_000);
    const openMs = performance.now() - t0;

    /**
     * Types `    this.` before `line` (below `above`, lines typed first when given), times
     * `request`, then reverts and waits until idle again.
     */
    const typeThisAt = async <T>(
      line: number,
      request: () => Promise<T>,
      above = '',
    ): Promise<[number, T]> => {
      const at = { line, character: 0 };
      const added = above.split('\n').length; // the lines of `above` and the `this.` line
      await client.change(uri, [{ range: { start: at, end: at }, text: `${above}    this.\n` }]);
      const start = performance.now();
      const result = await request();
      const elapsed = performance.now() - start;
      const reverted = await client.change(uri, [
        { range: { start: at, end: { line: line + added, character: 0 } }, text: '' },
      ]);
      await client.diagnosticsFor(uri, reverted, 120_000); // idle again, as between keystrokes
      return [elapsed, result];
    };

    // Passes over the same positions: the first one warms up the server's JIT (and the
    // harness's) and is reported on its own; the next two are the steady state of a session,
    // measured together: with 200 samples the p99 is the third-slowest request, so that three
    // scheduler stalls of this shared 2-core host decide it; with 400 it is the fifth-slowest.
    const pass = async (above = ''): Promise<number[]> => {
      const times: number[] = [];
      const below = above ? above.split('\n').length - 1 : 0;
      for (const [i, line] of completionLines().entries()) {
        const [elapsed, result] = await typeThisAt(
          line,
          () =>
            client.connection.sendRequest(CompletionRequest.type, {
              textDocument: { uri },
              position: { line: line + below, character: 9 },
            }),
          above,
        );
        times.push(elapsed);
        if (i === 0 && !itemsOf(result).some((item) => item.label === 'sleep_until'))
          throw new Error(
            `${name}: completion after \`this.\`${above ? ' below a broken line' : ''} does not list the Execution methods`,
          );
      }
      return times;
    };
    const firstPass = await pass();
    const completion = [...(await pass()), ...(await pass())];
    const broken = withBaseline ? [...(await pass(BROKEN_LINE)), ...(await pass(BROKEN_LINE))] : undefined;

    const typing = withBaseline
      ? { plain: await typeAsUser(client, uri), broken: await typeAsUser(client, uri, BROKEN_LINE) }
      : undefined;

    const hover: number[] = [];
    for (const [i, position] of hoverPositions().entries()) {
      const start = performance.now();
      const result = await client.connection.sendRequest(HoverRequest.type, {
        textDocument: { uri },
        position,
      });
      hover.push(performance.now() - start);
      if (i === 0 && !JSON.stringify(result?.contents ?? '').includes('flow'))
        throw new Error(`${name}: hover on \`flow\` shows no documentation`);
    }
    const rss = rssMb(client.pid);

    // The transport and the host without the completion's work: `completionItem/resolve` of an
    // item with no data is answered as it came, without touching a document. Timed in the same
    // edit loop (the request in place of the completion) and on an idle server; after the hovers and
    // the memory figure, so that those are taken as before.
    let noop: Measured['noop'];
    if (withBaseline) {
      const resolve = () => client.connection.sendRequest(CompletionResolveRequest.type, { label: 'noop' });
      const inLoop: number[] = [];
      for (const line of completionLines()) inLoop.push((await typeThisAt(line, resolve))[0]);
      const idle: number[] = [];
      for (let i = 0; i < POSITIONS; i++) {
        const start = performance.now();
        await resolve();
        idle.push(performance.now() - start);
      }
      noop = { inLoop, idle };
    }

    return { firstPass, completion, broken, typing, hover, rssMb: rss, openMs, noop };
  } finally {
    await client.stop();
  }
}

/**
 * Types `TYPED` (below `above`) one keystroke at a time at `TYPING_POSITIONS` places, sending a
 * completion after each keystroke as the editor does and pausing as a typist does, without
 * waiting for the server's reparse or diagnostics in between. Returns every completion's
 * latency; the last one, after `c.`, must list the child execution's members.
 */
async function typeAsUser(client: LspClient, uri: string, above = ''): Promise<number[]> {
  const times: number[] = [];
  const waits = pauses(TYPED.length * TYPING_POSITIONS);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const places = spread(completionLines(), TYPING_POSITIONS);
  for (const [p, line] of places.entries()) {
    let at = { line, character: 0 };
    if (above) {
      await client.change(uri, [{ range: { start: at, end: at }, text: above }]);
      at = { line: line + 1, character: 0 };
    }
    // A new line to type into, then the characters.
    await client.change(uri, [{ range: { start: at, end: at }, text: '\n' }]);
    let items: CompletionItem[] = [];
    for (const [i, ch] of [...TYPED].entries()) {
      await sleep(waits[p * TYPED.length + i]);
      await client.change(uri, [{ range: { start: at, end: at }, text: ch }]);
      at = ch === '\n' ? { line: at.line + 1, character: 0 } : { line: at.line, character: at.character + 1 };
      const start = performance.now();
      const result = await client.connection.sendRequest(CompletionRequest.type, {
        textDocument: { uri },
        position: at,
      });
      times.push(performance.now() - start);
      items = itemsOf(result);
    }
    if (!items.some((item) => item.label === 'sleep_until'))
      throw new Error(
        `completion after \`c.\` typed as a user${above ? ' below a broken line' : ''} misses the child's members`,
      );
    const reverted = await client.change(uri, [
      { range: { start: { line, character: 0 }, end: { line: at.line + 1, character: 0 } }, text: '' },
    ]);
    await client.diagnosticsFor(uri, reverted, 120_000);
  }
  return times;
}

function report(name: string, m: Measured): void {
  figure(
    `${name}: completion, first pass p50 / p99`,
    `${ms(percentile(m.firstPass, 50))} / ${ms(percentile(m.firstPass, 99))}`,
    '(right after opening: includes JIT warm-up)',
  );
  figure(
    `${name}: completion after \`this.\` p50 / p99`,
    `${ms(percentile(m.completion, 50))} / ${ms(percentile(m.completion, 99))}`,
    `(passes 2 and 3 over the same positions: ${m.completion.length} completions)`,
  );
  if (m.broken)
    figure(
      `${name}: completion after \`this.\` below a broken line p50 / p99`,
      `${ms(percentile(m.broken, 50))} / ${ms(percentile(m.broken, 99))}`,
      `(\`${BROKEN_LINE.trim()}\` typed on the line above: ${m.broken.length} completions)`,
    );
  if (m.typing)
    for (const [which, times] of Object.entries(m.typing))
      figure(
        `${name}: completion while typing${which === 'broken' ? ', broken line above' : ''} p50 / p99`,
        `${ms(percentile(times, 50))} / ${ms(percentile(times, 99))}`,
        `(every keystroke of \`${TYPED.trim().replace('\n', '⏎')}\` at ${TYPING_POSITIONS} places, 20–140 ms apart: ${times.length} completions)`,
      );
  if (m.noop) {
    const { inLoop, idle } = m.noop;
    figure(
      `${name}: no-op request in the same loop p50 / p99`,
      `${ms(percentile(inLoop, 50))} / ${ms(percentile(inLoop, 99))}`,
      '(transport baseline: `completionItem/resolve` in place of the completion)',
    );
    figure(
      `${name}: no-op request, idle server p50 / p99`,
      `${ms(percentile(idle, 50))} / ${ms(percentile(idle, 99))}`,
      '(transport baseline: back to back, no edits)',
    );
  }
  figure(`${name}: hover p50 / p99`, `${ms(percentile(m.hover, 50))} / ${ms(percentile(m.hover, 99))}`);
  figure(`${name}: open → first diagnostics`, ms(m.openMs));
  if (m.rssMb) figure(`${name}: server RSS after the run`, `${m.rssMb.toFixed(0)} MB`);
}

/** Parse, analysis, incremental reparse and the completion provider alone, in this process. */
async function parseFigures(): Promise<void> {
  const parser = await loadParser();
  const analyzer = new Analyzer(parser);
  const median = (xs: number[]) => percentile(xs, 50);
  const full: number[] = [];
  const analysis: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const tree = parser.parse(TEXT);
    const t1 = performance.now();
    analyzer.analyze(tree, TEXT);
    analysis.push(performance.now() - t1);
    full.push(t1 - t0);
    tree.delete();
  }
  figure(`parse ${LINES} lines, full (warm, median of 7)`, ms(median(full)));
  figure(`analysis of ${LINES} lines, full (median of 7)`, ms(median(analysis)));

  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  const doc = new FlowDocument('file:///bench/big-flow.py', 1, TEXT, { parser, analyzer });
  const rssAfter = process.memoryUsage().rss;
  const heapAfter = process.memoryUsage().heapUsed;
  figure(
    'memory: one open 5,000-line document',
    `${((rssAfter - rssBefore) / 1048576).toFixed(1)} MB RSS`,
    `(tree in WASM + analysis; JS heap ${signedMb(heapAfter - heapBefore)}, ${doc.analysis.units.length} units)`,
  );

  const provider: number[] = [];
  const reparse: number[] = [];
  const flows = { names: () => [], resolve: () => ({ known: false }), all: () => [] };
  for (const [i, line] of completionLines().entries()) {
    const at = { line, character: 0 };
    doc.update([{ range: { start: at, end: at }, text: '    this.\n' }], 2 * i + 2);
    const t0 = performance.now();
    completions(doc, doc.offsetAt({ line, character: 9 }), { parser, flows });
    provider.push(performance.now() - t0);
    const t1 = performance.now();
    doc.reparse();
    reparse.push(performance.now() - t1);
    doc.update([{ range: { start: at, end: { line: line + 1, character: 0 } }, text: '' }], 2 * i + 3);
    doc.reparse();
  }
  doc.dispose();
  figure(
    'reparse + re-analysis after typing `this.` p50 / p99',
    `${ms(percentile(reparse, 50))} / ${ms(percentile(reparse, 99))}`,
    '(off the request path)',
  );
  figure(
    'completion provider alone (stale tree) p50 / p99',
    `${ms(percentile(provider, 50))} / ${ms(percentile(provider, 99))}`,
    '(in-process, no LSP transport)',
  );
}

async function main(): Promise<void> {
  if (!process.env.FLOWS_BENCH_SERVER) ensureServerBuilt();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-ls-bench-'));
  fs.writeFileSync(path.join(root, 'big-flow.py'), TEXT);
  fs.writeFileSync(path.join(root, 'child.py'), 'def handler(system, this):\n    pass\n');
  fs.writeFileSync(
    path.join(root, 'pyrightconfig.json'),
    JSON.stringify({ stubPath: STUBS, reportMissingModuleSource: false }),
  );
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  process.stdout.write(
    `Language server: ${LINES}-line flow, ${POSITIONS} positions, over stdio (${SERVER_BUNDLE}); ${os.cpus().length} CPUs, load ${load()}\n`,
  );
  try {
    await parseFigures();
    const ours = await measure('flows', process.execPath, [SERVER_BUNDLE, '--stdio'], root, true);
    report('flows', ours);
    const oursP99 = percentile(ours.completion, 99);
    const p99Target = (what: string, times: number[]) => {
      const p99 = percentile(times, 99);
      target(
        `flows ${what} p99 ≤ ${P99_TARGET_MS} ms (${ms(p99)}: ${(p99 / P99_TARGET_MS).toFixed(2)}× the target)`,
        p99 <= P99_TARGET_MS,
      );
    };
    p99Target('completion', ours.completion);
    if (ours.broken) p99Target('completion below a broken line', ours.broken);
    if (ours.typing) {
      p99Target('completion while typing', ours.typing.plain);
      p99Target('completion while typing, broken line above', ours.typing.broken);
    }

    let langserver: string | undefined;
    try {
      langserver = require.resolve('pyright/langserver.index.js', { paths: [REPO] });
    } catch {
      process.stdout.write(
        '  pyright: skipped — the npm package `pyright` is not installed (npm i -D pyright)\n',
      );
    }
    if (langserver) {
      let theirs: Measured | undefined;
      try {
        theirs = await measure('pyright', process.execPath, [langserver, '--stdio'], root);
      } catch (err) {
        process.stdout.write(
          `  pyright: skipped — it could not run: ${err instanceof Error ? err.message : String(err)}\n`,
        );
      }
      if (theirs) {
        report('pyright', theirs);
        const completionRatio = percentile(theirs.completion, 99) / oursP99;
        const hoverRatio = percentile(theirs.hover, 99) / percentile(ours.hover, 99);
        figure('ratio pyright / flows, completion p99', `${completionRatio.toFixed(1)}×`);
        figure('ratio pyright / flows, hover p99', `${hoverRatio.toFixed(1)}×`);
        target('flows completion p99 ≥ 20× faster than pyright', completionRatio >= 20);
      }
    }
  } finally {
    process.stdout.write(`  load average at the end: ${load()}\n`);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
