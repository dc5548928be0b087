// The one catalogue of the flow_api surface. Completion, hover, signature help, diagnostics and the
// generated `.pyi` stubs all read this module; test/catalogue.test.ts keeps it equal to the Python
// package in runner/python/flow_api.

/** The flow_api classes whose methods the catalogue lists. */
export type ClassName = 'Execution' | 'System' | 'Setting' | 'File' | 'Flow' | 'Message' | 'User';

/** Python parameter kinds, in the order Python requires them (flow_api has no positional-only ones). */
export type ParamKind = 'normal' | 'varargs' | 'keyword' | 'kwargs';

/** String values a parameter takes, offered as completions inside its string literal. */
export type ValueSet =
  'flows' | 'connectorTypes' | 'executionFields' | 'messageFields' | 'flowFields' | 'userFields';

export interface Param {
  name: string;
  kind: ParamKind;
  /** Python type expression, as written in the stubs. */
  type: string;
  /** Python default expression; absent means required (or variadic). */
  default?: string;
  doc: string;
  values?: ValueSet;
  /**
   * An Execution record field given as a keyword (`priority=` of `this.flow`, `output_value=` of
   * `save`). Python receives these through `**kwargs`; the catalogue names them so editors can.
   */
  field?: boolean;
}

export interface Method {
  name: string;
  params: Param[];
  /** Python type expression of the result. */
  returns: string;
  doc: string;
}

export interface ApiClass {
  name: ClassName;
  doc: string;
  methods: Method[];
}

export interface ModuleMember {
  name: string;
  kind: 'class' | 'exception' | 'constant';
  /** For constants, the Python type; for exceptions, the base class. */
  type?: string;
  doc: string;
}

export interface Field {
  name: string;
  type: string;
  doc: string;
}

export interface Status {
  name: string;
  doc: string;
}

/** The Execution record fields a local runner has (names and meanings from the class reference). */
export const EXECUTION_FIELDS: readonly Field[] = [
  { name: 'id', type: 'int', doc: 'The ID of the execution.' },
  { name: 'name', type: 'str', doc: 'The name of the execution record.' },
  { name: 'type', type: 'str', doc: 'The type of the execution: FLOW, SCRIPT, CONNECTION or SCHEDULE.' },
  { name: 'status', type: 'str', doc: 'The status of the execution (one of `flow_api.STATUSES`).' },
  { name: 'flow_name', type: 'str', doc: 'The name of the flow. Only used for type FLOW.' },
  { name: 'script', type: 'str', doc: 'The script the execution is processing.' },
  { name: 'input_value', type: 'Any', doc: 'The data which was passed to the execution.' },
  { name: 'output_value', type: 'Any', doc: 'The data returned by the execution.' },
  { name: 'message', type: 'str', doc: 'A status message.' },
  {
    name: 'is_productive',
    type: 'bool',
    doc: 'A flag to control if the execution runs in productive mode (Run) or development mode (Try).',
  },
  {
    name: 'priority',
    type: 'int',
    doc: 'The priority of the execution. Higher priority executions will be processed first. Executions with the same priority are processed in the order they were created.',
  },
  {
    name: 'max_runtime_minutes',
    type: 'int',
    doc: 'The maximum runtime of the execution in minutes. If set to 0, there is no limit.',
  },
  { name: 'parent_execution_id', type: 'int', doc: 'The ID of the execution which created this execution.' },
  { name: 'top_execution_id', type: 'int', doc: 'The ID of the top-level execution of this execution tree.' },
  { name: 'schedule_id', type: 'int', doc: 'The associated schedule for this execution.' },
  { name: 'webhook_id', type: 'int', doc: 'The associated webhook for this execution.' },
  {
    name: 'scheduled_for',
    type: 'datetime.datetime | str',
    doc: 'The timestamp when the execution will continue. This field is also used for timeouts.',
  },
  { name: 'connector_name', type: 'str', doc: 'The name of the connector. Only used for type CONNECTION.' },
  { name: 'connector_type', type: 'str', doc: 'The type of the connector / the type of the remote system.' },
  { name: 'created_at', type: 'str', doc: 'When the execution was created.' },
  { name: 'started_at', type: 'str', doc: 'When the execution started running.' },
  { name: 'ended_at', type: 'str', doc: 'When the execution ended.' },
];

