// The mid-edit corpus: files as they are while someone types — an unfinished `this.` above,
// an unclosed call, an unclosed string, a broken helper above the handler — each with the
// completion items expected at the cursor. Every state is run four ways: opened fresh, typed
// keystroke by keystroke with incremental changes (completing on the stale tree, as the server
// does before its reparse), after the reparse has settled, and typed while reparses run in
// slices (each keystroke between two slices of a reparse begun before it, as in the server).
import assert from 'node:assert/strict';
import type { CompletionItem } from 'vscode-languageserver';
import type { Steps } from '../../server/background';
import { memberNames } from '../../server/catalogue';
import { completions } from '../../server/completion';
import type { Engines } from '../../server/document';
import { FlowDocument } from '../../server/document';
import { fakeFlows, loadEngines, URI } from './helpers';

const flows = fakeFlows(['child', 'reports/daily']);
const methods = (cls: string) => memberNames(cls).filter((n) => n !== n.toUpperCase());

interface Case {
  name: string;
  /** The file, `|` at the cursor. */
  text: string;
  /** Labels that must be offered (exactly these when `exact`). */
  has?: string[];
  exact?: boolean;
  /** Labels that must not be offered. */
  hasNot?: string[];
  /** What is typed keystroke by keystroke up to the cursor (default: the cursor line's text). */
  typed?: string;
}

const EXEC = ['flow', 'log', 'get', 'children', 'success'];
const SYS = ['setting', 'connection', 'flows', 'return_when'];
const KW = ['priority=', 'wait=', 'inputs=', 'run='];
const FLOWS = ['child', 'reports/daily'];
const FIELDS = ['status', 'input_value', 'output_value'];

const H = 'def handler(system, this):\n';
const HI = 'import flow_api\n\n' + H;

/** Lines left unfinished above the cursor. */
const BROKEN = [
  '    this.',
  '    system.',
  '    x = this.',
  "    child = this.flow('child')\n    child.",
  "    this.get('input_value').",
  '    foo(1,',
  '    x = [1, 2',
  "    s = 'abc",
  '    d = {"a": ',
  '    this.log(',
  '    x =',
  '    return this.',
  '    print("a" +',
  "    this.flow('child', priority=",
  '    value = this.get("input_value")["',
  '    if x',
];
/** What separates the broken line from the cursor's. */
const SEPARATORS = ['\n', '\n\n', '\n    # a comment\n'];
/** The cursor's line and what it must offer. */
const TARGETS: { line: string; has: string[]; exact?: boolean }[] = [
  { line: '    this.|', has: methods('Execution'), exact: true },
  { line: '    system.|', has: methods('System'), exact: true },
  { line: "    this.flow('child', |)", has: KW },
  { line: "    this.flow('child', |", has: KW },
  { line: "    this.flow('|", has: FLOWS },
  { line: "    this.get('|", has: FIELDS },
  { line: '    y = this.|', has: EXEC },
  { line: "    c = this.flow('child', wait=False)\n    c.|", has: EXEC },
];

function generated(): Case[] {
  const out: Case[] = [];
  let n = 0;
  for (const broken of BROKEN) {
    for (let k = 0; k < 5; k++) {
      const target = TARGETS[(n + k * 3) % TARGETS.length];
      const sep = SEPARATORS[(n + k) % SEPARATORS.length];
      const header = k % 2 ? HI : H;
      out.push({
        name: `${JSON.stringify(broken.trim())} above ${JSON.stringify(target.line.trim())}${sep.includes('#') ? ' (comment between)' : sep === '\n\n' ? ' (blank between)' : ''}`,
        text: header + broken + sep + target.line + '\n',
        has: target.has,
        exact: target.exact,
      });
    }
    n++;
  }
  return out;
}

