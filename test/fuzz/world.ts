/**
 * What the fuzzed requests have to hit: a flows folder of trivial flows, and pools of things that
 * exist on the runner (executions in several states, an open form, a schedule, a webhook, runs of
 * each mode), each under a stable label. Cases name pool entries by label; a case that deletes or
 * changes a pooled thing is followed by `restore`, so the pools stay valid for the next cases.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, type TestRunner } from '../runner/harness';

export const FLOWS: Record<string, string> = {
  'quick.py': "def handler(system, this):\n    return 'ok'\n",
  'echo.py':
    'def handler(system, this, inputs):\n' +
    "    return {'keys': sorted(str(k) for k in inputs)[:5] if isinstance(inputs, dict) else None}\n",
  // A webhook's flow: never fails, whatever the call carried.
  'hook.py':
    'def handler(system, this, inputs):\n' +
    "    return {'method': str(inputs.get('method')), 'encoding': str(inputs.get('body_encoding'))}\n",
  // An open form to answer: runs until POST /message/<id>/response.
  'ask.py':
    'def handler(system, this):\n' +
    "    system.message('Fuzz?', body={'ok': {'type': 'boolean'}}).wait()\n" +
    "    return 'answered'\n",
  'sub/leaf.py': "def handler(system, this):\n    return 'leaf'\n",
};

/** Flows a fuzzed request may name; `ask` is left out (it waits for an answer). */
export const RUNNABLE_FLOWS = ['quick', 'echo', 'hook', 'sub/leaf'];
export const MISSING_FLOW = 'no/such-flow';

export const WEBHOOK_NAME = 'fuzz-hook';
export const WEBHOOK_KEY = 'fuzz-key-0123456789';
export const CALLBACK = 'http://127.0.0.1:9/callback';

