/**
 * The platform compat suite (test/fixtures/compat): flows written in the platform's style run to
 * SUCCEEDED on a real runner with the expected output, the language server publishes no
 * diagnostic on them, and pyright with the shipped stubs reports no error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServerMessage } from '../protocol';
import { startTestRunner, type TestRunner } from './runner/harness';
import { ensureServerBuilt, fileUri, LspClient, SERVER_JS } from './server/lspClient';

const COMPAT = path.resolve(__dirname, 'fixtures', 'compat');
const REPO = path.resolve(__dirname, '..');

/** Every top-level compat flow and the output_value it must end SUCCEEDED with. */
const EXPECTED: Record<string, { input?: Record<string, unknown>; output: unknown; message: string }> = {
  records_settings: {
    message: 'settings ok',
    output: {
      value: { name: 'eu', zones: 3 },
      same_name: true,
      whole_has_id: true,
      reloaded: { name: 'us', zones: 5 },
      listed: ['compat-region', 'compat-region-old'],
      after_archive: ['compat-other', 'compat-region'],
      exists: [true, false, false],
      not_found: 'ResourceNotFoundError',
    },
  },
  settings_lock: {
    message: 'locks ok',
    output: { while_held: { acquired: false }, after_release: { acquired: true } },
  },
  files: {
    message: 'files ok',
    output: {
      first: 'line 1\n',
      text: 'line 1\nline 2\n',
      base64: 'AP9kYXRh',
      copied: true,
      hello: 'hello',
      names: ['compat/blob.bin', 'compat/copy.bin', 'compat/hello.txt', 'compat/report.txt'],
      report: ['compat/report.txt', 14],
      gone: true,
      large: ['compat/report.txt'],
    },
  },
  connections: {
    message: 'connections ok',
    output: {
      stored: ':memory:',
      answer: 41,
      override: 42,
      is_task: true,
      ended_success: true,
      task_ok: true,
      names: ['compat-db'],
    },
  },
  children_wait: {
    message: 'children ok',
    output: {
      failed_status: 'ENDED_ERROR',
      is_error: true,
      raised: 'ENDED_ERROR',
      first_count: true,
      both: [1, 2],
      later: { value: 3, extra: null },
      all_ended: true,
    },
  },
  templates: {
    message: 'templates ok',
    output: {
      shell: ['two', 'three'],
      copy: { value: 'copy', extra: 'kept' },
      background: { value: 'async', extra: 'kept' },
    },
  },
  logging_output: {
    message: 'logging ok',
    output: { steps: 3, status: 'done', items: [1, 2] },
  },
  wrappers: {
    message: 'wrappers ok',
    output: { tries: 3, child: { succeeded_on: 3 }, timed_out: true, names_wrappers: true },
  },
  exceptions_and_signals: {
    message: 'exceptions ok',
    output: {
      child_message: 'ended by success()',
      missing: 'ResourceNotFoundError',
      signal_is_not_exception: true,
      lock_timeout_is_timeout: true,
      top_level: true,
    },
  },
  system_records: {
    message: 'system ok',
    input: { who: 'platform' },
    output: {
      greeting: 'hello platform',
      user_named: true,
      client_named: true,
      sees_itself: true,
      child_flows: [
        'children/echo',
        'children/fail',
        'children/flaky',
        'children/slow',
        'children/swallow',
        'children/take_lock',
      ],
      has_handler: true,
      listed_reads_script: true,
      env: 'local',
    },
  },
  messages: { message: 'messages ok', output: { timed_out: true, name: 'Ada' } },
  webhooks: {
    message: 'webhooks ok',
    output: {
      enabled: ['compat-hook', 'compat-other-hook'],
      target: 'children/echo',
      disabled: true,
      still_enabled: ['compat-other-hook'],
      missing: true,
    },
  },
};

/** Every .py file of the suite, relative to it. */
function compatFlows(dir = COMPAT, prefix = ''): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? compatFlows(path.join(dir, e.name), `${prefix}${e.name}/`)
        : e.name.endsWith('.py')
          ? [`${prefix}${e.name}`]
          : [],
    )
    .sort();
}

