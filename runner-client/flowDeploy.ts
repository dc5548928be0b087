/**
 * Deploying a folder's flows to a runner as flow records (team mode): what the editor's
 * "Flows: Deploy Folder to Team Runner" and Run/Try on a team runner do, and `flows deploy` from
 * a terminal. Only the flows whose source the runner does not have already are sent (compared
 * by hash), in one request that the runner stores in one transaction. Free of `vscode`, so the
 * plan is unit-tested in plain Node.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  flowRecordNameProblem,
  flowSourceProblem,
  isFlowSource,
  MAX_DEPLOY_BODY_BYTES,
  MAX_DEPLOY_FLOWS,
  NOT_FLOW_FOLDERS,
  type DeployResult,
  type FlowInfo,
} from '@flows/protocol';
import type { RunnerApi } from './runnerApi';

/** A flow as a folder has it: its name (path without .py) and its source. */
export interface LocalFlow {
  name: string;
  source: string;
}

/** A flow's content hash, as the runner keeps it: SHA-256 of the source's UTF-8 bytes, hex. */
export function flowHash(source: string): string {
  return crypto.createHash('sha256').update(source, 'utf8').digest('hex');
}

/** A deploy that cannot be sent as it is; the message names the flow at fault. */
export class DeployError extends Error {}

/** The local flows the runner does not have with the same source (a new name or another hash). */
export function changedFlows(
  local: readonly LocalFlow[],
  deployed: ReadonlyArray<Pick<FlowInfo, 'name' | 'hash'>>,
): LocalFlow[] {
  const have = new Map(deployed.map((f) => [f.name, f.hash]));
  return local.filter((f) => have.get(f.name) !== flowHash(f.source));
}

/** Refuses a flow the runner would refuse (its name or its source), naming its file. */
export function checkFlows(flows: readonly LocalFlow[]): void {
  for (const f of flows) {
    const name = flowRecordNameProblem(f.name);
    if (name) throw new DeployError(`${f.name}.py cannot be deployed: its flow name ${name}.`);
    const source = flowSourceProblem(f.source);
    if (source) throw new DeployError(`${f.name}.py cannot be deployed: its source ${source}.`);
  }
}

/** Refuses a deploy request the runner would refuse as a whole: too many flows, too many bytes. */
export function checkRequest(flows: readonly LocalFlow[]): void {
  if (flows.length > MAX_DEPLOY_FLOWS)
    throw new DeployError(`${flows.length} flows to deploy; one deploy takes at most ${MAX_DEPLOY_FLOWS}.`);
  const bytes = Buffer.byteLength(JSON.stringify({ flows }), 'utf8');
  if (bytes > MAX_DEPLOY_BODY_BYTES)
    throw new DeployError(
      `the flows to deploy are ${Math.ceil(bytes / 1024 / 1024)} MB as a request; one deploy takes at most ${MAX_DEPLOY_BODY_BYTES / 1024 / 1024} MB.`,
    );
}

/** How long a deploy may take: a big folder over a slow link is more than the usual 30 s. */
const DEPLOY_TIMEOUT_MS = 5 * 60_000;

/**
 * Deploys `local` to the runner: asks which flows it has (names and hashes only), sends those
 * whose source differs, in one request. `unchanged` counts both the flows not sent and those the
 * runner found unchanged (another deploy got there first).
 */
export async function deployFlows(api: RunnerApi, local: readonly LocalFlow[]): Promise<DeployResult> {
  checkFlows(local);
  const changed = changedFlows(local, await api.listFlows());
  checkRequest(changed);
  const sent = new Set(changed.map((f) => f.name));
  const skipped = local.filter((f) => !sent.has(f.name)).map((f) => f.name);
  if (changed.length === 0) return { deployed: [], unchanged: skipped.sort() };
  const answer = await api.deployFlows(changed, AbortSignal.timeout(DEPLOY_TIMEOUT_MS));
  return { deployed: answer.deployed, unchanged: [...skipped, ...answer.unchanged].sort() };
}

/** `Deployed 3 flows (12 unchanged)`. */
export function deploySummary(r: DeployResult): string {
  const n = r.deployed.length;
  return `Deployed ${n} flow${n === 1 ? '' : 's'} (${r.unchanged.length} unchanged)`;
}

/**
 * The flows of a folder on disk, by name: every `.py` file that is a flow (has `def handler`),
 * outside the folders that never hold flows (NOT_FLOW_FOLDERS), as the editor finds them.
 * Symbolic links to folders are not followed (a link may loop).
 */
export function readFlowFolder(dir: string): LocalFlow[] {
  const root = path.resolve(dir);
  const skip = new Set<string>(NOT_FLOW_FOLDERS);
  const found: LocalFlow[] = [];
  const walk = (folder: string, prefix: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!skip.has(entry.name)) walk(full, `${prefix}${entry.name}/`);
        continue;
      }
      if (!entry.name.endsWith('.py')) continue;
      if (
        !entry.isFile() &&
        !(entry.isSymbolicLink() && fs.statSync(full, { throwIfNoEntry: false })?.isFile())
      )
        continue;
      const source = fs.readFileSync(full, 'utf8');
      if (isFlowSource(source)) found.push({ name: `${prefix}${entry.name.slice(0, -3)}`, source });
    }
  };
  walk(root, '');
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