/** The status vocabulary, in lifecycle order. */
export const STATUSES: readonly Status[] = [
  { name: 'CREATED', doc: 'Created, not yet queued (e.g. a child started with `run=False`).' },
  { name: 'QUEUED', doc: 'Waiting for a worker.' },
  { name: 'SCHEDULED', doc: 'Waiting for a point in time (`scheduled_for`).' },
  { name: 'BLOCKED', doc: 'Waiting on a child, a lock, a sleep or a message form.' },
  { name: 'RUNNING', doc: 'Running.' },
  { name: 'PAUSED', doc: 'Paused by a breakpoint or by the user.' },
  { name: 'SUCCEEDED', doc: 'Ended successfully (platform name ENDED_SUCCESS).' },
  { name: 'FAILED', doc: 'Ended with an error (platform name ENDED_ERROR).' },
  { name: 'STOPPED', doc: 'Cancelled (platform name ENDED_CANCELLED).' },
  { name: 'INVALID', doc: 'Rejected input, or a flow that cannot be loaded.' },
  { name: 'PARTIAL_SUCCEEDED', doc: 'A batch whose items partly failed.' },
];

/** Connector types every local runner has without extra installs. */
export const CONNECTOR_TYPES: readonly Field[] = [
  { name: 'REST', type: 'str', doc: 'HTTP request: `url`, `method`, `headers`, `data` / `json`.' },
  {
    name: 'SQLITE',
    type: 'str',
    doc: 'SQLite database file: `database`, `execute` / `fetchall` / `fetchval`.',
  },
  { name: 'SHELL', type: 'str', doc: 'Shell command on the runner machine: `command`.' },
];

/** Fields of a message that `message.get(…)` reads. */
export const MESSAGE_FIELDS: readonly Field[] = [
  { name: 'response', type: 'Any', doc: 'The answer to the form, once the user responded.' },
  { name: 'id', type: 'str', doc: 'The ID of the message.' },
  { name: 'subject', type: 'str', doc: 'The subject of the message.' },
  { name: 'body', type: 'Any', doc: 'The body (text or form definition) of the message.' },
  { name: 'message_type', type: 'str', doc: 'How the message is shown, e.g. POPUP.' },
];

/** Fields of a flow that `system.flow(name).get(…)` reads. */
export const FLOW_FIELDS: readonly Field[] = [
  { name: 'script', type: 'str', doc: 'The source code of the flow.' },
  { name: 'name', type: 'str', doc: 'The name of the flow (its path without `.py`).' },
  { name: 'path', type: 'str', doc: 'The path of the flow file.' },
];

/** Fields of a user that `system.get_own_user().get(…)` reads. */
export const USER_FIELDS: readonly Field[] = [{ name: 'name', type: 'str', doc: 'The login name.' }];

const HEADERS: Param = {
  name: 'headers',
  kind: 'normal',
  type: 'dict[str, str] | None',
  default: 'None',
  doc: 'Extra HTTP response headers.',
};
const STATUS_CODE: Param = {
  name: 'status_code',
  kind: 'normal',
  type: 'int',
  default: '200',
  doc: 'The HTTP status code.',
};
const RUN: Param = {
  name: 'run',
  kind: 'keyword',
  type: 'bool',
  default: 'True',
  doc: 'Start the child now. With `run=False` it is returned unstarted: call `.run()` or `.run_async()` later.',
};
const WAIT: Param = {
  name: 'wait',
  kind: 'keyword',
  type: 'bool',
  default: 'True',
  doc: 'Wait for the child to end. With `wait=False` it runs on its own (fire and forget).',
};
const TIMEOUT: Param = {
  name: 'timeout',
  kind: 'normal',
  type: 'float | None',
  default: 'None',
  doc: 'Seconds to wait at most; `None` waits as long as it takes.',
};

const FIELDS_NAMES = new Set([
  'name',
  'priority',
  'max_runtime_minutes',
  'is_productive',
  'scheduled_for',
  'input_value',
]);
/** The Execution fields that configure a child started by `this.flow(…)` or `this.connect(…)`. */
const CHILD_FIELDS: Param[] = EXECUTION_FIELDS.filter((f) => FIELDS_NAMES.has(f.name)).map((f) => ({
  name: f.name,
  kind: 'keyword',
  type: f.type === 'Any' ? 'Any' : `${f.type} | None`,
  default: 'None',
  doc: f.doc,
  field: true,
}));
const FIELDS_ARG: Param = {
  name: 'fields',
  kind: 'varargs',
  type: 'str',
  doc: 'Names of Execution record fields, e.g. `input_value`.',
  values: 'executionFields',
};