const SPECIAL: Case[] = [
  {
    name: 'an unclosed call in a helper above the handler, without import flow_api',
    text: 'def helper(x):\n    y = foo(1,\n\ndef handler(s, e):\n    e.|\n',
    has: methods('Execution'),
    exact: true,
  },
  {
    name: 'an unclosed call in a helper above the handler, with import flow_api',
    text: 'import flow_api\n\ndef helper(x):\n    y = foo(1,\n\ndef handler(s, e):\n    e.flow("child", |)\n',
    has: KW,
  },
  {
    name: 'a broken def header above the handler',
    text: 'def helper(x,\n\ndef handler(system, this):\n    this.|\n',
    has: methods('Execution'),
  },
  {
    name: 'a broken line below the cursor',
    text: H + '    this.|\n    foo(1,\n    x = 2\n',
    has: methods('Execution'),
  },
  {
    name: 'an unfinished this. right above a keyword argument being typed',
    text: H + '    this.\n    this.flow("child", pri|)\n',
    has: ['priority='],
  },
  {
    name: 'an unfinished x = this. above a status comparison',
    text: H + '    c = this.flow("child")\n    x = this.\n    if c.get("status") == "|',
    has: ['SUCCEEDED', 'FAILED'],
  },
  {
    name: 'handler parameters with other names',
    text: 'def handler(ctx, ex):\n    ctx.foo(\n    ex.|\n',
    has: methods('Execution'),
    exact: true,
  },
  {
    name: 'a three-parameter handler with other names',
    text: 'def handler(s, e, data):\n    s.|\n',
    has: methods('System'),
    exact: true,
  },
  {
    name: 'an unfinished this. inside an if block',
    text: H + '    if True:\n        this.\n        this.|\n',
    has: methods('Execution'),
  },
  {
    name: 'an unfinished this. in a helper above the handler',
    text: 'import flow_api\n\ndef helper(this: flow_api.Execution):\n    this.\n\ndef handler(system, this):\n    system.|\n',
    has: methods('System'),
  },
  {
    name: 'an unclosed string above a multi-line call',
    text: H + "    s = 'abc\n    this.flow(\n        'child',\n        |\n    )\n",
    typed: '',
    has: ['priority='],
  },
  {
    name: 'an unclosed string in an argument of a multi-line call',
    text: H + "    this.flow(\n        'child', name='abc\n        ,|\n    )\n",
    typed: '',
    has: ['priority='],
    hasNot: ['name='],
  },
  {
    name: 'a keyword in a multi-line call under an unclosed paren above',
    text: H + '    foo(1,\n    this.flow(\n        "child",\n        wai|',
    typed: 'wai',
    has: ['wait='],
  },
  {
    name: 'two broken lines above',
    text: H + '    this.\n    foo(1,\n    system.|\n',
    has: methods('System'),
  },
  {
    name: 'a stray closing bracket above',
    text: H + '    x = 1)\n    this.|\n',
    has: methods('Execution'),
  },
  {
    name: 'a missing colon on the if above',
    text: H + '    if x\n        this.|\n',
    has: EXEC,
  },
];

/** Types through containers, helper objects and local helpers (some with a broken line too). */
const CONTAINERS: Case[] = [
  [
    'a list of children, by index',
    "    children = [this.flow('a', wait=False), this.flow('b', wait=False)]\n    children[0].|",
  ],
  [
    'a list comprehension, by index',
    '    children = [this.flow(n, wait=False) for n in names]\n    children[-1].|',
  ],
  [
    'a for loop over a list',
    "    calls = [this.flow('a'), this.flow('b')]\n    for c in calls:\n        c.|",
  ],
  ['a for loop over a comprehension', '    for c in [this.flow(n) for n in names]:\n        c.|'],
  [
    'a list built with append',
    '    calls = []\n    for n in names:\n        calls.append(this.flow(n, wait=False))\n    for c in calls:\n        c.|',
  ],
  ['a dict of children', "    by_name = {'a': this.flow('a')}\n    by_name['a'].|"],
  [
    'a dict comprehension, values()',
    '    by_name = {n: this.flow(n) for n in names}\n    for c in by_name.values():\n        c.|',
  ],
  [
    'dict items()',
    '    by_name = {n: this.flow(n) for n in names}\n    for n, c in by_name.items():\n        c.|',
  ],
  ['enumerate', "    calls = [this.flow('a')]\n    for i, c in enumerate(calls):\n        c.|"],
  ['unpacking', "    a, b = this.flow('a'), this.flow('b')\n    b.|"],
  ['a comprehension variable', "    calls = [this.flow('a')]\n    outs = [c.|", ' for c in calls]'],
  [
    'the children() listing with a broken line above',
    '    this.\n    for c in this.children():\n        c.|',
  ],
  ['a list with a broken line between', "    calls = [this.flow('a')]\n    foo(1,\n    calls[0].|"],
].map(([name, body, after]) => ({
  name: `types through containers: ${name}`,
  text: H + body + (after ?? '') + '\n',
  has: EXEC,
}));

