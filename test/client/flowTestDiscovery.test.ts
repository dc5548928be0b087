/**
 * What the Testing view makes of a flow test file (client/testing/testDiscovery.ts) and of a
 * failed case's report (testFailures.ts): plain functions, no VS Code.
 */
import assert from 'node:assert/strict';
import type { TestReportLine } from '../../protocol';
import { discoverTests } from '../../client/testing/testDiscovery';
import { expectationOf, failureViews } from '../../client/testing/testFailures';

const FILE = `# Tests of the flow 'greet', made from recorded runs by \`flows test create\`.
flow: greet
tests:
  - name: greet succeeded
    recorded_from: 3f0c
    # The input_value the flow runs with.
    input: {name: ada}
    expect:
      status: SUCCEEDED
      message: greeted
      output:
        greeting: hello ADA
      children:
        - flow: shout
          inputs: {text: ada}
  - name: no expectations
    input: null
  - {name: flow style, expect: {status: FAILED}}
`;

describe('client: flow tests in the Testing view', () => {
  it('finds the flow, each case at its line, and the line and value of each expectation', () => {
    const found = discoverTests(FILE);
    assert.equal(found.flow, 'greet');
    assert.equal(found.problem, undefined);
    assert.deepEqual(
      found.cases.map((c) => [c.name, c.line]),
      [
        ['greet succeeded', 3],
        ['no expectations', 15],
        ['flow style', 17],
      ],
    );
    const [first, second, third] = found.cases;
    assert.deepEqual(first.expectLines, { status: 8, message: 9, output: 10, children: 12 });
    assert.deepEqual(first.expect.output, { greeting: 'hello ADA' });
    assert.deepEqual(first.expect.children, [{ flow: 'shout', inputs: { text: 'ada' } }]);
    assert.deepEqual(second.expectLines, {});
    assert.deepEqual(third.expectLines, { status: 17 });
  });

  it('keeps the readable cases of a broken file, and says where it breaks', () => {
    const found = discoverTests(`${FILE}  - name: [unclosed\n`);
    assert.ok(found.problem, 'a problem');
    assert.ok(found.problem.line >= 18, `at line ${found.problem.line}`); // the unclosed [ runs to the end
    assert.equal(found.flow, 'greet');
    assert.ok(found.cases.some((c) => c.name === 'greet succeeded'));
    assert.match(discoverTests('tests: []\n').problem!.message, /names no flow/);
    assert.match(discoverTests('flow: x\n').problem!.message, /no list of `tests`/);
  });

  it('shows failures the runner traced to the flow at that line of the flow file as well', () => {
    const testCase = discoverTests(FILE).cases[0];
    const failures = [
      'connector call REST with inputs {} is not in the recording; …',
      'output_value.greeting: …',
    ];
    const views = failureViews(
      {
        event: 'result',
        file: '/f/tests/greet.flowtest.yaml',
        flow: 'greet',
        name: 'greet succeeded',
        passed: false,
        failures,
        ms: 1,
        at: [
          { failure: 0, file: '/f/greet.py', line: 3 },
          { failure: 1, file: '/f/greet.py', line: 6 },
        ],
      },
      testCase,
    );
    assert.deepEqual(
      views.filter((v) => v.file),
      [
        { message: failures[0], file: '/f/greet.py', line: 2 },
        { message: failures[1], file: '/f/greet.py', line: 5 },
      ],
    );
  });

  it('shows each failed expectation at its line as expected/actual, and other failures at the case', () => {
    const testCase = discoverTests(FILE).cases[0];
    const result: Extract<TestReportLine, { event: 'result' }> = {
      event: 'result',
      file: '/f/tests/greet.flowtest.yaml',
      flow: 'greet',
      name: 'greet succeeded',
      passed: false,
      failures: [
        'output_value.greeting: expected "hello ADA", got "HELLO ADA"',
        'connector call REST with inputs {} is not in the recording; the closest recorded one is …',
        'status: expected SUCCEEDED, got FAILED (boom)',
      ],
      ms: 12,
      actual: {
        id: 'x',
        status: 'FAILED',
        message: 'boom',
        output_value: { greeting: 'HELLO ADA' },
        children: [{ flow: 'shout', inputs: { text: 'ada' } }],
      },
    };
    const views = failureViews(result, testCase);
    assert.deepEqual(views, [
      { message: result.failures[1], line: 3 },
      {
        message: result.failures[0],
        line: 10,
        expected: 'greeting: hello ADA',
        actual: 'greeting: HELLO ADA',
      },
      { message: result.failures[2], line: 8, expected: 'SUCCEEDED', actual: 'FAILED' },
    ]);
    assert.equal(expectationOf('child 2: expected flow tax, got connector REST …'), 'children');
    assert.equal(expectationOf('message: expected "a", got "b"'), 'message');
    assert.equal(expectationOf('could not run: no python'), undefined);
  });
});