const EXECUTION: ApiClass = {
  name: 'Execution',
  doc: 'An automation (flow, script, or connection) which is or was running. A handler receives its own execution as `this`.',
  methods: [
    {
      name: 'cancel',
      params: [],
      returns: 'Execution',
      doc: 'On the running flow: ends it now as STOPPED. On a child: stops that child and returns it.',
    },
    {
      name: 'children',
      params: [],
      returns: 'list[Execution]',
      doc: 'Returns the child executions, as a list.',
    },
    {
      name: 'connect',
      params: [
        {
          name: 'connector_name',
          kind: 'normal',
          type: 'str | None',
          default: 'None',
          doc: 'A named connector of the workspace, or a connector type.',
          values: 'connectorTypes',
        },
        {
          name: 'connector_type',
          kind: 'keyword',
          type: 'str | None',
          default: 'None',
          doc: 'The connector type for an ad-hoc connection: REST, SQLITE or SHELL.',
          values: 'connectorTypes',
        },
        RUN,
        WAIT,
        ...CHILD_FIELDS,
        {
          name: 'params',
          kind: 'kwargs',
          type: 'Any',
          doc: 'Parameters of the connector (e.g. `url=` for REST).',
        },
      ],
      returns: 'Execution',
      doc: "Runs a connector as a CONNECTION child execution: a named connector of the workspace (`.flows/config.json`) or a built-in type (REST, SQLITE, SHELL). By default waits for it and returns it; its `output_value` holds the result, and a failed connection raises `DependencyFailedError`. Record fields (`name=`, `priority=`, …) configure the child; other keywords are the connector's parameters.",
    },
    {
      name: 'error',
      params: [
        { name: 'message', kind: 'normal', type: 'str | None', default: 'None', doc: 'The status message.' },
      ],
      returns: 'NoReturn',
      doc: 'Ends the running execution now as FAILED with the message. Use as `return this.error("why")`.',
    },
    {
      name: 'flow',
      params: [
        {
          name: 'flow_name',
          kind: 'normal',
          type: 'str',
          doc: 'The flow to start: its path relative to the flows folder, without `.py`.',
          values: 'flows',
        },
        RUN,
        WAIT,
        {
          name: 'inputs',
          kind: 'keyword',
          type: 'dict[str, Any] | None',
          default: 'None',
          doc: 'Inputs of the child, the same as passing them as keyword arguments.',
        },
        ...CHILD_FIELDS,
        {
          name: 'kwargs',
          kind: 'kwargs',
          type: 'Any',
          doc: 'Other keyword arguments are inputs of the child.',
        },
      ],
      returns: 'Execution',
      doc: 'Starts the flow as a FLOW child execution. By default waits for it and returns the child; a failed child raises `DependencyFailedError`. `run=False` returns it unstarted, `wait=False` fires and forgets. Execution fields (`priority=`, `max_runtime_minutes=`, …) configure the child; other keyword arguments are its inputs.',
    },
    {
      name: 'get',
      params: [FIELDS_ARG],
      returns: 'Any',
      doc: 'Reads fields of the execution record: `get("input_value")` returns one value, `get("status", "message")` a list of values, `get()` the whole record as a dict. Other executions are read fresh from the runner.',
    },
    {
      name: 'get_dict',
      params: [],
      returns: 'dict[str, Any]',
      doc: 'Returns the execution record as a dict of field names to values.',
    },
    {
      name: 'load',
      params: [FIELDS_ARG],
      returns: 'Any',
      doc: 'Like `get`, but always reloads the record from the runner first.',
    },
    {
      name: 'log',
      params: [
        {
          name: 'args',
          kind: 'varargs',
          type: 'Any',
          doc: 'Values to write, joined by spaces (non-strings as JSON).',
        },
        {
          name: 'level',
          kind: 'keyword',
          type: 'str | None',
          default: 'None',
          doc: 'A level such as `"WARNING"`, written before the line unless it is `"INFO"`.',
        },
      ],
      returns: 'None',
      doc: "Writes one line to the execution's log.",
    },
    {
      name: 'parent',
      params: [],
      returns: 'Execution | None',
      doc: 'Returns the execution which started this one, or `None` for a top-level execution.',
    },
    {
      name: 'pause',
      params: [],
      returns: 'Execution',
      doc: 'On the running flow: waits (status PAUSED) until resumed. On a child: pauses that child.',
    },
    {
      name: 'run',
      params: [],
      returns: 'Execution',
      doc: 'Starts an execution created with `run=False`, waits for it and returns it.',
    },
    {
      name: 'run_async',
      params: [],
      returns: 'Execution',
      doc: 'Starts an execution created with `run=False` without waiting for it, and returns it.',
    },
    {
      name: 'save',
      params: [
        {
          name: 'output_value',
          kind: 'keyword',
          type: 'Any',
          default: '...',
          doc: 'The data the execution returns.',
          field: true,
        },
        {
          name: 'message',
          kind: 'keyword',
          type: 'str',
          default: '...',
          doc: 'A status message.',
          field: true,
        },
        {
          name: 'name',
          kind: 'keyword',
          type: 'str',
          default: '...',
          doc: 'The name of the execution record.',
          field: true,
        },
      ],
      returns: 'Execution',
      doc: 'Updates fields of the execution record (`output_value`, `message`, `name`), e.g. `this.save(output_value={"id": 1})`. Returns the execution.',
    },
    {
      name: 'set_output',
      params: [
        { name: 'key', kind: 'normal', type: 'str', doc: 'The key in `output_value`.' },
        { name: 'value', kind: 'normal', type: 'Any', doc: 'The value to store.' },
      ],
      returns: 'Execution',
      doc: 'Sets one key of `output_value` (a dict), keeping the others, and saves it.',
    },
    {
      name: 'sleep',
      params: [{ name: 'seconds', kind: 'normal', type: 'float', doc: 'How long to sleep.' }],
      returns: 'None',
      doc: 'Sleeps for the given number of seconds (status BLOCKED meanwhile).',
    },
    {
      name: 'sleep_until',
      params: [
        {
          name: 'when',
          kind: 'normal',
          type: 'datetime.datetime | str | float',
          doc: 'A datetime, an ISO 8601 timestamp, or a Unix time.',
        },
      ],
      returns: 'None',
      doc: 'Sleeps until the given point in time (status BLOCKED meanwhile).',
    },
    {
      name: 'success',
      params: [
        { name: 'message', kind: 'normal', type: 'str | None', default: 'None', doc: 'The status message.' },
      ],
      returns: 'NoReturn',
      doc: 'Ends the running execution now as SUCCEEDED with the message. Use as `return this.success("done")`.',
    },
    {
      name: 'task',
      params: [
        {
          name: 'connector_type',
          kind: 'normal',
          type: 'str',
          doc: 'The connector type: REST, SQLITE or SHELL.',
          values: 'connectorTypes',
        },
        {
          name: 'params',
          kind: 'kwargs',
          type: 'Any',
          doc: 'Parameters of the connector (e.g. `url=` for REST).',
        },
      ],
      returns: 'Execution',
      doc: 'The older name of `connect`, with the connector type given first: `this.task("REST", url=…)`.',
    },
    {
      name: 'top',
      params: [],
      returns: 'Execution',
      doc: 'Returns the top-level execution of this execution tree.',
    },
    {
      name: 'wait',
      params: [TIMEOUT],
      returns: 'Execution',
      doc: 'Waits until this child has ended and returns it; raises `DependencyFailedError` if it failed.',
    },
    {
      name: 'wait_for',
      params: [
        {
          name: 'children',
          kind: 'varargs',
          type: 'Execution',
          doc: 'Child executions to wait for (or one list of them).',
        },
        { ...TIMEOUT, kind: 'keyword' },
      ],
      returns: 'list[Execution]',
      doc: 'Waits until all the given children have ended and returns them as a list; raises `DependencyFailedError` naming every child that failed.',
    },
    {
      name: 'webhook_html_response',
      params: [
        { name: 'html', kind: 'normal', type: 'str', doc: 'The HTML document.' },
        STATUS_CODE,
        HEADERS,
      ],
      returns: 'None',
      doc: 'Sets the HTML response of the webhook call which started this execution.',
    },
    {
      name: 'webhook_json_response',
      params: [
        { name: 'data', kind: 'normal', type: 'Any', doc: 'Data to send as JSON.' },
        STATUS_CODE,
        HEADERS,
      ],
      returns: 'None',
      doc: 'Sets the JSON response of the webhook call which started this execution.',
    },
    {
      name: 'webhook_response',
      params: [
        { name: 'body', kind: 'normal', type: 'str | bytes', default: "''", doc: 'The response body.' },
        STATUS_CODE,
        HEADERS,
        {
          name: 'content_type',
          kind: 'normal',
          type: 'str',
          default: "'text/plain'",
          doc: 'The Content-Type header.',
        },
      ],
      returns: 'None',
      doc: 'Sets the response of the webhook call which started this execution.',
    },
  ],
};

