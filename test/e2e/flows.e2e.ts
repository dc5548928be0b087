/**
 * End to end, in a real VS Code: the packaged .vsix installed into code-server, a workspace of
 * the example flows, and headless Chromium driven like a user. Every step leaves a screenshot in
 * test-results/e2e/. Run with `npm run test:e2e`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import {
  chromiumPath,
  installCodeServer,
  missingPrerequisites,
  packageExtension,
  startCodeServer,
  type CodeServer,
} from './codeServer';
import { SHOTS_DIR, Workbench } from './workbench';
import { postgresBinOrSkip, sql, startPostgres, type PostgresServer } from '../support/postgres';

const EXAMPLES = path.resolve(__dirname, '../../examples');
/** The runner as the CLI (`flows serve`), the way a user starts one in a terminal. */
const RUNNER_JS = path.resolve(__dirname, '../../dist/runner.js');

/** Flows a user of the workspace writes during the session, beside the examples. */
const EXTRA_FLOWS: Record<string, string> = {
  'approve.py': `import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    form = system.message('Deploy to production?', body={'ok': {'type': 'boolean', 'label': 'Deploy now'}})
    answer = form.wait().get('response')
    return this.success('deployed' if answer['ok'] else 'not deployed')
`,
  'fan-out.py': `import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    for i in range(FAN_OUT):
        this.flow('hello', wait=False, name=f'child {i}')
    return this.success(f'started {FAN_OUT} children')
`.replace(/FAN_OUT/g, '1000'),
  'survey.py': `import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    form = system.message('Release notes', body={
        'ship': {'type': 'boolean', 'label': 'Ship it'},
        'note': {'type': 'string', 'label': 'Note'},
    })
    answer = form.wait().get('response')
    return this.success(f"ship={answer['ship']} note={answer['note']}")
`,
  'arrive.py': `import flow_api


def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    n = inputs.get('n')
    this.flow('tick', name=f'child of {n}')
    return this.success(f'arrival {n}')
`,
  'tick.py': `import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    return this.success('tick')
`,
  'average.py': `import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    scores = []
    this.log(f'averaging {len(scores)} scores')
    return this.success(sum(scores) / len(scores))
`,
};
const log = (msg: string) => process.stdout.write(`      ${msg}\n`);

/** The pid of the runner the extension started in this run's code-server (found by its path). */
function runnerPid(stateDir: string): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const args = cmdline.split('\0');
    if (args.some((a) => a.startsWith(stateDir) && a.endsWith('runner.js')) && args.includes('serve'))
      return Number(entry);
  }
  return undefined;
}

/** A runner started with `flows serve`, until stop(). */
interface ServedRunner {
  url: string;
  stop(): Promise<void>;
}

/**
 * A team's runner, as a terminal starts it: `flows serve` on a flows folder and a data folder of
 * its own, with its own token (and, given `database`, on PostgreSQL). Its URL is the one the JSON
 * line it prints when ready names.
 */