export function writeFlows(): string {
  const dir = tempDir('flows-fuzz-');
  for (const [name, text] of Object.entries(FLOWS)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Label → id (or name) of the things that exist, by kind. */
export interface Pools {
  execution: Record<string, string>;
  message: Record<string, string>;
  schedule: Record<string, string>;
  webhook: Record<string, string>;
  run: Record<string, string>;
}

const SCHEDULE_BASE = {
  name: 'fuzz-schedule',
  flow_name: 'quick',
  kind: 'cron',
  cron: '0 0 1 1 *',
  timezone: 'UTC',
  enabled: false,
};
const WEBHOOK_BASE = {
  flow_name: 'hook',
  key: WEBHOOK_KEY,
  enabled: true,
  is_productive: true,
  priority: 0,
  max_runtime_minutes: 0,
  allow_browsers: false,
};

export class World {
  readonly pools: Pools = { execution: {}, message: {}, schedule: {}, webhook: {}, run: {} };

  constructor(private readonly t: TestRunner) {}

  private async must(method: string, url: string, body?: unknown): Promise<any> {
    const res = await this.t.api(method, url, body);
    if (res.status >= 300)
      throw new Error(`setup: ${method} ${url} → ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async setup(): Promise<void> {
    const p = this.pools;
    p.execution.ended = (await this.t.run({ flow_name: 'quick' })).id;
    p.execution.invalid = (await this.must('POST', '/api/latest/execution', { flow_name: MISSING_FLOW })).id;
    p.execution.created = (
      await this.must('POST', '/api/latest/execution', { flow_name: 'quick', start: false })
    ).id;
    p.execution.future = (
      await this.must('POST', '/api/latest/execution', {
        flow_name: 'quick',
        scheduled_for: '2099-01-01T00:00:00Z',
      })
    ).id;
    await this.openForm();
    await this.createSchedule();
    await this.createWebhook();
    p.run.live = (await this.must('POST', '/v1/actions/quick/run/live', {})).uid;
    p.run.async = (await this.must('POST', '/v1/actions/echo/run/async', { inputs: [{ a: 1 }, 'x'] })).uid;
    const scheduled = await this.must('POST', '/v1/actions/quick/run/schedule', { cron: '0 0 1 1 *' });
    p.run.schedule = scheduled.uid;
    p.execution.schedule = scheduled.uid;
  }

  /** An `ask` execution waiting for its form: the pooled open message. */
  async openForm(): Promise<void> {
    const rec = await this.must('POST', '/api/latest/execution', { flow_name: 'ask' });
    const m = await this.t.waitFor(
      (m) => m.type === 'message' && m.event === 'created' && m.message.execution_id === rec.id,
      'the form of ask',
    );
    this.pools.execution.ask = rec.id;
    this.pools.message.open = (m as { message: { id: string } }).message.id;
  }

  private async createSchedule(): Promise<void> {
    this.pools.schedule.base = (await this.must('POST', '/api/latest/schedule', SCHEDULE_BASE)).id;
  }

  private async createWebhook(): Promise<void> {
    const w = await this.must('POST', '/api/latest/webhook', { name: WEBHOOK_NAME, ...WEBHOOK_BASE });
    this.pools.webhook.base = w.name;
    this.pools.webhook.byId = w.id;
  }

  /**
   * Undo what an accepted case did to the pools or left behind: delete what it created, put a
   * changed or deleted pooled thing back, open a new form when the pooled one was answered.
   */
  async restore(
    template: string,
    method: string,
    pathParams: Record<string, string>,
    status: number,
    body: any,
  ): Promise<void> {
    if (status < 200 || status >= 300) return;
    const p = this.pools;
    if (template === '/api/latest/schedule' && method === 'POST') {
      await this.must('DELETE', `/api/latest/schedule/${encodeURIComponent(body.id)}`);
    } else if (template === '/v1/actions/{action}/run/schedule' && method === 'POST') {
      await this.must('DELETE', `/api/latest/schedule/${encodeURIComponent(body.schedule.id)}`);
    } else if (template === '/api/latest/schedule/{id}' && pathParams.id === p.schedule.base) {
      if (method === 'DELETE') await this.createSchedule();
      else if (method === 'PATCH') {
        await this.must('PATCH', `/api/latest/schedule/${p.schedule.base}`, {
          ...SCHEDULE_BASE,
          interval: undefined,
          inputs: null,
          callback: null,
          max_iterations: null,
        });
      }
    } else if (template === '/api/latest/webhook' && method === 'POST') {
      await this.must('DELETE', `/api/latest/webhook/${encodeURIComponent(body.name)}`);
    } else if (
      template === '/api/latest/webhook/{name}' &&
      (pathParams.name === p.webhook.base || pathParams.name === p.webhook.byId)
    ) {
      if (method === 'DELETE') await this.createWebhook();
      else if (method === 'PATCH') {
        await this.must('PATCH', `/api/latest/webhook/${encodeURIComponent(body.name)}`, {
          name: WEBHOOK_NAME,
          ...WEBHOOK_BASE,
        });
      }
    } else if (template === '/api/latest/message/{id}/response' && pathParams.id === p.message.open) {
      await this.openForm();
    } else if (template === '/api/latest/flows/deploy' && method === 'POST') {
      // A deployed flow would shadow the folder's of that name for the cases after it.
      for (const name of [...body.deployed, ...body.unchanged]) await this.deleteFlow(name);
    } else if (template === '/api/latest/flow/{name}' && method === 'PUT') {
      await this.deleteFlow(body.flow.name);
    }
  }

  private async deleteFlow(name: string): Promise<void> {
    await this.must('DELETE', `/api/latest/flow/${name.split('/').map(encodeURIComponent).join('/')}`);
  }

  /** What a fuzzed request may find at the end: stop what the pools keep waiting on purpose. */
  async teardown(): Promise<void> {
    for (const id of Object.values(this.pools.schedule)) {
      await this.t.api('DELETE', `/api/latest/schedule/${encodeURIComponent(id)}`);
    }
    const sched = await this.t.api('GET', '/api/latest/schedule');
    for (const s of sched.body.items) await this.t.api('DELETE', `/api/latest/schedule/${s.id}`);
  }
}
