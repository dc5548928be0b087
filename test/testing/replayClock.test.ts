/**
 * The virtual clock of a replay (issue 17): inside a replayed flow `time.time()`,
 * `datetime.now()` and `time.gmtime()` start at the recorded run's start and move only by what it
 * sleeps; `sleep_until` a far date and a child flow `scheduled_for` years ahead complete at once
 * (the child starts at its scheduled time, on the clock), and the same case replays to the same
 * output every time. Real runner, real Python, through the `flows` CLI.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, tempDir } from '../runner/harness';

const CALENDAR = `import datetime
import time
from datetime import datetime as dt


def handler(system, this):
    start = time.time()
    first = dt.now(datetime.timezone.utc).isoformat()
    this.sleep(3600)
    child = this.flow('stamp', scheduled_for='2030-01-01T00:00:00+00:00')
    this.sleep_until(dt(2031, 1, 1, tzinfo=datetime.timezone.utc))
    return {
        'first': first,
        'child': child.get('output_value')['at'],
        'end': dt.now(datetime.timezone.utc).isoformat(),
        'year': time.strftime('%Y', time.gmtime()),
        'elapsed': round(time.time() - start),
    }
`;
const STAMP = `import datetime


def handler(system, this):
    return {'at': datetime.datetime.now(datetime.timezone.utc).isoformat()}
`;

describe('flow tests: time in a replay follows the virtual clock', function () {
  this.timeout(120_000);
  let dir: string;

  before(() => {
    dir = tempDir('flows-replay-clock-');
    fs.writeFileSync(path.join(dir, 'calendar.py'), CALENDAR);
    fs.writeFileSync(path.join(dir, 'stamp.py'), STAMP);
    fs.mkdirSync(path.join(dir, 'tests'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('starts at the recorded start, moves by sleeps, runs a child scheduled years ahead at once, the same each time', async () => {
    const elapsed = (Date.parse('2031-01-01T00:00:00Z') - Date.parse('2024-03-01T08:00:00Z')) / 1000;
    const output = [
      `{first: '2024-03-01T08:00:00+00:00', child: '2030-01-01T00:00:00+00:00',`,
      ` end: '2031-01-01T00:00:00+00:00', year: '2031', elapsed: ${elapsed}}`,
    ].join('');
    const testCase = (name: string) => [
      `  - name: ${name}`,
      "    started_at: '2024-03-01T08:00:00Z'",
      '    expect:',
      '      status: SUCCEEDED',
      `      output: ${output}`,
    ];
    const file = path.join(dir, 'tests', 'calendar.flowtest.yaml');
    fs.writeFileSync(
      file,
      ['flow: calendar', 'tests:', ...testCase('first replay'), ...testCase('second replay'), ''].join('\n'),
    );
    const r = await runCli(['test', file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /2 passed, 0 failed/);
    // Six years and ten months of sleeping and waiting for a scheduled child, in well under a second.
    for (const name of ['first replay', 'second replay']) {
      const ms = Number(new RegExp(`${name} {2}\\(run (\\d+) ms`).exec(r.stdout)?.[1]);
      assert.ok(ms < 1000, `${name} took ${ms} ms: ${r.stdout}`);
    }
  });

  it('without started_at, the clock starts at the real time of the replay', async () => {
    const file = path.join(dir, 'tests', 'stamp.flowtest.yaml');
    fs.writeFileSync(
      file,
      ['flow: stamp', 'tests:', '  - name: now', '    expect: {status: SUCCEEDED}', ''].join('\n'),
    );
    const before = Date.now();
    const r = await runCli(['test', file, '--reporter', 'json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const result = JSON.parse(r.stdout.split('\n')[0]);
    const at = Date.parse(result.actual.output_value.at);
    assert.ok(at >= before - 1000 && at <= Date.now(), `${result.actual.output_value.at}`);
  });
});