describe('platform compat suite', function () {
  this.timeout(120_000);

  it('lists every top-level flow of the suite', () => {
    const topLevel = compatFlows().filter((f) => !f.includes('/'));
    assert.deepEqual(topLevel.map((f) => f.replace(/\.py$/, '')).sort(), Object.keys(EXPECTED).sort());
  });

  describe('on a real runner', () => {
    let t: TestRunner;
    before(async () => {
      // A copy, so the files and settings the flows write stay out of the repository.
      const flowsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-compat-'));
      fs.cpSync(COMPAT, flowsDir, { recursive: true });
      t = await startTestRunner({ flowsDir, concurrency: 4 });
      // Webhooks are made in VS Code or over REST; the webhooks flow reads and disables one.
      for (const name of ['compat-hook', 'compat-other-hook']) {
        const made = await t.api('POST', '/api/latest/webhook', { name, flow_name: 'children/echo' });
        assert.equal(made.status, 201, JSON.stringify(made.body));
      }
    });
    after(() => t?.stop());

    for (const [flow, expected] of Object.entries(EXPECTED)) {
      it(`${flow} ends SUCCEEDED with the expected output`, async () => {
        if (flow === 'messages') answerMessages(t);
        const rec = await t.run({ flow_name: flow, input_value: expected.input ?? {} });
        assert.equal(rec.status, 'SUCCEEDED', `${flow} ended ${rec.status}: ${rec.message}`);
        assert.equal(rec.message, expected.message);
        assert.deepEqual(rec.output_value, expected.output);
      });
    }

    it('disables the webhook for callers too', async () => {
      const hook = await t.api('GET', '/api/latest/webhook/compat-hook');
      assert.equal(hook.body.enabled, false);
    });

    it('logs keyword pairs as key: value lines', async () => {
      const rec = await t.run({ flow_name: 'logging_output' });
      const log = await t.api('GET', `/api/latest/execution/${rec.id}/log`);
      const lines = (log.body.items as { text: string }[]).map((l) => l.text);
      assert.ok(lines.includes('starting 3 steps'), lines.join('\n'));
      assert.ok(lines.includes('response: {"status": 200, "items": [1, 2]}'), lines.join('\n'));
      assert.ok(lines.includes('[WARNING] note: disk almost full'), lines.join('\n'));
    });
  });

  it('gets no diagnostic from the language server', async function () {
    ensureServerBuilt();
    const client = await LspClient.start({
      command: process.execPath,
      args: [SERVER_JS, '--stdio'],
      root: COMPAT,
    });
    try {
      const problems: string[] = [];
      const deprecated: string[] = [];
      for (const file of compatFlows()) {
        const uri = fileUri(path.join(COMPAT, file));
        await client.open(uri, fs.readFileSync(path.join(COMPAT, file), 'utf8'));
        for (const d of await client.diagnosticsFor(uri)) {
          const where = `${file}:${d.range.start.line + 1}`;
          // DiagnosticTag.Deprecated (2): the platform's own deprecation, struck through, not an error.
          if (d.tags?.includes(2) && d.severity === 4) deprecated.push(`${where}: ${d.message}`);
          else problems.push(`${where}: ${d.message}`);
        }
      }
      assert.deepEqual(problems, []);
      // The one flow that still calls the deprecated this.task(…) is told so, as the platform logs it.
      assert.deepEqual(deprecated, [
        'connections.py:16: `this.task()` is deprecated and will be removed from the platform: use `this.connect(connector_type=...)` instead.',
      ]);
    } finally {
      await client.stop();
    }
  });

  it('type-checks with pyright and the shipped stubs without an error', function () {
    const cli = require.resolve('pyright/index.js', { paths: [REPO] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-compat-pyright-'));
    fs.cpSync(COMPAT, dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'pyrightconfig.json'),
      JSON.stringify({ stubPath: path.join(REPO, 'server', 'stubs'), reportMissingModuleSource: false }),
    );
    const run = spawnSync(process.execPath, [cli, '--outputjson', '-p', dir], { cwd: dir, encoding: 'utf8' });
    const report = JSON.parse(run.stdout) as {
      generalDiagnostics: {
        file: string;
        severity: string;
        message: string;
        range: { start: { line: number } };
      }[];
    };
    const errors = report.generalDiagnostics
      .filter((d) => d.severity === 'error')
      .map((d) => `${path.relative(dir, d.file)}:${d.range.start.line + 1}: ${d.message}`);
    assert.deepEqual(errors, []);
    assert.ok(report.generalDiagnostics !== undefined);
  });
});

/** Answers the compat flow's name request as a user would in VS Code. */
function answerMessages(t: TestRunner): void {
  void t
    .waitFor(
      (m: ServerMessage) =>
        m.type === 'message' && m.event === 'created' && m.message.subject === 'Your name?',
      'the name request',
    )
    .then((m) => {
      const id = (m as Extract<ServerMessage, { type: 'message' }>).message.id;
      return t.api('POST', `/api/latest/message/${id}/response`, { response: { string: 'Ada' } });
    });
}
