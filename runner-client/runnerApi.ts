/**
 * The runner's REST API as typed calls, for every client of it: the extension, the debug
 * adapter and the `flows` CLI. Every answer is parsed with the protocol's zod schemas, so a
 * runner of another version fails here with a clear message instead of deep in a view.
 */
import { z } from 'zod';
import {
  CreatedTest,
  DeployedFlow,
  DeployResult,
  ErrorBody,
  ExecutionList,
  FlowDetail,
  FlowInfo,
  FlowList,
  ExecutionRecord,
  LogList,
  MessageList,
  MessageRecord,
  RecordNames,
  ScheduleList,
  SchedulePreview,
  ScheduleRecord,
  type CreateExecutionBody,
  type CreateTestBody,
  type CreateScheduleBody,
  type MessageResponseBody,
  type PreviewScheduleBody,
  type UpdateScheduleBody,
  type ExecutionStatus,
  type ExecutionType,
} from '@flows/protocol';

/** The runner answered with an error body (its `message` is written for people). */
export class RunnerRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The runner could not be reached at all. */
export class RunnerUnreachableError extends Error {}

export type CreateExecution = z.input<typeof CreateExecutionBody>;

export interface ListExecutions {
  status?: ExecutionStatus[];
  type?: ExecutionType[];
  flow_name?: string;
  parent_execution_id?: string;
  top_execution_id?: string;
  is_productive?: boolean;
  limit?: number;
  offset?: number;
  sort?: string;
}

export type ExecutionAction = 'cancel' | 'pause' | 'resume' | 'start';

/** A flow name in a path: it may hold `/` (a flow in a subfolder), kept as the separator it is. */
const flowPath = (name: string) => `/api/latest/flow/${name.split('/').map(encodeURIComponent).join('/')}`;

export class RunnerApi {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  /** One request; answers are parsed with `schema`, errors become RunnerRequestError. */
  async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<z.output<S>> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ?? AbortSignal.timeout(30_000),
      });
    } catch (err) {
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, …) is its cause.
      const reason = ((err as { cause?: Error }).cause ?? (err as Error)).message;
      throw new RunnerUnreachableError(`The flows runner at ${this.url} cannot be reached (${reason}).`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new RunnerRequestError(
        res.status,
        `The runner answered ${method} ${path} with something not JSON.`,
      );
    }
    if (!res.ok) {
      const err = ErrorBody.safeParse(json);
      throw new RunnerRequestError(
        res.status,
        err.success ? err.data.message : `The runner answered ${method} ${path} with HTTP ${res.status}.`,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RunnerRequestError(
        res.status,
        `The runner's answer to ${method} ${path} does not fit this extension (${issue?.path.join('.')}: ${issue?.message}); is it another version?`,
      );
    }
    return parsed.data;
  }

  createExecution(body: CreateExecution): Promise<ExecutionRecord> {
    return this.request('POST', '/api/latest/execution', ExecutionRecord, body);
  }

  getExecution(id: string): Promise<ExecutionRecord> {
    return this.request('GET', `/api/latest/execution/${encodeURIComponent(id)}`, ExecutionRecord);
  }

  listExecutions(q: ListExecutions): Promise<z.output<typeof ExecutionList>> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) {
      if (v === undefined) continue;
      params.set(k, Array.isArray(v) ? v.join(',') : String(v));
    }
    return this.request('GET', `/api/latest/execution?${params}`, ExecutionList);
  }

  act(id: string, action: ExecutionAction): Promise<ExecutionRecord> {
    return this.request('POST', `/api/latest/execution/${encodeURIComponent(id)}/${action}`, ExecutionRecord);
  }

  /** Make a test case of an ended execution in its flow's test file (the runner writes it). */
  createTest(id: string, body: CreateTestBody = {}): Promise<CreatedTest> {
    return this.request('POST', `/api/latest/execution/${encodeURIComponent(id)}/test`, CreatedTest, body);
  }

  async getLog(id: string, after = 0, limit?: number): Promise<z.output<typeof LogList>['items']> {
    const res = await this.request(
      'GET',
      `/api/latest/execution/${encodeURIComponent(id)}/log?after=${after}${limit ? `&limit=${limit}` : ''}`,
      LogList,
    );
    return res.items;
  }

  /** Names of the settings, connections or files flows keep (for completion). */
  async recordNames(type: 'setting' | 'connection' | 'file'): Promise<string[]> {
    return (await this.request('GET', `/api/latest/record_names?type=${type}`, RecordNames)).names;
  }

  async openMessages(): Promise<MessageRecord[]> {
    return (await this.request('GET', '/api/latest/message?open=true', MessageList)).items;
  }

  answerMessage(id: string, response: Record<string, unknown>): Promise<MessageRecord> {
    const body: z.input<typeof MessageResponseBody> = { response };
    return this.request(
      'POST',
      `/api/latest/message/${encodeURIComponent(id)}/response`,
      MessageRecord,
      body,
    );
  }

  /** The flow records the runner has (team mode), names and hashes, without sources. */
  async listFlows(): Promise<FlowInfo[]> {
    return (await this.request('GET', '/api/latest/flow', FlowList)).items;
  }

  /** Deploy flows in one transaction; those whose source the runner has already are left as they are. */
  deployFlows(
    flows: ReadonlyArray<{ name: string; source: string }>,
    signal?: AbortSignal,
  ): Promise<DeployResult> {
    return this.request('POST', '/api/latest/flows/deploy', DeployResult, { flows }, signal);
  }

  deployFlow(name: string, source: string): Promise<DeployedFlow> {
    return this.request('PUT', flowPath(name), DeployedFlow, { source });
  }

  getFlow(name: string): Promise<FlowDetail> {
    return this.request('GET', flowPath(name), FlowDetail);
  }

  deleteFlow(name: string): Promise<FlowInfo> {
    return this.request('DELETE', flowPath(name), FlowInfo);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return (await this.request('GET', '/api/latest/schedule', ScheduleList)).items;
  }

  createSchedule(body: z.input<typeof CreateScheduleBody>): Promise<ScheduleRecord> {
    return this.request('POST', '/api/latest/schedule', ScheduleRecord, body);
  }

  updateSchedule(id: string, body: z.input<typeof UpdateScheduleBody>): Promise<ScheduleRecord> {
    return this.request('PATCH', `/api/latest/schedule/${encodeURIComponent(id)}`, ScheduleRecord, body);
  }

  /** Fire a schedule once now (a FLOW child of its SCHEDULE execution when it is enabled). */
  runScheduleNow(id: string): Promise<ExecutionRecord> {
    return this.request('POST', `/api/latest/schedule/${encodeURIComponent(id)}/run`, ExecutionRecord);
  }

  deleteSchedule(id: string): Promise<unknown> {
    return this.request('DELETE', `/api/latest/schedule/${encodeURIComponent(id)}`, z.unknown());
  }

  previewSchedule(body: z.input<typeof PreviewScheduleBody>, signal?: AbortSignal): Promise<SchedulePreview> {
    return this.request('POST', '/api/latest/schedule/preview', SchedulePreview, body, signal);
  }
}
