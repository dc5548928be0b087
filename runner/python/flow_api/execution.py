"""The Execution class: the running flow (``this``) and every other execution it touches."""

import base64
import datetime
import json
import time

from . import _runtime
from ._runtime import EndExecution, call
from .errors import DependencyFailedError, FlowApiError
from .statuses import ENDED_STATUSES

#: Keyword arguments of flow()/connect() that set fields of the child's record; every other
#: keyword is an input of the child.
CHILD_RECORD_FIELDS = (
    "name",
    "priority",
    "max_runtime_minutes",
    "is_productive",
    "scheduled_for",
    "input_value",
)

#: Fields save() may change (execution.update).
SAVABLE_FIELDS = ("output_value", "message", "name")

#: Record fields get() accepts even when the runner left them out of a record (seed 003).
KNOWN_FIELDS = frozenset(
    """id name type status flow_name script connector_name connector_type input_value output_value
    message is_productive priority max_runtime_minutes parent_execution_id top_execution_id
    schedule_id webhook_id scheduled_for created_at started_at ended_at updated_at description
    is_paused use_breakpoints breakpoints""".split()
)


class Execution:
    """An automation (flow, script or connection) which is or was running.

    The running flow receives its own Execution as ``this``; child executions, ``parent()``,
    ``top()``, ``children()`` and ``system.execution(id)`` are Executions too. Methods that only
    make sense for the running flow (``sleep``, ``pause``, ``success``, ...) act on the running
    execution whichever Execution they are called on. Children are always created under the
    running execution.
    """

    def __init__(self, id, *, _record=None, _is_this=False):
        self._id = str(id)
        self._record = _record
        self._is_this = _is_this

    def __repr__(self):
        status = (self._record or {}).get("status", "?")
        return f"<Execution {self._id} {status}>"

    def __eq__(self, other):
        return isinstance(other, Execution) and other._id == self._id

    def __hash__(self):
        return hash(self._id)

    # ----- reading the record -------------------------------------------------------------

    def _current(self):
        # The running flow's own record is kept locally (the runner only changes what the flow
        # asks it to); an ended record can never change; anything else is read fresh.
        if self._record is not None and (
            self._is_this or self._record.get("status") in ENDED_STATUSES
        ):
            return self._record
        return self._reload()

    def _reload(self):
        record = call("execution.get", {"id": self._id})
        self._record = record
        return record

    def get(self, *fields):
        """Read fields of the execution record.

        ``get('input_value')`` returns one value, ``get('status', 'message')`` a list of values,
        ``get()`` the whole record as a dict. The running flow's own record is read from its
        local copy; other executions are read fresh from the runner (unless they have ended).
        """
        return _pick(self._current(), fields)

    def load(self, *fields):
        """Like :meth:`get`, but always reloads the record from the runner first."""
        return _pick(self._reload(), fields)

    def get_dict(self):
        """The whole execution record as a dict (a copy)."""
        return dict(self._current())

    # ----- writing the record -------------------------------------------------------------

    def save(self, **fields):
        """Update the record: ``output_value``, ``message`` and/or ``name``. Returns self."""
        unknown = sorted(set(fields) - set(SAVABLE_FIELDS))
        if unknown:
            raise FlowApiError(
                f"save() cannot change {', '.join(unknown)}: only {', '.join(SAVABLE_FIELDS)}"
            )
        record = call("execution.update", {"id": self._id, "fields": fields})
        if self._record is None:
            self._record = {}
        self._record.update(record or fields)
        return self

    def set_output(self, key, value):
        """Set one key of ``output_value`` (a dict), keeping the others, and save it."""
        current = self._current().get("output_value")
        merged = dict(current) if isinstance(current, dict) else {}
        merged[key] = value
        return self.save(output_value=merged)

    def log(self, *args, level=None):
        """Write one line to the execution log.

        Arguments are joined by spaces; anything that is not a string is written as JSON.
        ``level`` (e.g. ``'WARNING'``) prefixes the line unless it is ``'INFO'``.
        """
        text = " ".join(a if isinstance(a, str) else _log_repr(a) for a in args)
        if level and str(level).upper() != "INFO":
            text = f"[{str(level).upper()}] {text}"
        _runtime.channel.log("log", text)

    # ----- children ----------------------------------------------------------------------

    def flow(self, flow_name, *, run=True, wait=True, inputs=None, **kwargs):
        """Start the flow ``flow_name`` as a child execution.

        Keyword arguments that are record fields (name, priority, max_runtime_minutes,
        is_productive, scheduled_for, input_value) set the child's record; all others are its
        inputs, merged with ``inputs={...}``. By default waits for the child and returns it;
        raises DependencyFailedError if it did not succeed. ``run=False`` returns it unstarted
        (see :meth:`run`, :meth:`run_async`); ``wait=False`` starts it and returns at once.
        """
        if inputs is not None and not isinstance(inputs, dict):
            raise FlowApiError("inputs must be a dict")
        fields = {k: kwargs.pop(k) for k in CHILD_RECORD_FIELDS if k in kwargs}
        fields["input_value"] = _merge_inputs(fields.pop("input_value", None), {**(inputs or {}), **kwargs})
        return _create_child({"type": "FLOW", "flow_name": flow_name, **fields}, run, wait)

    def connect(self, connector_name=None, *, connector_type=None, run=True, wait=True, **params):
        """Run a connector as a child execution of type CONNECTION.

        ``connector_name`` names a connector of the workspace (``.flows/config.json``) or a
        built-in type; ``connector_type`` is REST, SQLITE or SHELL. The other keywords are the
        connector's parameters (record fields such as ``name`` or ``priority`` go to the child's
        record). Returns the child after it ended; its ``output_value`` holds the result. Raises
        DependencyFailedError if it failed; ``run=False``/``wait=False`` work as in :meth:`flow`.
        """
        if not connector_name and not connector_type:
            raise FlowApiError("connect() needs a connector name or connector_type")
        fields = {k: params.pop(k) for k in CHILD_RECORD_FIELDS if k in params and k != "input_value"}
        fields["input_value"] = _merge_inputs(params.pop("input_value", None), params)
        spec = {"type": "CONNECTION", **fields}
        if connector_name:
            spec["connector_name"] = connector_name
        if connector_type:
            spec["connector_type"] = connector_type
        return _create_child(spec, run, wait)

    def task(self, connector_type, **params):
        """Older name of :meth:`connect` with the connector type given first."""
        return self.connect(connector_type=connector_type, **params)

    def run(self):
        """Start this unstarted child (created with ``run=False``), wait for it and return it."""
        self.run_async()
        return self.wait()

    def run_async(self):
        """Start this unstarted child and return it at once."""
        self._not_this("run_async")
        self._record = call("execution.start", {"id": self._id})
        return self

    def wait(self, timeout=None):
        """Wait until this child has ended and return it; DependencyFailedError if it failed."""
        self._not_this("wait")
        _wait_all([self], timeout)
        return self

    def wait_for(self, *children, timeout=None):
        """Wait until all the given children have ended; returns them as a list.

        Raises DependencyFailedError (naming every failed child) if any did not succeed.
        """
        if len(children) == 1 and isinstance(children[0], (list, tuple)):
            children = children[0]
        for child in children:
            if not isinstance(child, Execution):
                raise FlowApiError(f"wait_for() takes Executions, not {type(child).__name__}")
            child._not_this("wait_for")
        return _wait_all(list(children), timeout)

    def children(self):
        """The child executions of this execution, as a list of Executions."""
        records = call("execution.list", {"parent_execution_id": self._id})["records"]
        return [Execution(r["id"], _record=r) for r in records]

    def parent(self):
        """The execution that started this one, or None for a top-level execution."""
        parent_id = self._current().get("parent_execution_id")
        return Execution(parent_id) if parent_id else None

    def top(self):
        """The top-level execution of this execution's tree (itself when it has no parent)."""
        record = self._current()
        top_id = record.get("top_execution_id")
        if not top_id or top_id == self._id or not record.get("parent_execution_id"):
            return self
        return Execution(top_id)

    # ----- lifecycle of the running flow ----------------------------------------------------

    def success(self, message=None):
        """End the running execution now as SUCCEEDED with ``message``.

        Works as ``return this.success('done')`` or as a bare call; ``except Exception`` in the
        flow does not stop it.
        """
        raise EndExecution("SUCCEEDED", _text(message))

    def error(self, message=None):
        """End the running execution now as FAILED with ``message``."""
        raise EndExecution("FAILED", _text(message))

    def cancel(self):
        """Cancel: on the running flow, end it now as STOPPED; on a child, stop that child."""
        if self._is_this:
            raise EndExecution("STOPPED", "cancelled by the flow")
        self._record = call("execution.cancel", {"id": self._id})
        return self

    def pause(self):
        """Pause: the running flow waits (status PAUSED) until resumed; a child is paused."""
        if not self._is_this:
            self._record = call("execution.pause", {"id": self._id})
            return self
        _runtime.channel.wait_resume()
        return self

    def sleep(self, seconds):
        """Let the running flow wait ``seconds`` (status BLOCKED meanwhile)."""
        seconds = max(0.0, float(seconds))
        _runtime.channel.send({"type": "status", "status": "BLOCKED", "message": f"sleeping {seconds:g} s"})
        time.sleep(seconds)
        _runtime.channel.send({"type": "status", "status": "RUNNING", "message": None})

    def sleep_until(self, when):
        """Sleep until ``when``: a datetime, an ISO 8601 string or a Unix timestamp.

        Datetimes without a time zone are local time.
        """
        self.sleep(_timestamp(when) - time.time())

    # ----- webhooks -----------------------------------------------------------------------

    def webhook_response(self, body="", status_code=200, headers=None, content_type="text/plain"):
        """Answer the webhook call that started this execution. ``body`` is str or bytes."""
        if isinstance(body, (bytes, bytearray)):
            body, encoding = base64.b64encode(bytes(body)).decode("ascii"), "base64"
        else:
            body, encoding = ("" if body is None else str(body)), "text"
        params = {
            "status_code": int(status_code),
            "headers": {str(k): str(v) for k, v in (headers or {}).items()},
            "body": body,
            "content_type": content_type,
            "encoding": encoding,
        }
        call("execution.webhook_response", params)

    def webhook_json_response(self, data, status_code=200, headers=None):
        """Answer the webhook call with ``data`` as JSON (application/json)."""
        self.webhook_response(_runtime.dumps(data), status_code, headers, "application/json")

    def webhook_html_response(self, html, status_code=200, headers=None):
        """Answer the webhook call with an HTML page (text/html)."""
        self.webhook_response(html, status_code, headers, "text/html; charset=utf-8")

    def _not_this(self, what):
        if self._is_this:
            raise FlowApiError(f"{what}() is for child executions, not the running flow itself")


