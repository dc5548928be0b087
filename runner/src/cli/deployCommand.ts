/** `flows deploy [FOLDER] --url URL --token TOKEN`: a folder's flows as flow records on a runner. */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { deployFlows, deploySummary, readFlowFolder } from '@flows/runner-client/flowDeploy';
import { RunnerApi, RunnerRequestError } from '@flows/runner-client/runnerApi';
import { UsageError } from './commands';

/** `flows deploy [FOLDER] --url URL --token TOKEN`: a folder's flows as flow records (team mode). */
export async function deploy(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals.length > 1) throw new UsageError('flows deploy takes one folder');
  const folder = path.resolve(positionals[0] ?? process.cwd());
  if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory())
    throw new UsageError(`no such folder: ${positionals[0] ?? folder}`);
  const url = (values.url ?? process.env.FLOWS_URL ?? '').replace(/\/+$/, '');
  const token = values.token ?? process.env.FLOWS_TOKEN;
  if (!url) throw new UsageError('flows deploy needs --url URL (or $FLOWS_URL): the runner to deploy to');
  if (!/^https?:\/\/[^/]/.test(url))
    throw new UsageError(`--url must be an http:// or https:// URL, not '${url}'`);
  if (!token) throw new UsageError('flows deploy needs --token TOKEN (or $FLOWS_TOKEN)');
  const flows = readFlowFolder(folder);
  if (flows.length === 0) {
    process.stdout.write(`No flows (.py files with def handler) in ${folder}: nothing to deploy.\n`);
    return 0;
  }
  const result = await deployFlows(new RunnerApi(url, token), flows).catch((err: unknown) => {
    // The runner's own words (they name the flow and field at fault), said to be its refusal.
    if (err instanceof RunnerRequestError)
      throw new Error(`the runner at ${url} refused the deploy (HTTP ${err.status}): ${err.message}`);
    throw err;
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  for (const name of result.deployed) process.stdout.write(`  deployed  ${name}\n`);
  process.stdout.write(`${deploySummary(result)} to ${url}.\n`);
  return 0;
}
