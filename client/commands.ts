/**
 * Every command, as a table of factories `(ctx) => handler`. Handlers may throw: `guarded` turns
 * that into one notification. Commands whose argument is an execution take the tree element (its
 * id) and, from the palette, ask for one.
 */
import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { debugFlow } from './debug/flowDebugger';
import { LOAD_MORE_PREFIX } from './executions/executionItems';
import { pickExecution, executionId, type PickFor } from './executions/pickExecution';
import { pickFilter } from './executions/pickFilter';
import { flowFileOf, readsInputs } from './flows/flowSource';
import { flowFile, runFlowFile, startFlow } from './flows/runFlow';
import { guarded, log, UserError } from './log';
import { selectInterpreter } from './runner/pythonInterpreter';
import { deployFolder } from './runner/deployFlows';
import { connectTeamRunner, disconnectTeamRunner } from './runner/teamRunnerCommands';
import type { TeamRunner } from './runner/teamRunner';
import type { ExecutionAction } from '@flows/runner-client/runnerApi';
import { createSchedule } from './schedules/createSchedule';
import { scheduleCommands } from './schedules/scheduleCommands';
import { createTestFromExecution } from './testing/createTestCommand';
import { updateRecording } from './testing/updateRecordingCommand';

type Factory = (ctx: Ctx) => (...args: never[]) => unknown;

/** The execution a tree command is about: its row, or one picked from a list. */
async function executionFor(ctx: Ctx, arg: unknown, purpose: PickFor): Promise<string | undefined> {
  return executionId(arg) ?? (await pickExecution(ctx, purpose))?.id;
}

function act(action: ExecutionAction, purpose: PickFor): Factory {
  return (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, purpose);
    if (!id) return;
    const conn = await ctx.runner.ensure();
    await conn.api.act(id, action);
  };
}

async function flowFileOfExecution(ctx: Ctx, id: string) {
  const conn = await ctx.runner.ensure();
  const rec = await conn.api.getExecution(id);
  const folder = ctx.flowsFolder();
  if (!rec.flow_name || !folder) throw new UserError(`${rec.name} is not a flow execution.`);
  return { rec, uri: vscode.Uri.file(flowFileOf(folder, rec.flow_name)), flowName: rec.flow_name };
}