def _pick(record, fields):
    for field in fields:
        if field not in record and field not in KNOWN_FIELDS:
            raise FlowApiError(f"executions have no field '{field}'")
    if not fields:
        return dict(record)
    if len(fields) == 1:
        return record.get(fields[0])
    return [record.get(f) for f in fields]


def _merge_inputs(base, extra):
    if base is None:
        return extra
    if not extra:
        return base
    if not isinstance(base, dict):
        raise FlowApiError("input_value must be a dict when other inputs are given too")
    return {**base, **extra}


def _create_child(spec, run, wait):
    spec["start"] = bool(run)
    record = call("execution.create", spec)
    child = Execution(record["id"], _record=record)
    if run and wait:
        _wait_all([child], None)
    return child


def _wait_all(children, timeout):
    if not children:
        return []
    params = {"ids": [c._id for c in children]}
    if timeout is not None:
        params["timeout"] = timeout
    by_id = {r["id"]: r for r in call("execution.wait", params)["records"]}
    for child in children:
        child._record = by_id.get(child._id, child._record) or {"id": child._id}
    pending = [c for c in children if c._record.get("status") not in ENDED_STATUSES]
    if pending:
        raise FlowApiError(f"timed out waiting for {', '.join(map(repr, pending))}")
    failed = [c for c in children if c._record.get("status") != "SUCCEEDED"]
    if failed:
        raise DependencyFailedError("; ".join(map(_describe_failure, failed)), failed[0])
    return children


def _describe_failure(child):
    r = child._record
    if r.get("type") == "CONNECTION":
        what = f"connection '{r.get('connector_name') or r.get('connector_type')}'"
    else:
        what = f"flow '{r.get('flow_name') or r.get('name')}'"
    text = f"child {what} (execution {child._id}) ended {r.get('status')}"
    return f"{text}: {r['message']}" if r.get("message") else text


def _log_repr(value):
    try:  # json.dumps' own separators: `{"a": 1}` reads better in a log than `{"a":1}`
        return json.dumps(value, default=_runtime.json_default, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _text(message):
    return None if message is None else str(message)


def _timestamp(when):
    if isinstance(when, (int, float)):
        return float(when)
    if isinstance(when, str):
        try:
            when = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise FlowApiError(f"sleep_until() cannot read the time '{when}' (ISO 8601 expected)") from None
    if isinstance(when, datetime.datetime):
        return when.timestamp()
    raise FlowApiError(
        f"sleep_until() takes a datetime, an ISO string or a timestamp, not {type(when).__name__}"
    )
