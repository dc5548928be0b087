/**
 * The one error policy: details (stacks, runner stderr) go to the "Flows" log channel; the user
 * sees one short notification with an action, never a stack trace and never one popup per
 * failed request.
 */
import * as vscode from 'vscode';
import { ConfigError } from './config';
import { RunnerUnreachableError } from '@flows/runner-client/runnerApi';
import { reasonFirst } from './executions/messageText';

export const log = vscode.window.createOutputChannel('Flows', { log: true });

/** A failure the user can act on: `message` is written for them, `detail` only goes to the log. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly actions: ErrorAction[] = [],
    readonly detail?: string,
  ) {
    super(message);
  }
}

export interface ErrorAction {
  title: string;
  run: () => unknown;
}

export const openOutput: ErrorAction = { title: 'Open Output', run: () => log.show(true) };

export const openSettings = (setting: string): ErrorAction => ({
  title: 'Open Settings',
  run: () => vscode.commands.executeCommand('workbench.action.openSettings', setting),
});

/** Errors shown in the last few seconds: the same message is not repeated while it is on screen. */
const recent = new Map<string, number>();

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Logs `err` with its details and shows one notification with its actions (or "Open Output"). */
export async function showError(err: unknown, context?: string): Promise<void> {
  if (err instanceof vscode.CancellationError) return; // the user said no; nothing went wrong
  const text = reasonFirst(messageOf(err));
  log.error(context ? `${context}: ${text}` : text);
  if (err instanceof UserError && err.detail) log.error(err.detail);
  else if (err instanceof Error && !(err instanceof UserError) && !(err instanceof ConfigError) && err.stack)
    log.debug(err.stack);

  const now = Date.now();
  if ((recent.get(text) ?? 0) > now - 5000) return;
  recent.set(text, now);

  const actions = err instanceof UserError && err.actions.length ? [...err.actions] : [];
  if (err instanceof ConfigError) actions.push(openSettings(err.setting));
  // Python that does not start (a wrong flows.pythonPath, none on PATH): pick one.
  if (/cannot start Python/.test(text))
    actions.unshift({
      title: 'Select Python Interpreter',
      run: () => vscode.commands.executeCommand('flows.selectInterpreter'),
    });
  if (err instanceof RunnerUnreachableError)
    actions.push({
      title: 'Restart Runner',
      run: () => vscode.commands.executeCommand('flows.restartRunner'),
    });
  if (!actions.includes(openOutput)) actions.push(openOutput);
  const picked = await vscode.window.showErrorMessage(text, ...actions.map((a) => a.title));
  await actions.find((a) => a.title === picked)?.run();
}

/** Wraps a command so whatever it throws goes through showError instead of VS Code's raw popup. */
export function guarded<A extends unknown[]>(
  what: string,
  fn: (...args: A) => unknown,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      await showError(err, what);
    }
  };
}
