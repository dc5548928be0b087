/**
 * The extension's commands inside a real desktop VS Code (extension host), with the example
 * flows as the workspace: activation, the runner, Run, Try, cancel, the tree, the log, debug.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { isEnded, type ExecutionRecord } from '../../../protocol';
import type { Ctx } from '../../../client/ctx';
import { startFlow, waitForEnd } from '../../../client/flows/runFlow';

const EXTENSION_ID = 'flows-dev.flows';

async function activeCtx(): Promise<Ctx> {
  const ext = vscode.extensions.getExtension<Ctx>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  return ext.isActive ? ext.exports : ext.activate();
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeout = 30_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - started > timeout) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function registerFlowsSuite(): void {
  describe('Flows for VS Code (desktop, @vscode/test-electron)', () => {
    let ctx: Ctx;

    before(async () => {
      ctx = await activeCtx();
      await ctx.runner.ensure();
    });

    it('registers every command package.json contributes', async () => {
      const contributed = (
        vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.commands as {
          command: string;
        }[]
      ).map((c) => c.command);
      const registered = new Set(await vscode.commands.getCommands(true));
      assert.deepEqual(
        contributed.filter((c) => !registered.has(c)),
        [],
      );
    });

    it('runs a flow with its children and shows it SUCCEEDED in the Executions tree', async () => {
      const rec = await startFlow(ctx, 'order-pipeline', { order_id: 3 }, 'run');
      const conn = await ctx.runner.ensure();
      const ended = await waitForEnd(ctx, conn, rec);
      assert.equal(ended.status, 'SUCCEEDED', ended.message ?? '');
      await waitFor('the row', () => ctx.executions.model.get(rec.id)?.status === 'SUCCEEDED');
      const children = await ctx.executions.getChildren(rec.id);
      assert.ok(children.length >= 4, `children: ${children.join(', ')}`);
    });

    it('tries a flow in development mode', async () => {
      const rec = await startFlow(ctx, 'hello', { name: 'Ada' }, 'try');
      const ended = await waitForEnd(ctx, await ctx.runner.ensure(), rec);
      assert.equal(ended.status, 'SUCCEEDED');
      assert.equal(ended.is_productive, false);
    });

    it('cancels a running execution with the tree command', async () => {
      const rec = await startFlow(ctx, 'long-running', undefined, 'run');
      const conn = await ctx.runner.ensure();
      await waitFor('RUNNING', () => {
        const r = ctx.executions.model.get(rec.id);
        return r?.status === 'RUNNING' || (r && isEnded(r.status));
      });
      await vscode.commands.executeCommand('flows.execution.cancel', rec.id);
      const ended: ExecutionRecord = await waitForEnd(ctx, conn, rec);
      assert.equal(ended.status, 'STOPPED');
    });

    it('shows the log of an execution in its output channel', async () => {
      const rec = await startFlow(ctx, 'hello', { name: 'log' }, 'run');
      await waitForEnd(ctx, await ctx.runner.ensure(), rec);
      await vscode.commands.executeCommand('flows.execution.showLog', rec.id);
      assert.equal(ctx.logs.current, rec.id);
    });

    it('debugs a flow: the session starts on the runner and ends with the flow', async () => {
      const folder = vscode.workspace.workspaceFolders![0];
      const ended = new Promise<void>((resolve) => {
        const sub = vscode.debug.onDidTerminateDebugSession(() => {
          sub.dispose();
          resolve();
        });
      });
      const started = await vscode.debug.startDebugging(folder, {
        type: 'flow',
        request: 'launch',
        name: 'test',
        program: vscode.Uri.joinPath(folder.uri, 'hello.py').fsPath,
        input: { name: 'debugger' },
      });
      assert.ok(started);
      await ended;
    });
  });
}
