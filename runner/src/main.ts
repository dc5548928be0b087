/** Entry point of dist/runner.js: the `flows` CLI. */
import { list, run, serve, USAGE, UsageError } from './cli/commands';
import { deploy } from './cli/deployCommand';
import { test, TestUsageError } from './cli/testCommand';
import { token, TokenUsageError } from './cli/tokenCommand';

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  serve,
  run,
  list,
  test,
  deploy,
  token,
};

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd ? 0 : 2;
  }
  if (cmd === '--version') {
    process.stdout.write('0.1.0\n');
    return 0;
  }
  const command = commands[cmd];
  if (!command) throw new UsageError(`unknown command '${cmd}'`);
  // `flows serve --help`: the usage of every command (it is one page).
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return command(rest);
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    const usage =
      err instanceof UsageError ||
      err instanceof TestUsageError ||
      err instanceof TokenUsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    // How to name another Python depends on who started us: an editor says it its own way
    // (the extension sets FLOWS_FROM_EDITOR and offers "Select Python Interpreter").
    const python =
      /^cannot start Python/.test(err.message) && !process.env.FLOWS_FROM_EDITOR
        ? 'Name the Python to use with --python PATH.\n'
        : '';
    process.stderr.write(`flows: ${err.message}\n${usage ? "Try 'flows --help'.\n" : ''}${python}`);
    process.exit(usage ? 2 : 1);
  },
);
