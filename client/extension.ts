/**
 * Entry point of the extension (dist/extension.js). All state lives in the Ctx; activation errors
 * are shown once, in words, and rethrown so VS Code marks the activation as failed.
 */
import type * as vscode from 'vscode';
import { Ctx } from './ctx';
import { showError } from './log';

let ctx: Ctx | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<Ctx> {
  try {
    ctx = new Ctx(context);
    await ctx.activate();
    return ctx;
  } catch (err) {
    void showError(err, 'activating Flows for VS Code');
    throw err;
  }
}

export async function deactivate(): Promise<void> {
  await ctx?.dispose();
  ctx = undefined;
}
