/**
 * "Flows: Connect to a Team Runner…": this workspace uses a shared runner (`flows serve` on a
 * server) instead of the bundled one. The runner's URL is kept in the workspace's state and its
 * token in VS Code's SecretStorage (the system keychain): never in settings.json, which people
 * commit. "Flows: Disconnect from the Team Runner" forgets both and goes back to the bundled one.
 */
import * as vscode from 'vscode';
import { RunnerApi, RunnerRequestError } from '@flows/runner-client/runnerApi';
import { UserError } from '../log';

export interface TeamRunner {
  url: string;
  token: string;
}

const URL_KEY = 'flows.teamRunner.url';
const secretKey = (url: string) => `flows.teamRunner.token:${url}`;

/** Where the connection is kept: the URL per workspace, the token in the secret storage. */
export class TeamRunnerStore {
  constructor(
    private readonly state: vscode.Memento,
    private readonly secrets: vscode.SecretStorage,
  ) {}

  /** The team runner this workspace is connected to, if any (its token may be missing). */
  get url(): string | undefined {
    return this.state.get<string>(URL_KEY);
  }

  async get(): Promise<{ url: string; token: string | undefined } | undefined> {
    const url = this.url;
    return url ? { url, token: await this.secrets.get(secretKey(url)) } : undefined;
  }

  async set(team: TeamRunner): Promise<void> {
    await this.secrets.store(secretKey(team.url), team.token);
    await this.state.update(URL_KEY, team.url);
  }

  async clear(): Promise<void> {
    const url = this.url;
    if (url) await this.secrets.delete(secretKey(url));
    await this.state.update(URL_KEY, undefined);
  }
}

/** Why `text` is not a runner URL, or undefined when it is one. */
export function runnerUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return 'Enter the URL of the runner, like https://flows.example.com:8765';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return 'The URL must start with https:// or http://';
  if (url.username || url.password) return 'Give the token in the next step, not in the URL';
  if (url.search || url.hash) return 'The URL of the runner has no query or fragment';
  return undefined;
}

/** `https://host:port/` as `https://host:port`: the form the API client appends paths to. */
export function normalRunnerUrl(text: string): string {
  return new URL(text.trim()).toString().replace(/\/+$/, '');
}

/**
 * Checks that `team` answers with that token, with a message that says what is wrong: the
 * address, the token, or the runner.
 */
export async function checkTeamRunner(team: TeamRunner): Promise<void> {
  try {
    await new RunnerApi(team.url, team.token).listExecutions({ limit: 1 });
  } catch (err) {
    if (err instanceof RunnerRequestError && err.status === 401) {
      throw new UserError(`The runner at ${team.url} refused the token: check it, or ask for a new one.`);
    }
    throw new UserError(`Cannot use the runner at ${team.url}: ${(err as Error).message}`);
  }
}

/** The URL and token from the command's argument (scripts, tests) or asked for. */
export async function askTeamRunner(
  current: string | undefined,
  given?: Partial<TeamRunner>,
): Promise<TeamRunner | undefined> {
  const rawUrl =
    given?.url ??
    (await vscode.window.showInputBox({
      title: 'Connect to a Team Runner (1/2)',
      prompt: 'The URL of the team runner (a `flows serve` on a server)',
      placeHolder: 'https://flows.example.com:8765',
      value: current,
      ignoreFocusOut: true,
      validateInput: (v) => runnerUrlProblem(v),
    }));
  if (rawUrl === undefined) return undefined;
  const problem = runnerUrlProblem(rawUrl);
  if (problem) throw new UserError(problem);
  const url = normalRunnerUrl(rawUrl);
  const token =
    given?.token ??
    (await vscode.window.showInputBox({
      title: 'Connect to a Team Runner (2/2)',
      prompt: `Your token for ${url} (\`flows token create NAME\` on the server prints one). It is kept in VS Code's secret storage, not in settings.`,
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : 'Enter the token'),
    }));
  if (token === undefined) return undefined;
  return { url, token: token.trim() };
}
