/**
 * The Testing view's flow tests: every `*.flowtest.yaml` in the flows folder (a file watcher
 * keeps the list current), one item per test file labelled with its flow, one child per case at
 * its line (the gutter's run icons). Run spawns the bundled runner's CLI, `flows test <file>
 * --reporter json`, one process per file (its cases share one set of worker processes), and
 * reports each case as its JSON line arrives: a failure at the line of the expectation that
 * failed, as a diff of expected and actual, and at the line of the flow it comes from; the two
 * execution trees side by side from the message's "Show Tree Diff" (testTreeDiff.ts).
 *
 * Debug runs the same CLI with `--debug`: each case's runner replays and waits for a debugger;
 * the controller starts a `flow` launch on it (F5 semantics: breakpoints stop, connectors are
 * replayed) tied to the test run, and the case's result arrives when the run ends.
 *
 * All test files count, not only those in `tests/` folders: `flows test` runs any it finds, and
 * `--out` may put one elsewhere.
 */
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import { TEST_FILE_SUFFIX, TestReportLine } from '@flows/protocol';
import { log, messageOf } from '../log';
import { startFlowsCli } from './flowsCli';
import { discoverTests, type DiscoveredCase } from './testDiscovery';
import { failureViews } from './testFailures';
import { TestTreeDiff, TREE_DIFF_CONTEXT, type TestTrees } from './testTreeDiff';

type Result = Extract<TestReportLine, { event: 'result' }>;

const GLOB = `**/*${TEST_FILE_SUFFIX}`;
const EXCLUDE = '**/{node_modules,.git,.flows}/**';