const HELPERS: Case[] = [
  {
    name: 'self.this in a helper class',
    text:
      'import flow_api\n\nclass Steps:\n    def __init__(self, this):\n        self.this = this\n\n    def run(self):\n        self.this.|\n\n' +
      H +
      '    Steps(this).run()\n',
    has: EXEC,
  },
  {
    name: 'self.system in a helper class, with a broken line above',
    text:
      'class Steps:\n    def __init__(self, system, this):\n        self.system = system\n\n    def run(self):\n        x = self.\n        self.system.|\n\n' +
      H,
    has: SYS,
  },
  {
    name: 'the return value of a local helper',
    text:
      'def start(this, name):\n    return this.flow(name, wait=False)\n\n' + H + "    start(this, 'a').|\n",
    has: EXEC,
  },
  {
    name: 'a variable holding the return value of a local helper',
    text:
      'def start(this, name):\n    return this.flow(name, wait=False)\n\n' +
      H +
      "    c = start(this, 'a')\n    c.|\n",
    has: EXEC,
  },
  {
    name: 'a nested helper',
    text: H + "    def start(name):\n        return this.flow(name)\n    start('a').|\n",
    has: EXEC,
  },
];

/** A slice that is always over: the work yields at every place it may. */
const EVERY_STEP = { expired: () => true };

describe('mid-edit corpus (completion while typing)', () => {
  let e: Engines;
  before(async () => {
    e = await loadEngines();
  });
  const cases = [...generated(), ...SPECIAL, ...CONTAINERS, ...HELPERS];
  it(`holds at least 80 states`, () => assert.ok(cases.length >= 80, `${cases.length} states`));

  const check = (c: Case, items: CompletionItem[], how: string) => {
    const labels = items.map((i) => i.label);
    const say = `${how}: got [${labels.slice(0, 12).join(', ')}${labels.length > 12 ? ', …' : ''}]`;
    if (c.exact) assert.deepEqual(labels, c.has, say);
    else for (const l of c.has ?? []) assert.ok(labels.includes(l), `${l} missing — ${say}`);
    for (const l of c.hasNot ?? []) assert.ok(!labels.includes(l), `${l} offered — ${say}`);
  };

  for (const c of cases) {
    it(c.name, () => {
      const offset = c.text.indexOf('|');
      const text = c.text.slice(0, offset) + c.text.slice(offset + 1);
      const env = { parser: e.parser, flows };

      // 1. Opened fresh.
      const fresh = new FlowDocument(URI, 1, text, e);
      try {
        check(c, completions(fresh, offset, env), 'fresh');
      } finally {
        fresh.dispose();
      }

      // 2. Typed keystroke by keystroke; the reparse runs between some keystrokes, the last
      // completion answers from the stale tree.
      const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
      const typed = c.typed ?? text.slice(lineStart, offset).trimStart();
      const from = offset - typed.length;
      const doc = new FlowDocument(URI, 1, text.slice(0, from) + text.slice(offset), e);
      try {
        for (let i = 0; i < typed.length; i++) {
          const at = doc.positionAt(from + i);
          doc.update([{ range: { start: at, end: at }, text: typed[i] }], i + 2);
          if (i < typed.length - 1 && i % 2 === 0) doc.reparse();
        }
        assert.equal(doc.text, text);
        check(c, completions(doc, offset, env), 'typed');

        // 3. After the reparse settled.
        doc.reparse();
        check(c, completions(doc, offset, env), 'settled');
      } finally {
        doc.dispose();
      }

      // 4. Typed while reparses run in slices (as the server runs them): every keystroke lands
      // between two slices of a reparse begun before it, and is replayed onto its tree.
      const sliced = new FlowDocument(URI, 1, text.slice(0, from) + text.slice(offset), e);
      try {
        let steps: Steps<boolean> | undefined;
        for (let i = 0; i < typed.length; i++) {
          const at = sliced.positionAt(from + i);
          sliced.update([{ range: { start: at, end: at }, text: typed[i] }], i + 2);
          steps ??= sliced.reparseSteps(EVERY_STEP);
          for (let k = 0; k < 2 && steps; k++) if (steps.next().done) steps = undefined;
        }
        check(c, completions(sliced, offset, env), 'typed while reparsing');
        while (steps && !steps.next().done);
        check(c, completions(sliced, offset, env), 'typed, reparse done');
        sliced.reparse();
        check(c, completions(sliced, offset, env), 'typed while reparsing, settled');
      } finally {
        sliced.dispose();
      }
    });
  }
});
