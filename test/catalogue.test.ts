// The editor's catalogue (server/catalogue.ts) and the Python package (runner/python/flow_api)
// must describe the same API: same module members, same public methods per class, same
// parameters. A failure lists the difference and which side has what.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { CLASS_NAMES, CLASSES, MODULE_MEMBERS, type ClassName } from '../server/catalogue';

interface PyParam {
  name: string;
  kind: 'normal' | 'varargs' | 'keyword' | 'kwargs' | 'positional';
  default: string | null;
}
interface Introspection {
  module: string[];
  classes: Record<string, Record<string, PyParam[]> | null>;
}

const INTROSPECT = `
import inspect, json, sys
import flow_api
KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "normal",
    inspect.Parameter.VAR_POSITIONAL: "varargs",
    inspect.Parameter.KEYWORD_ONLY: "keyword",
    inspect.Parameter.VAR_KEYWORD: "kwargs",
}
public = getattr(flow_api, "__all__", None) or [
    n for n, v in vars(flow_api).items() if not n.startswith("_") and not inspect.ismodule(v)
]
out = {"module": sorted(public), "classes": {}}
for name in sys.argv[1:]:
    cls = getattr(flow_api, name, None)
    if not inspect.isclass(cls):
        out["classes"][name] = None
        continue
    methods = {}
    for attr, value in inspect.getmembers(cls):
        if attr.startswith("_") or not callable(value):
            continue
        params = list(inspect.signature(value).parameters.values())[1:]
        methods[attr] = [
            {"name": p.name, "kind": KINDS[p.kind], "default": None if p.default is p.empty else repr(p.default)}
            for p in params
        ]
    out["classes"][name] = methods
print(json.dumps(out))
`;

/** "only in the catalogue: …; only in flow_api: …" */
function setDiff(catalogue: Iterable<string>, python: Iterable<string>): string {
  const c = new Set(catalogue);
  const p = new Set(python);
  const onlyC = [...c].filter((x) => !p.has(x)).sort();
  const onlyP = [...p].filter((x) => !c.has(x)).sort();
  return [
    onlyC.length ? `only in server/catalogue.ts: ${onlyC.join(', ')}` : '',
    onlyP.length ? `only in runner/python/flow_api: ${onlyP.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

describe('catalogue ↔ Python flow_api package', () => {
  let py: Introspection;

  before(function () {
    const result = spawnSync('python3', ['-c', INTROSPECT, ...CLASS_NAMES], {
      env: { ...process.env, PYTHONPATH: path.join(__dirname, '..', 'runner', 'python') },
      encoding: 'utf8',
    });
    if (result.error) {
      console.log(`    (skipped: python3 cannot run: ${result.error.message})`);
      this.skip();
    }
    assert.equal(result.status, 0, `introspecting flow_api failed:\n${result.stderr}`);
    py = JSON.parse(result.stdout) as Introspection;
  });

  it('module members', () => {
    const diff = setDiff(
      MODULE_MEMBERS.map((m) => m.name),
      py.module,
    );
    assert.equal(diff, '', `flow_api members differ: ${diff}`);
  });

  for (const name of CLASS_NAMES) {
    it(`${name}: public methods`, () => {
      const methods = py.classes[name];
      assert.ok(methods, `flow_api.${name} is missing`);
      const diff = setDiff(
        CLASSES[name].methods.map((m) => m.name),
        Object.keys(methods),
      );
      assert.equal(diff, '', `flow_api.${name} methods differ: ${diff}`);
    });

    it(`${name}: parameters of each method`, () => {
      const problems = parameterProblems(name, py.classes[name] ?? {});
      assert.deepEqual(problems, [], `flow_api.${name}:\n  ${problems.join('\n  ')}`);
    });
  }
});

/**
 * Compares names, kinds and defaults. Record fields the catalogue names as keywords
 * (`priority=` …) reach Python through `**kwargs`, so they only require that one exists.
 */
function parameterProblems(cls: ClassName, python: Record<string, PyParam[]>): string[] {
  const problems: string[] = [];
  for (const method of CLASSES[cls].methods) {
    const pyParams = python[method.name];
    if (!pyParams) continue; // reported by the method-set test
    const ours = method.params.filter((p) => !p.field);
    const fieldsOnly = method.params.some((p) => p.field) && !ours.some((p) => p.kind === 'kwargs');
    // save(**fields) takes only the named record fields: its **kwargs carries exactly those.
    const theirs = fieldsOnly ? pyParams.filter((p) => p.kind !== 'kwargs') : pyParams;
    const describe = (ps: { name: string; kind: string; default?: string | null }[]) =>
      ps.map((p) => `${p.kind} ${p.name}${p.default ? `=${p.default}` : ''}`).join(', ');
    const catalogueSig = describe(ours.map((p) => ({ ...p, default: p.default ?? null })));
    const pythonSig = describe(theirs);
    if (catalogueSig !== pythonSig)
      problems.push(`${method.name}: catalogue (${catalogueSig}) ≠ python (${pythonSig})`);
    if (method.params.some((p) => p.field) && !pyParams.some((p) => p.kind === 'kwargs'))
      problems.push(
        `${method.name}: the catalogue names record fields as keywords, but Python has no **kwargs`,
      );
  }
  return problems;
}
