/**
 * Flow records (team mode) under /api/latest: deploy one flow (`PUT /flow/<name>`) or many in one
 * transaction (`POST /flows/deploy`), list, read and delete them. flows/deployedFlows.ts keeps
 * them and says how names resolve; a name may hold `/` (a flow in a subfolder), so the routes
 * take the rest of the path as the name.
 */
import {
  DeployedFlow,
  DeployFlowBody,
  DeployFlowsBody,
  DeployResult,
  ErrorBody,
  FlowDetail,
  FlowInfo,
  FlowList,
  flowRecordNameProblem,
  MAX_DEPLOY_BODY_BYTES,
  MAX_DEPLOY_FLOWS,
  MAX_FLOW_BODY_BYTES,
  MAX_FLOW_SOURCE_BYTES,
} from '@flows/protocol';
import type { DeployedFlows } from '../flows/deployedFlows';
import { Invalid, NotFound } from '../engine/errors';
import { errors, json, ok } from './openapi';
import type { Route, RouteContext } from './router';
import { validate } from './validation';

const BASE = '/api/latest';

/** The flow name of a request: the path after /flow/, which must name a record. */
function nameOf(ctx: RouteContext): string {
  const name = ctx.params.rest ?? '';
  // No name at all is the path's fault (`PUT /api/latest/flow`), not a name's.
  if (name === '') throw new Invalid(`give the flow name after ${BASE}/flow/`, 'path');
  const why = flowRecordNameProblem(name);
  if (why) throw new Invalid(why, 'name');
  return name;
}

/** Who deploys: the user of the request's token, when the runner tells users apart. */
const deployer = (ctx: RouteContext): string | null => (ctx as { user?: string }).user ?? null;

export function flowRoutes(flows: DeployedFlows): Route[] {
  return [
    {
      method: 'GET',
      pattern: `${BASE}/flow`,
      handler: async () => ({ status: 200, body: { items: await flows.list() } satisfies FlowList }),
    },
    {
      method: 'POST',
      pattern: `${BASE}/flows/deploy`,
      maxBody: MAX_DEPLOY_BODY_BYTES,
      handler: async (ctx) => {
        const body = validate(DeployFlowsBody, ctx.body, 'body');
        // Answered once committed (DeployedFlows.deploy awaits the store's transaction).
        const result: DeployResult = await flows.deploy(body.flows, deployer(ctx));
        return { status: 200, body: result };
      },
    },
    {
      method: 'PUT',
      pattern: `${BASE}/flow/*`,
      maxBody: MAX_FLOW_BODY_BYTES,
      handler: async (ctx) => {
        const name = nameOf(ctx);
        const { source } = validate(DeployFlowBody, ctx.body, 'body');
        const result = await flows.deploy([{ name, source }], deployer(ctx));
        const stored = await flows.get(name);
        if (!stored) throw new NotFound(`flow '${name}' was deleted while it was being deployed`);
        const { source: _source, ...flow } = stored;
        const answer: DeployedFlow = { flow, changed: result.deployed.length > 0 };
        return { status: 200, body: answer };
      },
    },
    {
      method: 'GET',
      pattern: `${BASE}/flow/*`,
      handler: async (ctx) => {
        const name = nameOf(ctx);
        const found: FlowDetail | undefined = await flows.get(name);
        if (!found) throw new NotFound(`no deployed flow named '${name}'`);
        return { status: 200, body: found };
      },
    },
    {
      method: 'DELETE',
      pattern: `${BASE}/flow/*`,
      handler: async (ctx) => {
        const name = nameOf(ctx);
        const gone: FlowInfo | undefined = await flows.remove(name);
        if (!gone) throw new NotFound(`no deployed flow named '${name}'`);
        return { status: 200, body: gone };
      },
    },
  ];
}

/** The OpenAPI paths of these routes. */
export function flowPaths(): Record<string, object> {
  const name = {
    name: 'name',
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description: 'the flow name (checks/fraud-score); may contain /',
  };
  const tooLarge = (limit: number) => ({
    '413': { description: `the body is larger than ${limit} bytes`, content: json(ErrorBody) },
  });
  return {
    '/api/latest/flow': {
      get: {
        summary: 'List the deployed flows (names and hashes, without sources)',
        responses: { '200': ok('the flows, by name', FlowList), ...errors },
      },
    },
    '/api/latest/flows/deploy': {
      post: {
        summary: 'Deploy flows in one transaction',
        description:
          `All of them or, when one is refused, none (the 400 names it: flows.<i>.name or flows.<i>.source). ` +
          `A flow whose source the runner has already is left as it is (unchanged). At most ${MAX_DEPLOY_FLOWS} ` +
          `flows, each source at most ${MAX_FLOW_SOURCE_BYTES} bytes, the body at most ${MAX_DEPLOY_BODY_BYTES} bytes. ` +
          'From then on a run of any of these names (top-level, a child, a schedule, a webhook, the runs API) ' +
          'runs the deployed source, whichever node runs it.',
        requestBody: { required: true, content: json(DeployFlowsBody, 'input') },
        responses: {
          '200': ok('which flows were written and which were unchanged', DeployResult),
          ...errors,
          ...tooLarge(MAX_DEPLOY_BODY_BYTES),
        },
      },
    },
    '/api/latest/flow/{name}': {
      get: {
        summary: 'Read a deployed flow, with its source',
        parameters: [name],
        responses: { '200': ok('the flow', FlowDetail), ...errors },
      },
      put: {
        summary: 'Deploy one flow (unchanged when its source is deployed already)',
        parameters: [name],
        requestBody: { required: true, content: json(DeployFlowBody, 'input') },
        responses: {
          '200': ok('the flow as stored, and whether this deploy changed it', DeployedFlow),
          ...errors,
          ...tooLarge(MAX_FLOW_BODY_BYTES),
        },
      },
      delete: {
        summary: 'Delete a deployed flow: its name runs the flows folder’s file again, if there is one',
        parameters: [name],
        responses: { '200': ok('the deleted flow', FlowInfo), ...errors },
      },
    },
  };
}
