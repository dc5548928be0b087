/** `flows test [path…]` and `flows test create <execution-id>`: tests made from recorded runs. */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { TestReportLine } from '@flows/protocol';
import { ownerConnection } from '@flows/runner-client/discovery';
import { RunnerApi } from '@flows/runner-client/runnerApi';
import { DataDirLock, lockOwner } from '../store/dataDirLock';
import { SqliteStore } from '../store/sqliteStore';
import { createTest, storeSource } from '../testing/createTest';
import { findTestFiles } from '../testing/testFile';
import { junitXml, runTestFiles, type CaseResult } from '../testing/runTests';
import { updateRecordings } from '../testing/updateRecording';

export class TestUsageError extends Error {}

export const TEST_USAGE = `  flows test [PATH…] [--flows DIR] [--python PATH] [--junit FILE] [--name NAME] [--reporter json] [--debug]
      Run the tests (*.flowtest.yaml; folders are searched, default the current one) in replay
      mode: connectors return their recorded results, settings, files and form answers are the
      recorded ones, sleeps take no time and the flow's clock is the recorded run's. Exit code 0
      only when all pass; --junit writes JUnit XML; --reporter json prints one JSON object a line
      (each result, then the end) for tools. --debug: each case's runner serves HTTP and waits
      for a debugger to launch the flow on it (a {"event":"debug",…} line says where).
  flows test update <FILE> [--case NAME] [--flows DIR] [--data DIR] [--python PATH]
      Record the cases of FILE (or the one named) again from a new run of the flow with the
      case's input: real connectors and child flows, the data folder's settings; forms answered
      with the recorded answers. Each case is rewritten in place, keeping its name, input, replay
      choices, the comments and the other cases.
  flows test create <execution-id> [--flows DIR] [--data DIR] [--out FILE]
      Make a test from an execution that ended: adds a case to tests/<flow>.flowtest.yaml next
      to the flow (or --out). A runner serving the data folder writes it (POST
      /api/latest/execution/{id}/test); otherwise the data folder is read directly.`;

export async function test(argv: string[]): Promise<number> {
  if (argv[0] === 'create') return create(argv.slice(1));
  if (argv[0] === 'update') return update(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      flows: { type: 'string' },
      python: { type: 'string' },
      junit: { type: 'string' },
      name: { type: 'string', multiple: true },
      reporter: { type: 'string' },
      debug: { type: 'boolean' },
    },
  });
  if (values.reporter !== undefined && values.reporter !== 'json')
    throw new TestUsageError(`--reporter: '${values.reporter}' is not a reporter (the one there is: json)`);
  const asJson = values.reporter === 'json';
  const emit = (line: TestReportLine) => process.stdout.write(`${JSON.stringify(line)}\n`);
  const paths = positionals.length ? positionals : [process.cwd()];
  for (const p of paths) if (!fs.existsSync(p)) throw new TestUsageError(`no such file or folder: ${p}`);
  const files = findTestFiles(paths);
  if (files.length === 0) {
    if (asJson) emit({ event: 'end', passed: 0, failed: 0 });
    else
      process.stdout.write(
        `No tests (*.flowtest.yaml) in ${paths.join(', ')}. Make one with: flows test create <execution-id>\n`,
      );
    return values.junit ? writeJunit(values.junit, []) : 0;
  }
  const print = (r: CaseResult) => {
    if (asJson) {
      emit({ event: 'result', ...r });
      return;
    }
    const mark = r.passed ? '✔' : '✘';
    const run = r.runMs === undefined ? '' : `run ${r.runMs} ms, `;
    process.stdout.write(`${mark} ${r.flow} › ${r.name}  (${run}${r.ms} ms in all)\n`);
    r.failures.forEach((f, i) => {
      const at = r.at?.find((a) => a.failure === i);
      const where = at ? `  (${path.relative(process.cwd(), at.file) || at.file}:${at.line})` : '';
      process.stdout.write(`    ${f}${where}\n`);
    });
  };
  const results = await runTestFiles(files, {
    flowsDir: values.flows,
    python: values.python,
    names: values.name,
    onResult: print,
    debug: values.debug
      ? (target) => {
          if (asJson) emit({ event: 'debug', ...target });
          else
            process.stdout.write(
              `Debug: launch ${target.program} on ${target.url} (token ${target.token}) with input ${JSON.stringify(target.input)}\n`,
            );
        }
      : undefined,
  });
  const failed = results.filter((r) => !r.passed).length;
  if (asJson) emit({ event: 'end', passed: results.length - failed, failed });
  else process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
  if (values.junit) writeJunit(values.junit, results);
  return failed || results.length === 0 ? 1 : 0;
}

async function update(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      case: { type: 'string', multiple: true },
      flows: { type: 'string' },
      data: { type: 'string' },
      python: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new TestUsageError('flows test update needs exactly one test file');
  const file = path.resolve(positionals[0]);
  if (!fs.existsSync(file)) throw new TestUsageError(`no such file: ${positionals[0]}`);
  const updated = await updateRecordings(file, {
    names: values.case,
    flowsDir: values.flows,
    dataDir: values.data,
    python: values.python,
    onUpdated: (u) =>
      process.stdout.write(`Recorded "${u.name}" again from execution ${u.executionId} (${u.status})\n`),
  });
  process.stdout.write(
    `Updated ${updated.length} case${updated.length === 1 ? '' : 's'} in ${path.relative(process.cwd(), file) || file}\n`,
  );
  return 0;
}

function writeJunit(file: string, results: CaseResult[]): number {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, junitXml(results));
  return 0;
}

async function create(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      flows: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new TestUsageError('flows test create needs exactly one execution id');
  const flowsDir = path.resolve(values.flows ?? process.cwd());
  const dataDir = path.resolve(values.data ?? path.join(flowsDir, '.flows'));
  const dbFile = path.join(dataDir, 'flows.db');
  if (!fs.existsSync(dbFile)) throw new TestUsageError(`no executions in ${dataDir} (no flows.db)`);
  const owner = lockOwner(dataDir);
  const serving = owner && ownerConnection(owner);
  if (serving) {
    // The runner has the database open: it makes the case (and writes the file) itself.
    const out = values.out === undefined ? undefined : path.relative(flowsDir, path.resolve(values.out));
    const made = await new RunnerApi(serving.url, serving.token).createTest(positionals[0], { out });
    process.stdout.write(
      `Added the test "${made.name}" of ${made.flow} to ${path.relative(process.cwd(), made.file) || made.file}\n`,
    );
    return 0;
  }
  if (owner) {
    throw new Error(
      `${dataDir} is in use by a runner (pid ${owner.pid}${owner.url ? `, ${owner.url}` : ''}): stop it, then create the test again`,
    );
  }
  const lock = DataDirLock.acquire(dataDir);
  const store = new SqliteStore(dbFile);
  try {
    const made = await createTest(storeSource(store), positionals[0], flowsDir, values.out);
    process.stdout.write(
      `Added the test "${made.name}" of ${made.flow} to ${path.relative(process.cwd(), made.file) || made.file}\n`,
    );
    return 0;
  } finally {
    await store.close();
    lock.release();
  }
}
