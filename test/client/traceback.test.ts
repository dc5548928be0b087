import assert from 'node:assert/strict';
import { errorLocation, localFile } from '../../client/errors/traceback';

describe('client errorLocation (Go to Error, diagnostics at the failing line)', () => {
  it('names the deepest frame of the last traceback', () => {
    const lines = [
      'starting',
      'Traceback (most recent call last):',
      '  File "/work/flows/order.py", line 12, in handler',
      '    total = price(items)',
      '  File "/work/flows/lib/pricing.py", line 4, in price',
      '    return sum(i["price"] for i in items) / 0',
      'ZeroDivisionError: division by zero',
    ];
    assert.deepEqual(errorLocation(lines), { file: '/work/flows/lib/pricing.py', line: 4 });
  });

  it('reads the last of chained tracebacks, and skips pseudo-files of scripts', () => {
    const lines = [
      'Traceback (most recent call last):',
      '  File "/f/a.py", line 3, in handler',
      'KeyError: x',
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      'Traceback (most recent call last):',
      '  File "/f/a.py", line 9, in handler',
      '  File "<script>", line 2, in <module>',
      'ValueError: bad',
    ];
    assert.deepEqual(errorLocation(lines), { file: '/f/a.py', line: 9 });
  });

  it('finds nothing in a log without a traceback', () => {
    assert.equal(errorLocation(['a line', 'File "x.py", line 3 was mentioned']), undefined);
    assert.equal(errorLocation([]), undefined);
  });

  it('maps a team runner’s cached copy of a deployed flow to the flow in the flows folder', () => {
    const hash = 'ab'.repeat(32);
    assert.equal(
      localFile(`/srv/flows/n1/flow-cache/${hash}/checks/fraud-score.py`, '/home/me/flows'),
      '/home/me/flows/checks/fraud-score.py',
    );
    assert.equal(localFile('/home/me/flows/order.py', '/home/me/flows'), '/home/me/flows/order.py');
    assert.equal(localFile(`/x/flow-cache/${hash}/a.py`, undefined), `/x/flow-cache/${hash}/a.py`);
    assert.equal(localFile('/x/flow-cache/not-a-hash/a.py', '/w'), '/x/flow-cache/not-a-hash/a.py');
  });
});
