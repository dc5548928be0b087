/**
 * End to end, the language server while someone types (issue 16): in code-server, an unfinished
 * `this.` is left on a line above a `this.flow('child', ` call, and completion there still offers
 * the inputs the child flow reads. Its own code-server and workspace, so it runs beside (or
 * apart from) flows.e2e.ts: `npx mocha --config test/e2e/.mocharc.json test/e2e/languageServer.e2e.ts`.
 */
import fs from 'node:fs';
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

const FLOWS: Record<string, string> = {
  'child.py': `def handler(system, this, inputs):
    count = int(inputs['count'])
    region = inputs.get('region', 'eu')
    return this.success(count)
`,
  'parent.py': `import flow_api


def handler(system: flow_api.System, this: flow_api.Execution):
    this.log('start')
    return this.success('done')
`,
};

const log = (msg: string) => process.stdout.write(`      ${msg}\n`);

describe('Flows language server while typing, in code-server', function () {
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let wb: Workbench;
  let stateDir: string;

  before(async function () {
    this.timeout(10 * 60_000);
    const missing = missingPrerequisites();
    if (missing) throw new Error(`cannot run the end-to-end suite: ${missing}`);
    const vsix = packageExtension(log);
    const bin = installCodeServer(log);
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-e2e-ls-'));
    const workspace = path.join(stateDir, 'flows');
    fs.mkdirSync(workspace);
    for (const [name, text] of Object.entries(FLOWS)) fs.writeFileSync(path.join(workspace, name), text);
    server = await startCodeServer({
      bin,
      vsix,
      stateDir,
      userSettings: {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoCheckUpdates': false,
        'extensions.ignoreRecommendations': true,
        'security.workspace.trust.enabled': false,
        'editor.minimap.enabled': false,
        'files.autoSave': 'off',
        // Brackets and quotes as typed, so the text is what a user without auto-closing types.
        'editor.autoClosingBrackets': 'never',
        'editor.autoClosingQuotes': 'never',
      },
    });
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(30_000);
    wb = new Workbench(page);
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
    await wb.waitForWorkbench();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      const name = this.currentTest.title.replace(/[^\w]+/g, '-').slice(0, 60);
      log(`screenshot of the failure: ${await wb.shot(`FAILED-ls-${name}`)}`);
    }
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    if (server) {
      await server.stop();
      fs.mkdirSync(SHOTS_DIR, { recursive: true });
      fs.writeFileSync(path.join(SHOTS_DIR, 'code-server-ls.log'), server.output.join(''));
    }
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("offers the child's inputs in this.flow('child', with an unfinished this. above", async () => {
    await wb.openFile('parent.py');
    // The extension is active and has looked at the file (its CodeLens is drawn).
    await wb.codeLens('Run').waitFor();
    await page.keyboard.press('Control+G');
    await wb.answerInput(':5');
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    // The unfinished line, left as it is.
    await page.keyboard.type('this.');
    const suggest = page.locator('.editor-widget.suggest-widget.visible');
    // The language server may still be starting when '.' is typed: ask again, as a user would.
    await suggest.waitFor({ timeout: 5_000 }).catch(() => page.keyboard.press('Control+Space'));
    await suggest.waitFor();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Enter');
    await page.keyboard.type("this.flow('child', ");
    await page.keyboard.press('Control+Space');
    await suggest.waitFor();
    const row = (label: string) =>
      suggest.locator('.monaco-list-row .label-name').getByText(label, { exact: true });
    await row('count=').waitFor();
    await row('region=').waitFor();
    await row('priority=').waitFor();
    await wb.shot('child-inputs-below-unfinished-this');
    await page.keyboard.press('Escape');
    await wb.command('File: Revert File');
    await page.locator('.tab.active.dirty').waitFor({ state: 'detached' });
  });
});