const NAME = (what: string): Param => ({
  name: 'name',
  kind: 'normal',
  type: 'str',
  doc: `The name of the ${what}.`,
});

const SYSTEM: ApiClass = {
  name: 'System',
  doc: 'Access to the records of the workspace. A handler receives it as `system`.',
  methods: [
    {
      name: 'execution',
      params: [{ name: 'id', kind: 'normal', type: 'int | str', doc: 'The ID of the execution.' }],
      returns: 'Execution',
      doc: 'Returns the execution with the given ID.',
    },
    {
      name: 'file',
      params: [NAME('file')],
      returns: 'File',
      doc: 'Returns the file with the given name (it need not exist yet).',
    },
    {
      name: 'flow',
      params: [{ ...NAME('flow'), values: 'flows' }],
      returns: 'Flow',
      doc: 'Returns the flow record with the given name.',
    },
    { name: 'get_own_user', params: [], returns: 'User', doc: 'Returns the user the execution runs as.' },
    {
      name: 'message',
      params: [
        { name: 'subject', kind: 'normal', type: 'str', doc: 'The subject of the message.' },
        {
          name: 'body',
          kind: 'normal',
          type: 'Any',
          default: 'None',
          doc: 'Text, or a form definition (a list of form elements).',
        },
        {
          name: 'message_type',
          kind: 'normal',
          type: 'str',
          default: "'POPUP'",
          doc: 'How the message is shown.',
        },
      ],
      returns: 'Message',
      doc: 'Sends a message (or form) to the user, answered in VS Code. Call `.wait()` to wait for the response.',
    },
    {
      name: 'setting',
      params: [NAME('setting')],
      returns: 'Setting',
      doc: 'Returns the setting with the given name (it need not exist yet).',
    },
  ],
};