export class FlowTestController implements vscode.Disposable {
  readonly controller = vscode.tests.createTestController('flows.tests', 'Flow Tests');
  /** The cases of each item, by item id (the case's own, for a diff's values and lines). */
  private readonly cases = new Map<string, DiscoveredCase>();
  /** The last failed run's two execution trees of each case, by item id ("Show Tree Diff"). */
  private readonly trees = new Map<string, TestTrees>();
  private readonly treeDiff = new TestTreeDiff();
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
      (req, token) => this.run(req, token, false),
      true,
    );
    this.controller.createRunProfile(
      'Debug',
      vscode.TestRunProfileKind.Debug,
      (req, token) => this.run(req, token, true),
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

  /** "Show Tree Diff" on a failure message (`{test, message}`), or on a case item. */
  async showTreeDiff(arg: unknown): Promise<void> {
    const a = arg as { test?: vscode.TestItem; id?: string } | undefined;
    const item = a?.test ?? (a?.id ? (a as vscode.TestItem) : undefined);
    const trees = item && this.trees.get(item.id);
    if (!item || !trees) {
      void vscode.window.showInformationMessage('Run the test: its trees are shown when it fails.');
      return;
    }
    await this.treeDiff.show(item.id, trees);
  }

  private async run(
    request: vscode.TestRunRequest,
    token: vscode.CancellationToken,
    debug: boolean,
  ): Promise<void> {
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
        if (cases.length) await this.runFile(run, file, cases, token, debug);
      }
    } catch (err) {
      run.appendOutput(`${messageOf(err)}\r\n`);
      log.error(`running flow tests: ${messageOf(err)}`);
    } finally {
      run.end();
    }
  }

  /** One `flows test <file> --reporter json [--debug]` for the cases of one file. */
  private async runFile(
    run: vscode.TestRun,
    file: vscode.TestItem,
    cases: vscode.TestItem[],
    token: vscode.CancellationToken,
    debug: boolean,
  ): Promise<void> {
    const folder = this.flowsFolder();
    const all = cases.length === file.children.size;
    const cli = await startFlowsCli(
      this.extensionPath,
      folder,
      [
        'test',
        file.uri!.fsPath,
        '--reporter',
        'json',
        ...(debug ? ['--debug'] : []),
        ...(all ? [] : cases.flatMap((c) => ['--name', c.label])),
      ],
      folder ?? path.dirname(file.uri!.fsPath),
    );
    const { child } = cli;
    const pending = [...cases];
    const startNext = () => pending[0] && run.started(pending[0]);
    startNext();
    const stop = token.onCancellationRequested(() => child.kill());
    const debugging = new Set<vscode.Disposable>();
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (text) => {
      let parsed: TestReportLine;
      try {
        parsed = TestReportLine.parse(JSON.parse(text));
      } catch {
        if (text.trim()) run.appendOutput(`${text}\r\n`);
        return;
      }
      if (parsed.event === 'debug') {
        debugging.add(this.debugCase(run, parsed, folder, () => child.kill()));
        return;
      }
      if (parsed.event !== 'result') return;
      const item = cases.find((c) => c.label === parsed.name);
      if (!item) return;
      pending.splice(pending.indexOf(item), 1);
      this.report(run, item, parsed);
      startNext();
    });
    const { code, stderr } = await cli.done;
    stop.dispose();
    debugging.forEach((d) => d.dispose());
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

  /** One case's result: passed, or failed with its messages at the test file and the flow. */
  private report(run: vscode.TestRun, item: vscode.TestItem, parsed: Result): void {
    const mark = parsed.passed ? '✔' : '✘';
    run.appendOutput(`${mark} ${parsed.flow} › ${parsed.name} (${parsed.ms} ms)\r\n`, undefined, item);
    if (parsed.passed) {
      this.trees.delete(item.id);
      run.passed(item, parsed.ms);
      return;
    }
    for (const f of parsed.failures) run.appendOutput(`    ${f}\r\n`, undefined, item);
    if (parsed.trees) this.trees.set(item.id, { name: parsed.name, ...parsed.trees });
    const messages = failureViews(parsed, this.cases.get(item.id)).map((v) => {
      const m =
        v.expected !== undefined && v.actual !== undefined
          ? vscode.TestMessage.diff(v.message, v.expected, v.actual)
          : new vscode.TestMessage(v.message);
      m.location = new vscode.Location(
        v.file ? vscode.Uri.file(v.file) : item.uri!,
        new vscode.Position(v.line, 0),
      );
      if (parsed.trees) m.contextValue = TREE_DIFF_CONTEXT;
      return m;
    });
    run.failed(item, messages, parsed.ms);
  }

  /**
   * Debugs a case: a `flow` launch of its flow on the case's replaying runner, in the test run.
   * If the session ends without the run having started (a bad input, the adapter failed), the
   * CLI waiting for it is stopped after a while.
   */
  private debugCase(
    run: vscode.TestRun,
    target: Extract<TestReportLine, { event: 'debug' }>,
    folder: string | undefined,
    giveUp: () => void,
  ): vscode.Disposable {
    let timer: NodeJS.Timeout | undefined;
    const ended = vscode.debug.onDidTerminateDebugSession((s) => {
      if (s.configuration.runnerUrl === target.url) timer = setTimeout(giveUp, 10_000);
    });
    const where = folder ? vscode.workspace.getWorkspaceFolder(vscode.Uri.file(folder)) : undefined;
    void vscode.debug
      .startDebugging(
        where,
        {
          type: 'flow',
          request: 'launch',
          name: `Debug test: ${target.name}`,
          program: target.program,
          input: target.input,
          runnerUrl: target.url,
          runnerToken: target.token,
        },
        { testRun: run },
      )
      .then(
        (started) => started || giveUp(),
        (err: unknown) => {
          run.appendOutput(`The debugger did not start: ${messageOf(err)}\r\n`);
          giveUp();
        },
      );
    return new vscode.Disposable(() => {
      ended.dispose();
      clearTimeout(timer);
    });
  }

  dispose(): void {
    this.treeDiff.dispose();
    this.watcher?.dispose();
    this.disposables.forEach((d) => d.dispose());
    this.controller.dispose();
  }
}
