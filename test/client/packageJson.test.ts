import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const contributes = pkg.contributes;

/** Command ids the command table registers (`'flows.x': (ctx) => …` entries). */
function registeredCommands(): Set<string> {
  const ids = new Set<string>();
  for (const file of ['client/commands.ts', 'client/schedules/scheduleCommands.ts']) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/^\s+'(flows\.[\w.]+)':/gm)) ids.add(m[1]);
  }
  return ids;
}

describe('client: package.json contributions', () => {
  it('contributes exactly the commands the command table registers', () => {
    const contributed = new Set<string>(contributes.commands.map((c: any) => c.command));
    assert.deepEqual([...registeredCommands()].sort(), [...contributed].sort());
  });

  it('puts only contributed commands in menus and keybindings', () => {
    const contributed = new Set<string>(contributes.commands.map((c: any) => c.command));
    const used = [
      ...Object.values(contributes.menus).flatMap((items: any) => items.map((i: any) => i.command)),
      ...contributes.keybindings.map((k: any) => k.command),
    ];
    assert.deepEqual(
      used.filter((c) => !contributed.has(c)),
      [],
    );
  });

  it('reads every contributed setting (client/config.ts), and offers no setting it does not read', () => {
    const text = fs.readFileSync(path.join(ROOT, 'client/config.ts'), 'utf8');
    const block = text.slice(text.indexOf('const settings = {'), text.indexOf('} as const;'));
    const read = [...block.matchAll(/^ {2}'?([\w.]+)'?:/gm)].map((m) => `flows.${m[1]}`).sort();
    const contributed = Object.keys(contributes.configuration.properties ?? {})
      .filter((k) => k.startsWith('flows.') && !k.startsWith('flows.trace'))
      .sort();
    assert.deepEqual(read, contributed);
  });

  it('gives every command the "Flows" category and a title', () => {
    for (const c of contributes.commands) {
      assert.equal(c.category, 'Flows', c.command);
      assert.ok(c.title, c.command);
    }
  });

  it('describes the flow debugger’s arguments with the debugger’s own schema', () => {
    const generated = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'debug-adapter/configurationAttributes.json'), 'utf8'),
    );
    const flow = contributes.debuggers.find((d: any) => d.type === 'flow');
    assert.deepEqual(
      flow.configurationAttributes,
      generated,
      'copy debug-adapter/configurationAttributes.json into contributes.debuggers[type=flow].configurationAttributes',
    );
  });

  it('ships the files it names (icons, grammar)', () => {
    const files = [
      pkg.icon,
      ...contributes.viewsContainers.activitybar.map((c: any) => c.icon),
      ...contributes.grammars.map((g: any) => g.path),
    ];
    for (const f of files) assert.ok(fs.existsSync(path.join(ROOT, f)), f);
  });
});