const EXISTS = (what: string): Method => ({
  name: 'exists',
  params: [],
  returns: 'bool',
  doc: `Returns whether the ${what} exists.`,
});
const DELETE = (what: string): Method => ({
  name: 'delete',
  params: [],
  returns: 'bool',
  doc: `Deletes the ${what}; returns whether it existed.`,
});
const GET_FIELD = (what: string, values: ValueSet, byDefault: string): Method => ({
  name: 'get',
  params: [
    {
      name: 'field',
      kind: 'normal',
      type: 'str',
      default: `'${byDefault}'`,
      doc: `A field of the ${what}.`,
      values,
    },
  ],
  returns: 'Any',
  doc: `Returns a field of the ${what} (by default \`${byDefault}\`).`,
});
const ENCODING: Param = {
  name: 'encoding',
  kind: 'normal',
  type: 'str',
  default: "'utf-8'",
  doc: 'The text encoding.',
};

const SETTING: ApiClass = {
  name: 'Setting',
  doc: 'A named value kept by the runner for the workspace, shared by all flows.',
  methods: [
    DELETE('setting'),
    EXISTS('setting'),
    { name: 'get', params: [], returns: 'Any', doc: 'Returns the value of the setting.' },
    {
      name: 'save',
      params: [{ name: 'value', kind: 'normal', type: 'Any', doc: 'The new value (JSON-serialisable).' }],
      returns: 'Setting',
      doc: 'Stores a new value (anything JSON can hold) for the setting, creating it if needed.',
    },
  ],
};

const FILE: ApiClass = {
  name: 'File',
  doc: "A text file in the workspace's files folder.",
  methods: [
    DELETE('file'),
    EXISTS('file'),
    { name: 'get_text', params: [ENCODING], returns: 'str', doc: 'Returns the content of the file as text.' },
    {
      name: 'save_text',
      params: [{ name: 'text', kind: 'normal', type: 'str', doc: 'The new content.' }, ENCODING],
      returns: 'File',
      doc: 'Writes text to the file, creating it (and its folders) if needed.',
    },
  ],
};

const FLOW: ApiClass = {
  name: 'Flow',
  doc: 'A flow file in the flows folder.',
  methods: [EXISTS('flow'), GET_FIELD('flow', 'flowFields', 'script')],
};

