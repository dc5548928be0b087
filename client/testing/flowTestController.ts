/**
 * The Testing view's flow tests: every `*.flowtest.yaml` in the flows folder (a file watcher
 * keeps the list current), one item per test file labelled with its flow, one child per case at
 * its line (the gutter's run icons). Run spawns the bundled runner's CLI, `flows test <file>
 * --reporter json`, one process per file, and reports each case as its JSON line arrives: a
 * failure at the line of the expectation that failed, as a diff of expected and actual.
 *
 * All test files count, not only those in `tests/` folders: `flows test` runs any it finds, and
 * `--out` may put one elsewhere.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import { TEST_FILE_SUFFIX, TestReportLine } from '@flows/protocol';
import { readConfig } from '../config';
import { log, messageOf } from '../log';
import { findInterpreter } from '../runner/pythonInterpreter';
import { discoverTests, type DiscoveredCase } from './testDiscovery';
import { failureViews } from './testFailures';

const GLOB = `**/*${TEST_FILE_SUFFIX}`;
const EXCLUDE = '**/{node_modules,.git,.flows}/**';

export class FlowTestController implements vscode.Disposable {
  readonly controller = vscode.tests.createTestController('flows.tests', 'Flow Tests');
  /** The cases of each item, by item id (the case's own, for a diff's values and lines). */
  private readonly cases = new Map<string, DiscoveredCase>();
  private watcher: vscode.FileSystemWatcher | undefined;
  private watchedFolder: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionPath: string,
    private readonly flowsFolder: () => string | undefined,
  ) {
    this.controller.resolveHandler = async (item) => {
      if (!item) await this.discoverAll();
    };
    this.controller.refreshHandler = () => this.discoverAll();
    this.controller.createRunProfile(
      'Run',
      vscode.TestRunProfileKind.Run,
      (req, token) => this.run(req, token),
      true,
    );
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration(
        (e) => e.affectsConfiguration('flows.flowsFolder') && this.discoverAll(),
      ),
    );
  }

  /** Finds every test file of the flows folder and watches the folder for more. */
  async discoverAll(): Promise<void> {
    const folder = this.flowsFolder();
    if (folder !== this.watchedFolder) {
      this.watcher?.dispose();
      this.watcher = undefined;
      this.watchedFolder = folder;
      if (folder) {
        const watcher = vscode.workspace.createFileSystemWatcher(
          new vscode.RelativePattern(vscode.Uri.file(folder), GLOB),
        );
        watcher.onDidCreate((uri) => this.update(uri));
        watcher.onDidChange((uri) => this.update(uri));
        watcher.onDidDelete((uri) => this.remove(uri));
        this.watcher = watcher;
      }
    }
    this.controller.items.replace([]);
    this.cases.clear();
    if (!folder) return;
    const files = await vscode.workspace.findFiles(
      new vscode.RelativePattern(vscode.Uri.file(folder), GLOB),
      EXCLUDE,
    );
    await Promise.all(files.map((uri) => this.update(uri)));
  }

  /** (Re)reads one test file into its item and the items of its cases. */
  async update(uri: vscode.Uri): Promise<vscode.TestItem | undefined> {
    if (/[\\/](node_modules|\.git|\.flows)[\\/]/.test(uri.fsPath)) return undefined;
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    } catch {
      this.remove(uri);
      return undefined;
    }
    const found = discoverTests(text);
    const id = uri.toString();
    let file = this.controller.items.get(id);
    if (!file) {
      file = this.controller.createTestItem(id, found.flow ?? path.basename(uri.fsPath), uri);
      this.controller.items.add(file);
    }
    file.label = found.flow ?? path.basename(uri.fsPath, TEST_FILE_SUFFIX);
    const folder = this.flowsFolder();
    // Where the file is, unless it is where `flows test create` puts it (tests/ next to the flow).
    const rel = folder ? path.relative(folder, uri.fsPath) : undefined;
    const usual =
      found.flow &&
      path.join(path.dirname(found.flow), 'tests', `${path.basename(found.flow)}${TEST_FILE_SUFFIX}`);
    file.description = rel === usual ? undefined : rel;
    file.range = new vscode.Range(0, 0, 0, 0);
    file.error = found.problem
      ? new vscode.MarkdownString(`line ${found.problem.line + 1}: ${found.problem.message}`)
      : undefined;
    for (const [childId] of file.children) this.cases.delete(childId);
    const caseId = (c: DiscoveredCase) => `${id}#${c.name}`;
    const known = file.children;
    // The same cases (a save, the watcher after Create Test): moved in place, not replaced, so
    // the view keeps the file open.
    if (found.cases.length === known.size && found.cases.every((c) => known.get(caseId(c)))) {
      for (const c of found.cases) {
        known.get(caseId(c))!.range = new vscode.Range(c.line, 0, c.line, 0);
        this.cases.set(caseId(c), c);
      }
      return file;
    }
    known.replace(
      found.cases.map((c) => {
        const item = this.controller.createTestItem(caseId(c), c.name, uri);
        item.range = new vscode.Range(c.line, 0, c.line, 0);
        this.cases.set(item.id, c);
        return item;
      }),
    );
    return file;
  }

  private remove(uri: vscode.Uri): void {
    const file = this.controller.items.get(uri.toString());
    if (!file) return;
    for (const [childId] of file.children) this.cases.delete(childId);
    this.controller.items.delete(file.id);
  }

  /** The case item of `name` in the test file `file`, once discovered. */
  caseItem(file: string, name: string): vscode.TestItem | undefined {
    return this.controller.items
      .get(vscode.Uri.file(file).toString())
      ?.children.get(`${vscode.Uri.file(file).toString()}#${name}`);
  }

  caseLine(itemId: string): number | undefined {
    return this.cases.get(itemId)?.line;
  }

  private async run(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    // What to run, by file: the cases asked for (a file's item stands for all of its cases).
    const byFile = new Map<vscode.TestItem, vscode.TestItem[]>();
    const roots: vscode.TestItem[] = request.include ? [...request.include] : [];
    if (!request.include) this.controller.items.forEach((f) => roots.push(f));
    const excluded = new Set(request.exclude?.map((t) => t.id));
    for (const item of roots) {
      const file = item.parent ?? item;
      const cases = item.parent ? [item] : [...item.children].map(([, c]) => c);
      const list = byFile.get(file) ?? [];
      for (const c of cases) if (!excluded.has(c.id) && !list.includes(c)) list.push(c);
      byFile.set(file, list);
    }
    const run = this.controller.createTestRun(request);
    try {
      for (const cases of byFile.values()) cases.forEach((c) => run.enqueued(c));
      for (const [file, cases] of byFile) {
        if (token.isCancellationRequested) break;
        if (cases.length) await this.runFile(run, file, cases, token);
      }
    } catch (err) {
      run.appendOutput(`${messageOf(err)}\r\n`);
      log.error(`running flow tests: ${messageOf(err)}`);
    } finally {
      run.end();
    }
  }

  /** One `flows test <file> --reporter json` for the cases of one file. */
  private async runFile(
    run: vscode.TestRun,
    file: vscode.TestItem,
    cases: vscode.TestItem[],
    token: vscode.CancellationToken,
  ): Promise<void> {
    const folder = this.flowsFolder();
    const config = readConfig();
    const python = await findInterpreter(config.pythonPath, folder ? vscode.Uri.file(folder) : undefined);
    const all = cases.length === file.children.size;
    const args = [
      path.join(this.extensionPath, 'dist', 'runner.js'),
      'test',
      file.uri!.fsPath,
      '--reporter',
      'json',
      '--python',
      python.path,
      ...(folder ? ['--flows', folder] : []),
      ...(all ? [] : cases.flatMap((c) => ['--name', c.label])),
    ];
    const pending = [...cases];
    const startNext = () => pending[0] && run.started(pending[0]);
    startNext();
    // The extension host's own Node (Electron in desktop VS Code: run as plain Node).
    const child = spawn(process.execPath, args, {
      cwd: folder ?? path.dirname(file.uri!.fsPath),
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', FLOWS_FROM_EDITOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const stop = token.onCancellationRequested(() => child.kill());
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (text) => {
      let parsed: TestReportLine;
      try {
        parsed = TestReportLine.parse(JSON.parse(text));
      } catch {
        if (text.trim()) run.appendOutput(`${text}\r\n`);
        return;
      }
      if (parsed.event !== 'result') return;
      const item = cases.find((c) => c.label === parsed.name);
      if (!item) return;
      pending.splice(pending.indexOf(item), 1);
      const mark = parsed.passed ? '✔' : '✘';
      run.appendOutput(`${mark} ${parsed.flow} › ${parsed.name} (${parsed.ms} ms)\r\n`, undefined, item);
      if (parsed.passed) run.passed(item, parsed.ms);
      else {
        for (const f of parsed.failures) run.appendOutput(`    ${f}\r\n`, undefined, item);
        const messages = failureViews(parsed, this.cases.get(item.id)).map((v) => {
          const m =
            v.expected !== undefined && v.actual !== undefined
              ? vscode.TestMessage.diff(v.message, v.expected, v.actual)
              : new vscode.TestMessage(v.message);
          m.location = new vscode.Location(item.uri!, new vscode.Position(v.line, 0));
          return m;
        });
        run.failed(item, messages, parsed.ms);
      }
      startNext();
    });
    const code = await new Promise<number | null>((resolve) => {
      child.once('error', (err) => {
        stderr += err.message;
        resolve(null);
      });
      child.once('close', resolve);
    });
    stop.dispose();
    // Cases with no result: the run was cancelled, or the CLI could not run them.
    for (const item of pending) {
      if (token.isCancellationRequested) run.skipped(item);
      else {
        const why = stderr.trim() || `flows test ended (exit code ${code}) without a result for this case`;
        run.errored(item, new vscode.TestMessage(why));
      }
    }
    if (stderr.trim()) run.appendOutput(`${stderr.trim().replace(/\n/g, '\r\n')}\r\n`);
  }

  dispose(): void {
    this.watcher?.dispose();
    this.disposables.forEach((d) => d.dispose());
    this.controller.dispose();
  }
}