async function serveRunner(opts: {
  flows: string;
  data: string;
  token: string;
  database?: string;
}): Promise<ServedRunner> {
  const args = ['serve', '--flows', opts.flows, '--data', opts.data, '--token', opts.token, '--port', '0'];
  if (opts.database) args.push('--database', opts.database);
  const serve = spawn(process.execPath, [RUNNER_JS, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => serve.once('exit', resolve));
  const stop = async () => {
    if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGTERM');
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      serve.stdout.on('data', (chunk: Buffer) => {
        const line = chunk
          .toString()
          .split('\n')
          .find((l) => l.includes('"ready"'));
        if (line) resolve((JSON.parse(line) as { url: string }).url);
      });
      serve.once('exit', (code) => reject(new Error(`flows serve exited with ${code}`)));
    });
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

describe('Flows for VS Code, in code-server', function () {
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let wb: Workbench;
  let stateDir: string;
  const browserErrors: string[] = [];

  before(async function () {
    this.timeout(10 * 60_000);
    const missing = missingPrerequisites();
    if (missing) throw new Error(`cannot run the end-to-end suite: ${missing}`);
    fs.rmSync(SHOTS_DIR, { recursive: true, force: true });
    const vsix = packageExtension(log);
    const bin = installCodeServer(log);
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-e2e-'));
    const workspace = path.join(stateDir, 'examples');
    fs.cpSync(EXAMPLES, workspace, { recursive: true, filter: (src) => !src.includes('.flows') });
    for (const [name, text] of Object.entries(EXTRA_FLOWS))
      fs.writeFileSync(path.join(workspace, name), text);
    server = await startCodeServer({
      bin,
      vsix,
      stateDir,
      userSettings: {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoCheckUpdates': false,
        'extensions.ignoreRecommendations': true,
        'security.workspace.trust.enabled': false,
        'editor.minimap.enabled': false,
        'window.commandCenter': false,
        'files.autoSave': 'off',
      },
    });
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (err) => browserErrors.push(err.message));
    wb = new Workbench(page);
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
    await wb.waitForWorkbench();
  });

  beforeEach(async function () {
    if (wb && this.currentTest?.title !== 'shows the Flows view with an empty state that says how to start')
      await wb.clearNotifications();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      const name = this.currentTest.title.replace(/[^\w]+/g, '-').slice(0, 60);
      log(`screenshot of the failure: ${await wb.shot(`FAILED-${name}`)}`);
      // What CI keeps of a failure is its log: say what the runner and the notifications held.
      log(
        `notifications: ${JSON.stringify(await page.locator('.notification-toast-container').allInnerTexts())}`,
      );
      log(`newest executions: ${await newestExecutions().catch((err: Error) => err.message)}`);
      for (const file of logFiles(stateDir, /Flows|exthost\.log$/))
        log(
          `${path.basename(file)}, its end:\n${fs.readFileSync(file, 'utf8').split('\n').slice(-40).join('\n')}`,
        );
      await wb.command('Notifications: Show Notifications').catch(() => undefined);
      log(
        `notification center: ${JSON.stringify(await page.locator('.notifications-center .monaco-list-row').allInnerTexts())}`,
      );
      await wb.shot(`FAILED-${name}-notification-center`);
    }
  });

  /** Log files below `dir` whose path matches `pattern`. */
  function logFiles(dir: string, pattern: RegExp): string[] {
    return (fs.readdirSync(dir, { recursive: true }) as string[])
      .map((f) => path.join(dir, f))
      .filter((f) => f.endsWith('.log') && pattern.test(f));
  }

  /** The window runner's 15 newest executions, one line each (for a failure's log). */
  async function newestExecutions(): Promise<string> {
    const lock = JSON.parse(
      fs.readFileSync(path.join(stateDir, 'examples', '.flows', 'runner.lock'), 'utf8'),
    );
    const token = fs.readFileSync(lock.token_file, 'utf8').trim();
    const res = await fetch(`${lock.url}/api/latest/execution?limit=15`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const page = (await res.json()) as { items?: Record<string, unknown>[] };
    return (page.items ?? [])
      .map(
        (e) =>
          `\n        ${e.created_at} ${e.flow_name} ${e.status} ${JSON.stringify(e.message ?? '')} parent=${e.parent_execution_id}`,
      )
      .join('');
  }

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    if (server) {
      await server.stop();
      // The extension host's and our runner's messages, for a failed run.
      fs.mkdirSync(SHOTS_DIR, { recursive: true });
      fs.writeFileSync(path.join(SHOTS_DIR, 'code-server.log'), server.output.join(''));
    }
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('shows the Flows view with an empty state that says how to start', async () => {
    await wb.openViewContainer('Flows');
    const executions = wb.pane('Executions');
    await executions.getByText('No executions yet').waitFor({ timeout: 60_000 });
    await page.locator('.statusbar-item', { hasText: 'Flows' }).waitFor();
    await wb.shot('empty-executions-view');
  });

  it('opens a flow with Run, Try, Debug and Schedule CodeLenses above its handler', async () => {
    await wb.openFile('hello.py');
    for (const title of ['Run', 'Try', 'Debug', 'Schedule'])
      await wb.codeLens(title).waitFor({ timeout: 60_000 });
    await wb.shot('flow-with-codelens');
  });

  it('completes flow_api methods after "this."', async () => {
    await page.keyboard.press('Control+G');
    await wb.answerInput(':6');
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('this.');
    const suggest = page.locator('.editor-widget.suggest-widget.visible');
    await suggest.waitFor({ timeout: 30_000 });
    const row = (label: string) =>
      suggest.locator('.monaco-list-row .label-name').getByText(label, { exact: true });
    for (const method of ['connect', 'flow']) await row(method).waitFor();
    await wb.shot('completions-after-this');
    // Typing narrows the list to what matches (and the record metadata constants are not in it).
    await page.keyboard.type('lo');
    await row('log').waitFor();
    await row('load').waitFor();
    await page.keyboard.press('Escape');
    await wb.command('File: Revert File');
    await page.locator('.tab.active.dirty').waitFor({ state: 'detached' });
  });

  it('runs a flow from its CodeLens and shows it SUCCEEDED in the tree with its children', async () => {
    await wb.openFile('order-pipeline.py');
    await wb.codeLens('Run').click();
    // Prefilled with what the flow reads (order.get('order_id', 1): optional, so null).
    const input = wb.quickInput().locator('input');
    await input.waitFor();
    assert.equal(await input.inputValue(), '{"order_id": null}');
    await wb.shot('input-prefilled');
    await wb.answerInput('{"order_id": 7}');
    const executions = wb.pane('Executions');
    const top = wb.rowNamed(executions, 'order-pipeline');
    await wb.waitForLabel(top, /succeeded/);
    for (const child of ['checks/validate-address', 'checks/check-stock', 'checks/fraud-score', 'SQLITE']) {
      await wb.row(executions, child).first().waitFor();
    }
    await wb.notification(/order-pipeline succeeded/).waitFor();
    await wb.shot('run-succeeded-with-children');
  });

  it('tries a flow (development mode) and marks it as a try', async () => {
    await wb.openFile('hello.py');
    await wb.codeLens('Try').click();
    await wb.answerInput('{"name": "Ada"}');
    const row = wb.rowNamed(wb.pane('Executions'), 'hello');
    await wb.waitForLabel(row, /succeeded.*try/);
    await wb.shot('try-succeeded');
  });

  it('shows the log of an execution, coloured, from the context menu', async () => {
    const row = wb.rowNamed(wb.pane('Executions'), 'order-pipeline').first();
    await wb.contextMenu(row, 'Show Execution Log');
    const output = page.locator('.panel .monaco-editor');
    // The end of the log is on screen: the top execution's own status line.
    await output.getByText(/STATUS\s+order-pipeline\sSUCCEEDED/).waitFor();
    await wb.shot('execution-log');
    await wb.command('View: Hide Panel');
  });

  it('shows the output of an execution as read-only JSON', async () => {
    const row = wb.rowNamed(wb.pane('Executions'), 'order-pipeline').first();
    await wb.contextMenu(row, 'Show Execution Output');
    await page.locator('.tab.active[aria-label*="order-pipeline output"]').waitFor();
    await wb.editor().getByText('59.97').waitFor();
    await wb.shot('execution-output');
    // The input replaces the output's preview, in its group: no new column per click.
    const groups = await page.locator('.editor-group-container').count();
    await wb.contextMenu(row, 'Show Execution Input');
    await page.locator('.tab.active[aria-label*="order-pipeline input"]').waitFor();
    assert.equal(await page.locator('.editor-group-container').count(), groups);
    await wb.command('View: Close All Editors');
  });

  it('cancels a long-running flow from the tree', async () => {
    await wb.openFile('long-running.py');
    await wb.codeLens('Run').click();
    const row = wb.rowNamed(wb.pane('Executions'), 'long-running').first();
    // The label is "name, status, description": sleeping between ticks, it is waiting (BLOCKED).
    await wb.waitForLabel(row, /^long-running, (running|waiting),/);
    await wb.shot('long-running');
    await wb.contextMenu(row, 'Cancel Execution');
    await wb.waitForLabel(row, /^long-running, stopped,/, 20_000);
    await wb.notification(/long-running stopped/).waitFor();
    await wb.shot('cancelled-from-tree');
  });

  it('answers a system.message form of a running flow in VS Code', async () => {
    await wb.openFile('approve.py');
    await wb.codeLens('Run').click();
    const toast = wb.notification(/A flow asks: Deploy to production\?/);
    await toast.waitFor();
    await wb.shot('form-notification');
    await toast.getByRole('button', { name: 'Answer' }).click();
    await wb.pick('Yes');
    const row = wb.rowNamed(wb.pane('Executions'), 'approve').first();
    await wb.waitForLabel(row, /succeeded.*deployed/);
    await wb.shot('form-answered');
  });

  it('answers a form from its row, and keeps the answers given when left half-way', async () => {
    await wb.openFile('survey.py');
    await wb.codeLens('Run').click();
    await wb.notification(/A flow asks: Release notes/).waitFor();
    await wb.clearNotifications();
    const row = wb.rowNamed(wb.pane('Executions'), 'survey').first();
    await wb.waitForLabel(row, /waiting/);
    await wb.contextMenu(row, 'Answer Form');
    await wb.pick('Yes');
    // Left at the second field: nothing is sent, and the first answer is kept.
    const second = page.locator('.quick-input-widget:visible .quick-input-title', { hasText: '(2/2)' });
    await second.waitFor();
    await page.keyboard.press('Escape');
    const kept = wb.notification(/Release notes" was not sent: the flow still waits\. Your answer is kept/);
    await kept.waitFor();
    await wb.shot('form-left-half-way');
    await kept.getByRole('button', { name: 'Continue Answering' }).click();
    // The kept answer comes first.
    await page.locator('.quick-input-widget:visible .quick-input-title', { hasText: '(1/2)' }).waitFor();
    await wb.quickInput().locator('.monaco-list-row.focused', { hasText: 'Yes' }).waitFor();
    await page.keyboard.press('Enter');
    await second.waitFor();
    await wb.answerInput('all good');
    await wb.waitForLabel(row, /succeeded.*ship=True note=all good/);
    await wb.shot('form-answered-from-row');
  });

  it('stays responsive while a thousand child executions start, and keeps them in order', async function () {
    this.timeout(300_000);
    await wb.openFile('fan-out.py');
    await wb.codeLens('Run').click();
    const executions = wb.pane('Executions');
    const top = wb.rowNamed(executions, 'fan-out').first();
    // Opened (Run reveals and expands it) while the children start: they arrive live, and must
    // still read child 0, 1, 2, …
    await executions.locator('.monaco-list-row[aria-label^="fan-out,"][aria-expanded="true"]').waitFor();
    await wb.rowNamed(executions, 'child 0').first().waitFor();
    await wb.waitForLabel(top, /succeeded/);
    const children = executions.locator('.monaco-list-row[aria-level="2"]');
    const names = (await children.evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? '')))
      .map((label) => label.split(',')[0])
      .filter((name) => name.startsWith('child '));
    assert.ok(names.length >= 5, `children shown: ${names.join(' | ')}`);
    assert.deepEqual(
      names,
      names.map((_, i) => `child ${i}`),
      'the children are shown oldest first, without gaps',
    );
    // While the children run and their events pour in, the workbench still answers at once.
    const started = Date.now();
    await wb.command('Flows: Refresh Executions');
    const took = Date.now() - started;
    assert.ok(took < 5000, `the command palette took ${took} ms`);
    // The children come a page at a time: page down through the first ones to "Load more…".
    await wb.rowNamed(executions, 'child 0').first().click();
    const loadMore = wb.row(executions, 'Load more').first();
    for (let i = 0; i < 20 && !(await loadMore.isVisible()); i++) await page.keyboard.press('PageDown');
    await loadMore.waitFor();
    await wb.shot('thousand-children');
    // The next page comes in its place, after child 49.
    await loadMore.click();
    await wb.rowNamed(executions, 'child 50').first().waitFor();
    const after = (await children.evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? '')))
      .map((label) => label.split(',')[0])
      .filter((name) => name.startsWith('child '))
      .map((name) => Number(name.slice('child '.length)));
    assert.deepEqual(
      after,
      after.map((_, i) => after[0] + i),
      `in order after Load more: ${after.join(' ')}`,
    );
    await top.locator('.monaco-tl-twistie').click();
    // The children run on after their parent ended: the next steps start from an idle runner.
    await page
      .locator('.statusbar-item', { hasText: 'Flows' })
      .locator('.codicon-pass')
      .waitFor({ timeout: 180_000 });
  });

  it('schedules a flow, previewing the next runs as the timing is typed', async () => {
    await wb.openFile('hello.py');
    await wb.codeLens('Schedule').click();
    await wb.quickInput().getByText('Recurring').waitFor();
    await wb.shot('schedule-quick-pick');
    await wb.pick('Recurring');
    const box = wb.quickInput();
    await box.locator('input').fill('5m');
    await box.getByText(/next:/).waitFor();
    await wb.shot('schedule-preview');
    await page.keyboard.press('Enter');
    await wb.pick('Run');
    await wb.answerInput('{"name": "cron"}');
    const row = wb.row(wb.pane('Schedules'), 'hello');
    await row.first().waitFor();
    assert.match(
      (await row.first().getAttribute('aria-label')) ?? (await row.first().innerText()),
      /5 minutes/,
    );
    await wb.shot('schedule-created');
  });

  it('keeps one history per schedule through disable and enable, in a stable order', async () => {
    const schedules = wb.pane('Schedules');
    const row = wb.row(schedules, 'hello').first();
    // Run Schedule Now says how the run ended (and takes the focus to the Executions view,
    // which would close a context menu opened meanwhile).
    const runNow = async () => {
      await wb.contextMenu(row, 'Run Schedule Now');
      await wb.notification(/hello succeeded in/).waitFor();
      await wb.clearNotifications();
    };
    await runNow();
    await wb.contextMenu(row, 'Disable Schedule');
    await wb.waitForLabel(row, /disabled/);
    await runNow();
    await wb.contextMenu(row, 'Enable Schedule');
    await wb.waitForLabel(row, /next/);
    await wb.contextMenu(row, 'Show Schedule Runs');
    // Its SCHEDULE execution is selected, and both runs are under it: one history, though the
    // schedule was disabled and enabled in between.
    const executions = wb.pane('Executions');
    const parent = executions.locator('.monaco-list-row.selected[aria-label^="hello,"]').first();
    await parent.waitFor();
    if ((await parent.getAttribute('aria-expanded')) !== 'true')
      await parent.locator('.monaco-tl-twistie').click();
    const runs = executions.locator('.monaco-list-row[aria-level="2"][aria-label^="hello,"]');
    await runs.nth(1).waitFor();
    await wb.shot('schedule-one-history');
    await parent.locator('.monaco-tl-twistie').click();
  });

  it('refuses a keyless webhook called from a web page in Chromium, unless it allows browsers', async () => {
    // The window's runner, as runner.lock names it (the workspace's .flows folder).
    const lockFile = path.join(stateDir, 'examples', '.flows', 'runner.lock');
    await wb.openFile('hello.py'); // the extension is active (when this step runs alone)
    if (!fs.existsSync(lockFile)) await wb.command('Flows: Start Runner');
    await page.locator('.statusbar-item', { hasText: 'Flows' }).locator('.codicon-pass').waitFor();
    const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
    const token = fs.readFileSync(lock.token_file, 'utf8').trim();
    const rest = async (method: string, urlPath: string, body?: unknown) => {
      const res = await fetch(`${lock.url}${urlPath}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const created = await rest('POST', '/api/latest/webhook', { name: 'open-hook', flow_name: 'hello' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const callUrl = `${lock.url}/api/latest/webhook/open-hook/call`;
    const calls = async () => {
      const { body } = await rest('GET', '/api/latest/execution?flow_name=hello&limit=1000');
      return (body.items as { webhook_id: string | null }[]).filter((r) => r.webhook_id).length;
    };
    // A page of another site (the workbench's own CSP would block the requests before they
    // left): what it can do without any permission is an image and a no-cors fetch.
    const site = http.createServer((_req, res) => res.end('<!doctype html><title>another site</title>'));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    const other = await browser!.newPage();
    await other.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`);
    const fromPage = (url: string) =>
      other.evaluate(async (u) => {
        await fetch(u, { mode: 'no-cors', method: 'POST', body: 'x' }).catch(() => undefined);
        await new Promise<void>((resolve) => {
          const img = new (globalThis as any).Image();
          img.onload = img.onerror = () => resolve();
          img.src = `${u}?from=img`;
        });
      }, url);
    const before = await calls();
    await fromPage(callUrl);
    assert.equal(await calls(), before, 'no execution started from the page');
    // The same requests do reach the runner: once the webhook allows browsers, they run it.
    const patched = await rest('PATCH', '/api/latest/webhook/open-hook', { allow_browsers: true });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await fromPage(callUrl);
    assert.equal(await calls(), before + 2, 'the image and the fetch each started one');
    await rest('DELETE', '/api/latest/webhook/open-hook');
    await other.close();
    site.close();
  });

  it('restarts the runner after it crashes, and says so', async () => {
    const pid = runnerPid(stateDir);
    assert.ok(pid, 'the bundled runner runs');
    process.kill(pid, 'SIGKILL');
    await wb.notification(/flows runner was killed \(SIGKILL\); it has been restarted/).waitFor();
    // Running again: the status bar item shows its check mark (once the fan-out's children that
    // were still queued at the kill have run again), the views their rows.
    await page
      .locator('.statusbar-item', { hasText: 'Flows' })
      .locator('.codicon-pass')
      .waitFor({ timeout: 90_000 });
    await wb.row(wb.pane('Schedules'), 'hello').first().waitFor();
    await wb.waitForLabel(wb.rowNamed(wb.pane('Executions'), 'order-pipeline').first(), /succeeded/);
    const restarted = runnerPid(stateDir);
    assert.ok(restarted && restarted !== pid, `a new runner process (was ${pid}, now ${restarted})`);
    await wb.shot('runner-restarted');
  });

  it("keeps the runner's data out of git: .flows/.gitignore ignores all of it", async () => {
    const ignore = path.join(stateDir, 'examples', '.flows', '.gitignore');
    assert.match(fs.readFileSync(ignore, 'utf8'), /^\*$/m);
    // Quick Open leaves git-ignored files out of its list, but opens one by its full path.
    await page.keyboard.press('Control+P');
    const input = wb.quickInput().locator('input');
    await input.waitFor();
    await input.fill(ignore);
    await wb.quickInput().locator('.monaco-list-row', { hasText: '.gitignore' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tab.active[aria-label^=".gitignore"]').waitFor();
    await wb.shot('flows-folder-gitignore');
    // Its tab's own close button: the flows stay open, and with them the runner's status item.
    await page.locator('.tab.active[aria-label^=".gitignore"] .tab-actions .action-label').click();
    await page.locator('.tab[aria-label^=".gitignore"]').waitFor({ state: 'detached' });
  });

  it('shares a runner that already serves the folder, and takes the folder over when it stops', async () => {
    const status = page.locator('.statusbar-item', { hasText: 'Flows' });
    // Running (Stop Runner is offered only then): the steps before restart it.
    await page.locator('.statusbar-item[aria-label^="Bundled runner"]').waitFor();
    await wb.command('Flows: Stop Runner');
    await status.locator('.codicon-debug-stop').waitFor();
    // A `flows serve` started in a terminal on the same folder (and so the same history).
    const workspace = path.join(stateDir, 'examples');
    const serve = spawn(process.execPath, [RUNNER_JS, 'serve', '--flows', workspace, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        serve.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('"ready"') && resolve());
        serve.once('exit', (code) => reject(new Error(`flows serve exited with ${code}`)));
      });
      await wb.command('Flows: Start Runner');
      await page.locator(`.statusbar-item[aria-label^="Shared runner (pid ${serve.pid},"]`).waitFor();
      assert.equal(runnerPid(stateDir), undefined, 'the window started no runner of its own');
      await wb.waitForLabel(wb.rowNamed(wb.pane('Executions'), 'order-pipeline').first(), /succeeded/);
      await wb.shot('runner-shared');
    } finally {
      serve.kill('SIGTERM');
      await exited;
    }
    // Its runner gone, the window starts its own on the folder, with the history kept.
    await page.locator('.statusbar-item[aria-label^="Bundled runner"]').waitFor();
    assert.ok(runnerPid(stateDir), 'the window runs a runner of its own');
    await wb.waitForLabel(wb.rowNamed(wb.pane('Executions'), 'order-pipeline').first(), /succeeded/);
    await wb.shot('runner-taken-over');
  });

  it('connects to a team runner, keeps its token out of settings, and disconnects', async () => {
    // A team's runner: another folder of flows, another data folder, its own token.
    const teamFlows = fs.mkdtempSync(path.join(stateDir, 'team-flows-'));
    const teamData = fs.mkdtempSync(path.join(stateDir, 'team-data-'));
    fs.writeFileSync(
      path.join(teamFlows, 'team-report.py'),
      "def handler(system, this):\n    return 'from the team'\n",
    );
    const token = 'team-token-4f2a9c';
    const { url, stop } = await serveRunner({ flows: teamFlows, data: teamData, token });
    try {
      // Something ran there before this window connected: the tree shows the team's history.
      const created = await fetch(`${url}/api/latest/execution`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ flow_name: 'team-report' }),
      });
      assert.equal(created.status, 201);

      // Each answer once its box is up: the two boxes share one widget, and an Enter that
      // lands between them goes to the editor.
      const tokenBox = () => wb.quickInput().getByText('Connect to a Team Runner (2/2)').waitFor();
      await wb.command('Flows: Connect to a Team Runner…');
      await wb.answerInput(url);
      await tokenBox();
      await wb.answerInput('wrong-token');
      await wb.notification(/refused the token/).waitFor();
      await wb.shot('team-runner-refused');
      await wb.clearNotifications();

      await wb.command('Flows: Connect to a Team Runner…');
      await wb.answerInput(url);
      await tokenBox();
      await wb.answerInput(token);
      const host = new URL(url).host;
      await page.locator('.statusbar-item[aria-label^="Team runner at"]', { hasText: host }).waitFor();
      await wb.waitForLabel(wb.rowNamed(wb.pane('Executions'), 'team-report').first(), /succeeded/);
      await wb.shot('team-runner-connected');
      // The token is in VS Code's secret storage, nowhere in the settings files.
      for (const file of [
        path.join(stateDir, 'user-data', 'User', 'settings.json'),
        path.join(stateDir, 'examples', '.vscode', 'settings.json'),
      ]) {
        if (fs.existsSync(file))
          assert.ok(!fs.readFileSync(file, 'utf8').includes(token), `${file} holds the token`);
      }

      await wb.command('Flows: Disconnect from the Team Runner');
      await page.locator('.statusbar-item[aria-label^="Bundled runner"]').waitFor();
      await wb.waitForLabel(wb.rowNamed(wb.pane('Executions'), 'order-pipeline').first(), /succeeded/);
    } catch (err) {
      // Failed half-way: the steps after this one need the bundled runner back.
      await page.keyboard.press('Escape');
      await wb.command('Flows: Disconnect from the Team Runner').catch(() => undefined);
      throw err;
    } finally {
      await stop();
    }
  });

  it('runs a flow on a team runner on PostgreSQL, deployed from the folder, and finds it in the database', async function () {
    this.timeout(180_000);
    const bin = postgresBinOrSkip(this, log);
    let postgres: PostgresServer | undefined;
    let runner: ServedRunner | undefined;
    try {
      postgres = await startPostgres(bin);
      const database = await postgres.createDatabase();
      // A node of a team's cluster: its executions in PostgreSQL, and an empty flows folder, so
      // what it runs can only come from the flows deployed to the database.
      const emptyFlows = fs.mkdtempSync(path.join(stateDir, 'pg-flows-'));
      const data = fs.mkdtempSync(path.join(stateDir, 'pg-data-'));
      const token = 'pg-team-token-81d7e3';
      runner = await serveRunner({ database, flows: emptyFlows, data, token });
      const host = new URL(runner.url).host;

      await wb.openViewContainer('Flows');
      await wb.openFile('order-pipeline.py');
      await wb.command('Flows: Connect to a Team Runner…');
      await wb.answerInput(runner.url);
      await wb.quickInput().getByText('Connect to a Team Runner (2/2)').waitFor();
      await wb.answerInput(token);
      await page.locator('.statusbar-item[aria-label^="Team runner at"]', { hasText: host }).waitFor();
      const executions = wb.pane('Executions');
      // A new database: none of the bundled runner's history is in the tree.
      await executions.getByText('No executions yet').waitFor();

      // Run deploys the folder's flows first; the children (checks/…) resolve against the
      // flow records, since the node's own folder has none.
      await wb.codeLens('Run').click();
      await wb.answerInput('{"order_id": 42}');
      const top = wb.rowNamed(executions, 'order-pipeline');
      await wb.waitForLabel(top, /succeeded/);
      for (const child of ['checks/validate-address', 'checks/check-stock', 'checks/fraud-score', 'SQLITE'])
        await wb.row(executions, child).first().waitFor();
      await wb.notification(/order-pipeline succeeded/).waitFor();
      await wb.shot('team-runner-postgres-run');

      // The run is in PostgreSQL, with its children: owned by the node that ran it, started by
      // the user of the token VS Code connected with.
      const rows = await sql(
        database,
        `SELECT id, status, message, owner, started_by FROM executions
          WHERE flow_name = 'order-pipeline' AND parent_execution_id IS NULL`,
      );
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.equal(rows[0].status, 'SUCCEEDED', JSON.stringify(rows[0]));
      assert.equal(rows[0].message, 'order 42 is ready to ship');
      assert.ok(rows[0].owner, 'the execution names the node that ran it');
      assert.equal(rows[0].started_by, 'local', "started with the node's own token");
      const children = await sql(
        database,
        'SELECT flow_name, connector_type, status FROM executions WHERE parent_execution_id = $1 ORDER BY flow_name',
        [rows[0].id],
      );
      assert.deepEqual(
        children.map((c) => `${c.flow_name ?? c.connector_type} ${c.status}`),
        [
          'checks/check-stock SUCCEEDED',
          'checks/fraud-score SUCCEEDED',
          'checks/validate-address SUCCEEDED',
          'SQLITE SUCCEEDED',
        ],
      );
      // What ran came from the database: the folder's flows are deployed there, and the
      // node's own folder is still empty.
      const deployed = (await sql(database, 'SELECT name FROM flows')).map((r) => r.name);
      for (const name of ['order-pipeline', 'checks/check-stock', 'hello'])
        assert.ok(deployed.includes(name), `${name} deployed (have: ${deployed.join(', ')})`);
      assert.deepEqual(fs.readdirSync(emptyFlows), []);

      await wb.command('Flows: Disconnect from the Team Runner');
      await page.locator('.statusbar-item[aria-label^="Bundled runner"]').waitFor();
    } catch (err) {
      // Failed half-way: the steps after this one need the bundled runner back.
      await page.keyboard.press('Escape');
      await wb.command('Flows: Disconnect from the Team Runner').catch(() => undefined);
      throw err;
    } finally {
      await runner?.stop();
      await postgres?.stop();
    }
  });

  it('stops at a breakpoint set in the gutter, shows variables, steps, continues', async () => {
    await wb.openFile('order-pipeline.py');
    await wb.toggleBreakpoint(19);
    await wb.editor().locator('.codicon-debug-breakpoint').first().waitFor();
    await page.keyboard.press('F5');
    await wb.answerInput('{"order_id": 9}');
    // Stopped: the debug toolbar is up, line 19 is the top stack frame, its locals are shown.
    await page.locator('.debug-toolbar').waitFor({ timeout: 60_000 });
    await wb.editor().locator('.debug-top-stack-frame-line').waitFor({ timeout: 60_000 });
    const callStack = wb.pane('Call Stack');
    const frame = callStack.locator('.monaco-list-row', { hasText: 'order-pipeline.py' }).first();
    await frame.getByText(/^19:/).waitFor();
    const variables = wb.pane('Variables');
    await wb.row(variables, 'order_id').first().waitFor();
    await wb.row(variables, 'checks').first().waitFor();
    await wb.shot('stopped-at-breakpoint');

    // The children it started are in the Executions tree while it stands still.
    await wb.openViewContainer('Flows');
    const executions = wb.pane('Executions');
    // (its own row: the view may still show the list it had before the run, with order 7's Run)
    const debugged = wb.rowNamed(executions, 'order-pipeline').filter({ hasText: 'try' }).first();
    await wb.waitForLabel(debugged, /, paused,.*try/);
    // F5 left Run and Debug in front; the Executions view selects the debugged run once shown.
    await executions.locator('.monaco-list-row.selected', { hasText: 'order-pipeline' }).waitFor();
    await debugged.locator('.monaco-tl-twistie').click();
    await wb.rowNamed(executions, 'checks/fraud-score').first().waitFor();
    await wb.shot('children-while-stopped');

    await wb.openViewContainer('Run and Debug');
    await page.keyboard.press('F10');
    await frame.getByText(/^20:/).waitFor();
    await wb.shot('stepped');
    await page.keyboard.press('F5');
    await page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 60_000 });
    // Its end is told as a Run's is: the same words, the same icon.
    await wb
      .notification(/order-pipeline succeeded in .*order 9 is ready to ship/)
      .locator('.codicon-info')
      .waitFor();
    await wb.openViewContainer('Flows');
    await wb.waitForLabel(wb.rowNamed(executions, 'order-pipeline').first(), /succeeded.*try/);
    await wb.shot('debug-session-ended');
  });

  it("puts a failed run's error in Problems, and Go to Error lands on its line", async () => {
    await wb.openFile('average.py');
    await wb.codeLens('Run').click();
    const toast = wb.notification(/average failed.*ZeroDivisionError/);
    await toast.waitFor({ timeout: 60_000 });
    await toast.getByRole('button', { name: 'Go to Error' }).waitFor();
    await wb.shot('failed-run-toast');
    // The error is in the Problems panel, at the line that raised it.
    await wb.command('Problems: Focus on Problems View');
    const problems = page.locator('.markers-panel');
    await problems.getByText('ZeroDivisionError: division by zero').waitFor();
    await problems.getByText(/\[Ln 7, Col 5\]/).waitFor();
    await wb.editor().locator('.squiggly-error').first().waitFor();
    await wb.shot('failed-run-in-problems');
    // Go to Error on the row puts the cursor on that line, in a fresh editor.
    await wb.command('View: Close All Editors');
    await wb.openViewContainer('Flows');
    const row = wb.rowNamed(wb.pane('Executions'), 'average').first();
    await wb.contextMenu(row, 'Go to Error');
    await page.locator('.tab.active[aria-label*="average.py"]').waitFor();
    await page.locator('.statusbar-item', { hasText: /Ln 7, Col 1/ }).waitFor();
    await wb.shot('went-to-error');
    // The traceback in the log is a link to the same line.
    await wb.contextMenu(row, 'Show Execution Log');
    const output = page.locator('.panel .monaco-editor');
    await output
      .getByText(/ZeroDivisionError/)
      .first()
      .waitFor();
    await output
      .locator('.detected-link', { hasText: /average\.py/ })
      .first()
      .waitFor();
    await wb.shot('traceback-link-in-log');
    await wb.command('View: Hide Panel');
  });

  it('stops at a breakpoint in a Try, without a launch configuration', async () => {
    await wb.openFile('hello.py');
    await wb.toggleBreakpoint(6);
    await wb.editor().locator('.codicon-debug-breakpoint').first().waitFor();
    await wb.codeLens('Try').click();
    await wb.answerInput('{"name": "Grace"}');
    await page.locator('.debug-toolbar').waitFor({ timeout: 60_000 });
    // VS Code brings Run and Debug to the front at the break, as for F5.
    await page.locator('.activitybar .action-item.checked a[aria-label^="Run and Debug"]').waitFor();
    const frame = wb.pane('Call Stack').locator('.monaco-list-row', { hasText: 'hello.py' }).first();
    await frame.getByText(/^6:/).waitFor({ timeout: 60_000 });
    await wb.row(wb.pane('Variables'), 'name').first().waitFor();
    await wb.shot('try-stopped-at-breakpoint');
    await page.keyboard.press('F5');
    await page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 60_000 });
    await wb.notification(/hello succeeded in .*greeted Grace/).waitFor();
    await wb.openFile('hello.py');
    await wb.toggleBreakpoint(6);
    await wb.openViewContainer('Flows');
    // Its own row (other hello runs came from the webhook step), ended as a Try that went on.
    const tried = wb.rowNamed(wb.pane('Executions'), 'hello').filter({ hasText: 'greeted Grace' });
    await wb.waitForLabel(tried.first(), /succeeded.*try.*greeted Grace/);
    await wb.shot('try-went-on');
  });

  it('keeps the tree order right while runs arrive and after a window reload', async () => {
    await wb.openViewContainer('Flows');
    const executions = wb.pane('Executions');
    /** The rows of this step's runs and their children, as drawn: [name, message, level]. */
    const drawn = async () =>
      (
        await executions
          .locator('.monaco-list-row')
          .evaluateAll((rows) =>
            rows.map((r) => [r.getAttribute('aria-label') ?? '', r.getAttribute('aria-level') ?? '']),
          )
      )
        .map(([label, level]) => [label.split(',')[0], /(arrival \d|tick)/.exec(label)?.[1] ?? '', level])
        .filter(([name]) => name === 'arrive' || name.startsWith('child of '));
    /** Each child right under its own run, runs at the top level, newest first. */
    const assertOrder = (rows: string[][], when: string) => {
      const runs = rows.filter(([name]) => name === 'arrive');
      assert.deepEqual(
        runs.map(([, message, level]) => `${message} @${level}`),
        ['arrival 3 @1', 'arrival 2 @1', 'arrival 1 @1'],
        `${when}: ${JSON.stringify(rows)}`,
      );
      rows.forEach(([name, , level], i) => {
        if (name === 'arrive') return;
        const n = name.slice('child of '.length);
        assert.equal(level, '2', `${when}: ${name} is not one level in: ${JSON.stringify(rows)}`);
        assert.deepEqual(
          rows[i - 1].slice(0, 2),
          ['arrive', `arrival ${n}`],
          `${when}: ${name} is under another run`,
        );
      });
    };

    await wb.openFile('arrive.py');
    for (const n of [1, 2, 3]) {
      await wb.codeLens('Run').click();
      await wb.answerInput(`{"n": ${n}}`);
      // Run reveals and expands each new run: the older ones stay open while it arrives.
      await wb.notification(new RegExp(`arrive succeeded in .*arrival ${n}`)).waitFor();
      await wb.rowNamed(executions, `child of ${n}`).first().waitFor();
      await wb.clearNotifications();
    }
    assertOrder(await drawn(), 'while runs arrive');
    await wb.shot('tree-order-while-runs-arrive');

    const reloaded = page.waitForEvent('load');
    await wb.command('Developer: Reload Window');
    await reloaded;
    await wb.waitForWorkbench();
    await wb.openViewContainer('Flows');
    const newest = wb.rowNamed(executions, 'arrive').filter({ hasText: 'arrival 3' }).first();
    await newest.waitFor({ timeout: 60_000 });
    for (const n of [1, 2])
      await wb
        .rowNamed(executions, 'arrive')
        .filter({ hasText: `arrival ${n}` })
        .waitFor();
    // VS Code may or may not bring back which rows were open: open the newest if it is closed.
    if ((await newest.getAttribute('aria-expanded')) !== 'true')
      await newest.locator('.monaco-tl-twistie').click();
    await wb.rowNamed(executions, 'child of 3').first().waitFor();
    assertOrder(await drawn(), 'after a window reload');
    await wb.shot('tree-order-after-reload');
  });

  it('makes a test of a run from the tree, and runs it in the Testing view: it passes, then fails', async function () {
    this.timeout(240_000);
    const workspace = path.join(stateDir, 'examples');
    const flowFile = path.join(workspace, 'greeting.py');
    const flow = (word: string) => `import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    this.flow('tick', name='tick for greeting')
    this.save(output_value={'greeting': '${word}', 'to': 'the tests'})
    return this.success('greeted')
`;
    fs.writeFileSync(flowFile, flow('hello'));
    await wb.openFile('greeting.py');
    await wb.codeLens('Run').click();
    await wb.openViewContainer('Flows');
    const row = wb.rowNamed(wb.pane('Executions'), 'greeting').first();
    await wb.waitForLabel(row, /succeeded.*greeted/);
    await wb.clearNotifications();
    await wb.contextMenu(row, 'Create Test from Execution');
    // The runner wrote tests/greeting.flowtest.yaml next to the flow; it opens at the new case.
    await page.locator('.tab.active[aria-label^="greeting.flowtest.yaml"]').waitFor();
    await wb
      .notification(/Added the test "greeting succeeded: greeted" to tests\/greeting\.flowtest\.yaml/)
      .waitFor();
    assert.match(
      fs.readFileSync(path.join(workspace, 'tests', 'greeting.flowtest.yaml'), 'utf8'),
      /greeting: hello/,
    );
    await wb.clearNotifications();

    await wb.openViewContainer('Testing');
    const sidebar = page.locator('.sidebar');
    const caseRow = sidebar.locator('.monaco-list-row', { hasText: 'greeting succeeded: greeted' });
    const fileRow = sidebar.locator('.monaco-list-row', { hasText: /^greeting/ }).first();
    const expand = async () => {
      await fileRow.waitFor();
      if ((await fileRow.getAttribute('aria-expanded')) === 'false')
        await fileRow.locator('.monaco-tl-twistie').click();
      await caseRow.waitFor();
    };
    await expand();
    await wb.command('Test: Run All Tests');
    await fileRow.locator('.codicon-testing-passed-icon').waitFor({ timeout: 90_000 });
    await expand();
    await caseRow.locator('.codicon-testing-passed-icon').waitFor({ timeout: 90_000 });
    // The gutter of the test file shows it passed, at the case's line.
    await wb.editor().locator('.codicon-testing-passed-icon').first().waitFor();
    await wb.shot('flow-test-passing');

    // The flow changes its output: the test fails, with the difference at the `output:` line.
    fs.writeFileSync(flowFile, flow('HELLO'));
    await wb.command('Test: Run All Tests');
    await fileRow.locator('.codicon-testing-failed-icon').waitFor({ timeout: 90_000 });
    await expand();
    await caseRow.locator('.codicon-testing-failed-icon').waitFor({ timeout: 90_000 });
    // Its difference, in the editor at the expectation (the panel out of the way).
    await wb.command('View: Hide Panel');
    // It stands at the `output:` expectation; a click on it opens expected and actual side by side.
    const inline = wb
      .editor()
      .getByText(/HELLO.* != /)
      .first();
    await inline.waitFor();
    const peek = page.locator('.test-output-peek');
    if (!(await peek.isVisible())) await inline.click();
    await peek.waitFor();
    await peek
      .getByText(/expected "hello", got "HELLO"/)
      .first()
      .waitFor();
    await wb.shot('flow-test-failing');

    // The recorded and replayed runs side by side, from the failure's Show Tree Diff button.
    await peek.getByText('Show Tree Diff', { exact: true }).first().click();
    await page
      .locator('.tab.active', { hasText: /↔|recorded/i })
      .first()
      .waitFor();
    await wb.shot('flow-test-tree-diff');
    // The same failure at the line of the flow that set the output.
    await page.keyboard.press('Escape');
    await wb.openFile('greeting.py');
    await wb
      .editor()
      .getByText(/expected "hello", got "HELLO"/)
      .first()
      .waitFor();
    await wb.shot('flow-test-failing-at-flow-line');

    // As the next steps found it: the flow as it was, no peek, no editors, the Flows view.
    fs.writeFileSync(flowFile, flow('hello'));
    await page.keyboard.press('Escape');
    await wb.command('View: Close All Editors');
    await wb.openViewContainer('Flows');
  });

  it('raised no error in the workbench page', () => {
    assert.deepEqual(
      browserErrors.filter((e) => /flows/i.test(e)),
      [],
    );
  });
});