const MESSAGE: ApiClass = {
  name: 'Message',
  doc: 'A message (form) shown to the user, created with `system.message(…)`; its response arrives when the user answers.',
  methods: [
    GET_FIELD('message', 'messageFields', 'response'),
    {
      name: 'wait',
      params: [TIMEOUT],
      returns: 'Message',
      doc: "Waits until the message has been answered and returns it; read the answer with `.get('response')`.",
    },
  ],
};

const USER: ApiClass = {
  name: 'User',
  doc: 'A user of the workspace (locally: the operating-system user).',
  methods: [GET_FIELD('user', 'userFields', 'name')],
};

export const CLASSES: Readonly<Record<ClassName, ApiClass>> = {
  Execution: EXECUTION,
  System: SYSTEM,
  Setting: SETTING,
  File: FILE,
  Flow: FLOW,
  Message: MESSAGE,
  User: USER,
};

export const CLASS_NAMES = Object.keys(CLASSES) as ClassName[];

/** Everything `import flow_api` gives a flow. */
export const MODULE_MEMBERS: readonly ModuleMember[] = [
  ...CLASS_NAMES.map((name): ModuleMember => ({ name, kind: 'class', doc: CLASSES[name].doc })),
  {
    name: 'FlowApiError',
    kind: 'exception',
    type: 'Exception',
    doc: 'A flow_api call could not be carried out (the runner refused it, or it was misused).',
  },
  {
    name: 'DependencyFailedError',
    kind: 'exception',
    type: 'FlowApiError',
    doc: 'A child execution the flow waited for did not succeed; its `execution` attribute is the child.',
  },
  {
    name: 'STATUSES',
    kind: 'constant',
    type: 'tuple[str, ...]',
    doc: `The execution status names: ${STATUSES.map((s) => s.name).join(', ')}.`,
  },
  {
    name: 'PLATFORM_STATUS',
    kind: 'constant',
    type: 'dict[str, str]',
    doc: 'Maps the platform status names ENDED_SUCCESS, ENDED_ERROR and ENDED_CANCELLED to SUCCEEDED, FAILED and STOPPED.',
  },
];

export function isClassName(name: string): name is ClassName {
  return Object.hasOwn(CLASSES, name);
}

export function findMethod(cls: ClassName, name: string): Method | undefined {
  return CLASSES[cls].methods.find((m) => m.name === name);
}

export function findModuleMember(name: string): ModuleMember | undefined {
  return MODULE_MEMBERS.find((m) => m.name === name);
}

/** The parameters a call can name with `name=…` (all but the variadic ones). */
export function keywordParams(method: Method): Param[] {
  return method.params.filter((p) => p.kind === 'normal' || p.kind === 'keyword');
}

export function acceptsAnyKeyword(method: Method): boolean {
  return method.params.some((p) => p.kind === 'kwargs');
}

/** What a string argument of this kind may be, for completion and hover. */
export function valuesOf(set: ValueSet): readonly Field[] {
  switch (set) {
    case 'connectorTypes':
      return CONNECTOR_TYPES;
    case 'executionFields':
      return EXECUTION_FIELDS;
    case 'messageFields':
      return MESSAGE_FIELDS;
    case 'flowFields':
      return FLOW_FIELDS;
    case 'userFields':
      return USER_FIELDS;
    case 'flows':
      return []; // workspace-dependent: see workspaceFlows.ts
  }
}

/** One parameter as Python writes it in a signature: `name: type = default`. */
export function paramLabel(p: Param): string {
  const prefix = p.kind === 'varargs' ? '*' : p.kind === 'kwargs' ? '**' : '';
  const def = p.default === undefined ? '' : ` = ${p.default}`;
  return `${prefix}${p.name}: ${p.type}${def}`;
}

/**
 * The parameter list as Python writes it, with `*` before keyword-only parameters (unless a
 * `*args` already separates them); each entry is either a parameter or that separator.
 */
export function signatureParts(method: Method): (Param | '*')[] {
  const parts: (Param | '*')[] = [];
  const params = method.params;
  params.forEach((p, i) => {
    if (p.kind === 'keyword' && !params.slice(0, i).some((q) => q.kind === 'varargs' || q.kind === 'keyword'))
      parts.push('*');
    parts.push(p);
  });
  return parts;
}

/** `flow(flow_name: str, /, *, run: bool = True, …) -> Execution` */
export function signatureLabel(method: Method): string {
  const parts = signatureParts(method).map((p) => (typeof p === 'string' ? p : paramLabel(p)));
  return `${method.name}(${parts.join(', ')}) -> ${method.returns}`;
}
