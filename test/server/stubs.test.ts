// The shipped flow_api stubs are generated from the catalogue and must not drift from it; pyright
// (when installed) must accept them and type-check flows with them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderStubs, STUB_PATH } from '../../server/stubgen';

const REPO = path.resolve(__dirname, '..', '..');

function pyright(): string | undefined {
  try {
    return require.resolve('pyright/index.js', { paths: [REPO] });
  } catch {
    return undefined;
  }
}

interface PyrightReport {
  generalDiagnostics: {
    file: string;
    severity: string;
    message: string;
    rule?: string;
    range: { start: { line: number } };
  }[];
}

describe('flow_api stubs (server/stubs)', () => {
  it('are what server/stubgen.ts renders from the catalogue', () => {
    assert.equal(
      fs.readFileSync(STUB_PATH, 'utf8'),
      renderStubs(),
      'server/stubs/flow_api/__init__.pyi is out of date: run `npx tsx server/stubgen.ts`',
    );
  });

  it('type-check the fixture flows with pyright and catch API mistakes', function () {
    this.timeout(60_000);
    const cli = pyright();
    if (!cli) {
      console.log('    (skipped: pyright is not installed)');
      this.skip();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-stubs-'));
    try {
      fs.cpSync(path.join(REPO, 'test', 'fixtures', 'server', 'flows'), dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'mistakes.py'),
        "import flow_api\n\ndef handler(system: flow_api.System, this: flow_api.Execution):\n    this.sleeep(1)\n    this.save(outptu_value=1)\n    system.setting('a').get().x\n    return this.success()\n",
      );
      fs.writeFileSync(
        path.join(dir, 'pyrightconfig.json'),
        JSON.stringify({ stubPath: path.dirname(path.dirname(STUB_PATH)), reportMissingModuleSource: false }),
      );
      const run = spawnSync(process.execPath, [cli, '--outputjson', '-p', dir], {
        cwd: dir,
        encoding: 'utf8',
      });
      const report = JSON.parse(run.stdout) as PyrightReport;
      const errors = report.generalDiagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => `${path.basename(d.file)}:${d.range.start.line + 1} ${d.message.split('\n')[0]}`);
      assert.deepEqual(errors, [
        'mistakes.py:4 Cannot access attribute "sleeep" for class "Execution"',
        'mistakes.py:5 No parameter named "outptu_value"',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
