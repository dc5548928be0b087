/** Entry point that VS Code's test runner loads in the extension host: runs the mocha suite. */
import Mocha from 'mocha';
import { registerFlowsSuite } from './flows.suite';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: true });
  mocha.suite.emit('pre-require', globalThis, 'flows.suite', mocha);
  registerFlowsSuite();
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} test(s) failed`)) : resolve()));
  });
}