export const commands: Record<string, Factory> = {
  // Flows
  'flows.run': (ctx) => (uri?: vscode.Uri) => runFlowFile(ctx, uri, 'run'),
  'flows.try': (ctx) => (uri?: vscode.Uri) => runFlowFile(ctx, uri, 'try'),
  'flows.debug': (ctx) => async (uri?: vscode.Uri) => {
    const flow = await flowFile(uri);
    const input = readsInputs(flow.document.getText())
      ? await ctx.inputs.ask(flow.flowName, 'Debug', flow.document.getText())
      : undefined;
    await debugFlow(flow.uri, flow.flowName, input);
  },
  'flows.createSchedule': (ctx) => (uri?: vscode.Uri) => createSchedule(ctx, uri),

  // Runner
  'flows.startRunner': (ctx) => async () => {
    const conn = ctx.runner.connection;
    if (conn) {
      const which = conn.kind === 'bundled' ? 'The Flows runner' : `The runner at ${conn.url}`;
      void vscode.window.showInformationMessage(`${which} is already running.`);
      return;
    }
    if (ctx.runner.state.kind === 'failed') await ctx.runner.restart();
    else await ctx.runner.ensure();
  },
  'flows.stopRunner': (ctx) => () => ctx.runner.stop(),
  'flows.restartRunner': (ctx) => () => ctx.runner.restart(),
  'flows.showRunnerOutput': () => () => log.show(true),
  'flows.selectInterpreter': () => () => selectInterpreter(),
  'flows.connectTeamRunner': (ctx) => (given?: Partial<TeamRunner>) => connectTeamRunner(ctx, given),
  'flows.disconnectTeamRunner': (ctx) => () => disconnectTeamRunner(ctx),
  'flows.deployFolder': (ctx) => () => deployFolder(ctx),
  'flows.answerForm': (ctx) => () => ctx.messages.pickAndAnswer(),

  // Executions view
  'flows.executions.refresh': (ctx) => () => ctx.executions.refresh(),
  'flows.executions.filter': (ctx) => async () => {
    const filter = await pickFilter(ctx, ctx.executions.model.filter);
    if (filter) ctx.executions.setFilter(filter);
  },
  'flows.executions.clearFilter': (ctx) => () => ctx.executions.setFilter({}),
  // Clicked on a "Load more…" row: which one is the selection (`more:<parent id>`).
  'flows.executions.loadMore': (ctx) => async () => {
    const row = await ctx.executions.selectedLoadMore();
    if (row !== undefined) return ctx.executions.loadMore(row.slice(LOAD_MORE_PREFIX.length) || undefined);
  },
  'flows.pickExecution': (ctx) => async () => (await pickExecution(ctx, 'attach'))?.id,

  // One execution
  'flows.execution.cancel': act('cancel', 'cancel'),
  'flows.execution.pause': act('pause', 'pause'),
  'flows.execution.resume': act('resume', 'resume'),
  'flows.execution.rerun': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'rerun');
    if (!id) return;
    const { rec, flowName } = await flowFileOfExecution(ctx, id);
    await startFlow(ctx, flowName, rec.input_value, rec.is_productive ? 'run' : 'try');
  },
  'flows.execution.debug': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'rerun');
    if (!id) return;
    const { rec, uri, flowName } = await flowFileOfExecution(ctx, id);
    await debugFlow(uri, flowName, rec.input_value);
  },
  'flows.execution.attach': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'attach');
    if (!id) return;
    await vscode.debug.startDebugging(undefined, {
      type: 'flow',
      request: 'attach',
      name: `Attach to ${id.slice(0, 8)}`,
      executionId: id,
    });
  },
  'flows.execution.openFlow': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'any');
    if (!id) return;
    const { rec, uri } = await flowFileOfExecution(ctx, id);
    // A failed one opens where it broke, not at line 1.
    if (!(await ctx.errors.goToError(rec))) await vscode.window.showTextDocument(uri);
  },
  'flows.execution.goToError': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'failed');
    if (!id) return;
    const conn = await ctx.runner.ensure();
    const rec = await conn.api.getExecution(id);
    if (!(await ctx.errors.goToError(rec))) {
      throw new UserError(`The log of ${rec.name} names no line of a flow to go to.`, [
        { title: 'Show Log', run: () => ctx.logs.show(id) },
      ]);
    }
  },
  // A click on a row (see ExecutionItem): the flow, where the execution ended.
  'flows.execution.open': (ctx) => async (arg?: unknown) => {
    const id = executionId(arg) ?? executionId(ctx.executions.view.selection[0]);
    if (!id) return;
    const rec = ctx.executions.model.get(id) ?? (await (await ctx.runner.ensure()).api.getExecution(id));
    await ctx.errors.openWhereEnded(rec);
  },
  'flows.execution.answerForm': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'any');
    if (id) await ctx.messages.answerFor(id);
  },
  'flows.execution.showLog': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'any');
    if (id) await ctx.logs.show(id);
  },
  'flows.execution.showInput': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'any');
    if (id) await ctx.documents.show(id, 'input');
  },
  'flows.execution.showOutput': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'any');
    if (id) await ctx.documents.show(id, 'output');
  },
  'flows.execution.createTest': (ctx) => (arg?: unknown) => createTestFromExecution(ctx, arg),
  'flows.tests.updateRecording': (ctx) => (arg?: unknown) => updateRecording(ctx, arg),
  'flows.tests.showTreeDiff': (ctx) => (arg?: unknown) => ctx.tests.showTreeDiff(arg),
  'flows.execution.copyId': (ctx) => async (arg?: unknown) => {
    const id = await executionFor(ctx, arg, 'any');
    if (id) await vscode.env.clipboard.writeText(id);
  },

  ...scheduleCommands,
};

export function registerCommands(ctx: Ctx): void {
  for (const [id, factory] of Object.entries(commands)) {
    const handler = factory(ctx) as (...args: unknown[]) => unknown;
    // flows.pickExecution answers a value (for ${command:…} in launch.json), so it is not wrapped.
    const run = id === 'flows.pickExecution' ? handler : guarded(id, handler);
    ctx.extension.subscriptions.push(vscode.commands.registerCommand(id, run));
  }
}
