"""The Execution record: the running flow (``this``) and every other execution it touches."""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from typing import Any, Callable, ClassVar, Iterable, NoReturn, Optional, Union

from . import _context
from ._deprecation import deprecated
from .exceptions import (
    DependencyFailedError,
    DependencyTimeoutError,
    ExecutionCancel,
    ExecutionError,
    ExecutionSuccess,
    FlowApiError,
    LifecycleSignal,
    PermissionDenied,
    ResourceNotFoundError,
    TimeoutExceededError,
)
from .records import COMMON_FIELDS, Record
from .resources import Message, create_message
from .return_when import ReturnWhen
from .statuses import ENDED_STATUSES, flow_status, flow_type

#: Keyword arguments of flow()/connect()/clone() that set fields of the child's record; every
#: other keyword is an input of the child.
CHILD_RECORD_FIELDS = ("name", "priority", "max_runtime_minutes", "is_productive", "scheduled_for", "input_value")

#: Fields save() may change.
SAVABLE_FIELDS = ("output_value", "message", "name")

#: ``wait=`` of flow/connect/task/clone: True waits as ALL_SUCCEEDED does, False does not wait.
Wait = Union[bool, ReturnWhen, str]

#: The fields of an execution record and what they mean.
EXECUTION_FIELDS: dict[str, str] = {
    **COMMON_FIELDS,
    "id": "The ID of the execution.",
    "name": "The name of the execution record.",
    "type": "The type: FLOW, SCRIPT, CONNECTION (also equal to 'TASK') or SCHEDULE.",
    "status": "The status, with the platform's names inside flows: ENDED_SUCCESS, ENDED_ERROR, "
    "ENDED_CANCELLED, RUNNING, PAUSED, WAITING, PENDING, ... (each also equals the runner's name).",
    "flow_name": "The name of the flow. Only used for type FLOW.",
    "script": "The script the execution is processing.",
    "connector_name": "The name of the connection. Only used for type CONNECTION.",
    "connector_type": "The type of the connector / the type of the remote system.",
    "input_value": "The data which was passed to the execution.",
    "output_value": "The data returned by the execution.",
    "message": "A status message.",
    "is_productive": "Whether the execution runs in productive mode (Run) or development mode (Try).",
    "priority": "The priority: higher runs first; equal priorities run in the order created.",
    "max_runtime_minutes": "The maximum runtime in minutes; 0 means no limit.",
    "parent_execution_id": "The ID of the execution which created this execution.",
    "top_execution_id": "The ID of the top-level execution of this execution tree.",
    "schedule_id": "The associated schedule for this execution.",
    "webhook_id": "The associated webhook for this execution.",
    "scheduled_for": "The timestamp when the execution will continue; also used for timeouts.",
    "started_at": "When the execution started running.",
    "ended_at": "When the execution ended.",
    "updated_at": "When the execution record last changed.",
    "is_paused": "Whether the execution is paused.",
    "use_breakpoints": "Whether the execution stops at breakpoints (development mode).",
    "breakpoints": "The breakpoints of the execution.",
}


class Execution(Record):
    """An automation (flow, script or connection) which is or was running.

    The running flow receives its own Execution as ``this``; child executions, ``parent()``,
    ``top()``, ``children()`` and ``system.execution(id)`` are Executions too. Methods that only
    make sense for the running flow (``sleep``, ``success``, ``message``, ...) act on the running
    execution whichever Execution they are called on. Children are created under the running
    execution.
    """

    RESOURCE: ClassVar[str] = "execution"
    DEFAULT_BY: ClassVar[str] = "id"
    FIELDS: ClassVar[dict[str, str]] = EXECUTION_FIELDS

    def __init__(
        self,
        select: Optional[Union[str, int]] = None,
        by: Optional[str] = None,
        *,
        _record: Optional[dict[str, Any]] = None,
        _is_this: bool = False,
        _template: bool = False,
        **init: Any,
    ) -> None:
        self._is_this = _is_this
        self._template = _template
        super().__init__(select, by, _record=_record, **init)

    def __repr__(self) -> str:
        status = (self._record or {}).get("status", "?")
        return f"<Execution {self._key} {status}>"

    # ----- the record ---------------------------------------------------------------------

    def get(self, *fields: str) -> Any:
        """Read fields of the execution: one field gives its value, several a list of values,
        none the whole record as a dict.

        The running flow's own record and ended executions are read from the local copy;
        other executions are read fresh from the runner. ``status`` and ``type`` use the
        platform's names (``'ENDED_SUCCESS'``, ``'TASK'``), which also equal the runner's.
        """
        return self._pick(self._current(), fields)

    def get_dict(self) -> dict[str, Any]:
        """The whole execution record as a dict (a copy)."""
        return self._pick(self._current(), ())

    def _current(self) -> dict[str, Any]:
        # The running flow's own record is kept locally (the runner only changes what the flow
        # asks it to); an ended record can never change; anything else is read fresh.
        if self._record is not None and (
            self._is_this or self._template or self._record.get("status") in ENDED_STATUSES
        ):
            return self._record
        self._record = self._fetch()
        return self._record

    def _fetch(self) -> dict[str, Any]:
        if self._template:
            return self._record or {}
        return self._call("execution.get", {"id": self._ident()["key"]})

    def _exists(self) -> bool:
        try:
            self._fetch()
            return True
        except ResourceNotFoundError:
            return False

    def _present(self, name: str, value: Any) -> Any:
        if name == "status":
            return flow_status(value)
        if name == "type":
            return flow_type(value)
        return value

    def save(self, **fields: Any) -> "Execution":
        """Update the record: ``output_value``, ``message`` and/or ``name``. Returns self."""
        unknown = sorted(set(fields) - set(SAVABLE_FIELDS))
        if unknown:
            raise FlowApiError(f"save() cannot change {', '.join(unknown)}: only {', '.join(SAVABLE_FIELDS)}")
        if self._template:
            self._record = {**(self._record or {}), **fields}
            return self
        record = self._call("execution.update", {"id": self._ident()["key"], "fields": fields})
        self._record = {**(self._record or {}), **(record or fields)}
        return self

    def set_output(self, key: Optional[str] = None, value: Any = None, **pairs: Any) -> "Execution":
        """Set keys of ``output_value`` (a dict), keeping the others, and save it:
        ``set_output('total', 3)`` or ``set_output(total=3, currency='EUR')``."""
        updates = dict(pairs)
        if key is not None:
            updates[str(key)] = value
        current = self._current().get("output_value")
        return self.save(output_value={**(current if isinstance(current, dict) else {}), **updates})

    def delete(self) -> None:
        """Executions are kept by the runner: delete() raises PermissionDenied (use cancel())."""
        raise PermissionDenied("executions cannot be deleted from a flow: cancel() stops one")

    def archive(self) -> "Execution":
        """Executions are kept by the runner: archive() raises PermissionDenied."""
        raise PermissionDenied("executions cannot be archived from a flow")

    @classmethod
    def _list(cls, include_archived: bool) -> Iterable[dict[str, Any]]:
        return _pages({"sort": "-created_at"})

    # ----- logging ------------------------------------------------------------------------

    def log(self, *args: Any, level: Optional[str] = None, **pairs: Any) -> None:
        """Write to the execution log.

        Positional arguments make one line, joined by spaces (anything that is not a string is
        written as JSON); each keyword argument is one more line ``key: value``
        (``this.log(response=r)``). ``level`` (e.g. ``'WARNING'``) prefixes the lines unless it
        is ``'INFO'``.
        """
        lines = []
        if args:
            lines.append(" ".join(a if isinstance(a, str) else _log_repr(a) for a in args))
        lines.extend(f"{k}: {v if isinstance(v, str) else _log_repr(v)}" for k, v in pairs.items())
        if level and str(level).upper() != "INFO":
            lines = [f"[{str(level).upper()}] {line}" for line in lines]
        _context.current_context().log("log", "\n".join(lines))

    # ----- children ----------------------------------------------------------------------

    def flow(
        self,
        flow_name: str,
        *,
        run: bool = True,
        wait: Wait = True,
        save: bool = True,
        inputs: Optional[dict[str, Any]] = None,
        **inputs_and_fields: Any,
    ) -> "Execution":
        """Start the flow ``flow_name`` as a child execution and return it.

        Keyword arguments that are record fields (``name``, ``priority``,
        ``max_runtime_minutes``, ``is_productive``, ``scheduled_for``, ``input_value``) set the
        child's record; all others are its inputs, merged with ``inputs={...}``.

        ``wait``: True (default) waits and raises DependencyFailedError if the child failed;
        ``system.return_when.ALL_ENDED`` waits without raising; False returns at once.
        ``run=False`` creates it unstarted (``.run()`` / ``.run_async()`` later);
        ``save=False`` makes a template that only ``clone()`` starts.
        """
        if inputs is not None and not isinstance(inputs, dict):
            raise FlowApiError("inputs must be a dict")
        spec = _child_spec({"type": "FLOW", "flow_name": str(flow_name)}, inputs, inputs_and_fields)
        return _create_child(spec, run, wait, save)

    def connect(
        self,
        connector_name: Optional[str] = None,
        *,
        connector_type: Optional[str] = None,
        run: bool = True,
        wait: Wait = True,
        save: bool = True,
        **inputs_and_fields: Any,
    ) -> "Execution":
        """Run a connection as a child execution of type CONNECTION and return it.

        ``connector_name`` names a connection of the workspace (``system.connection(name)``, or
        ``.flows/config.json``) or a built-in type; ``connector_type`` is REST, SQLITE or SHELL.
        The other keywords are the connector's inputs, overriding the connection's (record
        fields such as ``name`` or ``priority`` go to the child's record). Its ``output_value``
        holds the result. ``wait``, ``run`` and ``save`` work as in :meth:`flow`.
        """
        if not connector_name and not connector_type:
            raise FlowApiError("connect() needs a connection name or connector_type")
        base: dict[str, Any] = {"type": "CONNECTION"}
        if connector_name:
            base["connector_name"] = str(connector_name)
        if connector_type:
            base["connector_type"] = str(connector_type)
        return _create_child(_child_spec(base, None, inputs_and_fields), run, wait, save)

    @deprecated("connect", "connect(connector_type=...)")
    def task(
        self,
        connector_type: str,
        *,
        run: bool = True,
        wait: Wait = True,
        save: bool = True,
        **inputs_and_fields: Any,
    ) -> "Execution":
        """The platform's older name of :meth:`connect`, from when connections were executions of
        type TASK: ``this.task('REST', url=...)`` is ``this.connect(connector_type='REST',
        url=...)``. Deprecated: each call writes a deprecation note to the execution log."""
        return self.connect(connector_type=connector_type, run=run, wait=wait, save=save, **inputs_and_fields)

    def clone(self, *, run: bool = True, wait: Wait = True, **fields_and_inputs: Any) -> "Execution":
        """Start a copy of this execution (typically a template made with ``save=False`` or
        ``run=False``) as a child of the running flow, and return the copy.

        Record fields given (``name``, ``priority``, ...) replace the template's, the other
        keywords are inputs merged over the template's inputs. Waits like :meth:`flow`.
        """
        template = self._current()
        kind = template.get("type")
        if kind not in ("FLOW", "CONNECTION"):
            raise FlowApiError(f"only flow and connection executions can be cloned, not {kind}")
        base = {k: template[k] for k in ("type", "flow_name", "connector_name", "connector_type") if template.get(k)}
        for field in ("name", "priority", "max_runtime_minutes", "is_productive"):
            if template.get(field) is not None and field not in fields_and_inputs:
                base[field] = template[field]
        spec = _child_spec(base, template.get("input_value") if isinstance(template.get("input_value"), dict) else None, fields_and_inputs)
        return _create_child(spec, run, wait, True)

    def using(self, wrapper: str, **params: Any) -> "Wrapped":
        """Wrap the children started through the result: ``this.using('retry', max_tries=3,
        delay_sec=5).connect(...)`` retries a failed child; ``this.using('timeout',
        timeout_sec=60).flow(...)`` cancels a child that runs longer and raises
        DependencyTimeoutError. Wrappers can be chained: ``.using(...).using(...)``."""
        return Wrapped(self, []).using(wrapper, **params)

    def run(self, wait: Wait = True) -> "Execution":
        """Start this unstarted child (``run=False``) and, by default, wait for it."""
        self.run_async()
        if wait is False:
            return self
        return self.wait(return_when=_return_when(wait))

    def run_async(self) -> "Execution":
        """Start this unstarted child and return it at once."""
        self._not_this("run_async")
        if self._template:
            started = _create_child(dict(self._record or {}), True, False, True)
            self._template, self._key, self._record = False, started._key, started._record
            return self
        self._record = self._call("execution.start", {"id": self._ident()["key"]})
        return self

    def wait(
        self,
        return_when: Union[ReturnWhen, str] = ReturnWhen.ALL_SUCCEEDED,
        timeout: Optional[float] = None,
    ) -> "Execution":
        """Wait until this child has ended and return it.

        With ``return_when=system.return_when.ALL_SUCCEEDED`` (the default) a failed child
        raises DependencyFailedError; ``ALL_ENDED`` never raises. ``timeout`` in seconds;
        when it runs out, DependencyTimeoutError is raised.
        """
        self._not_this("wait")
        _wait([self], _return_when(return_when), timeout)
        return self

    def wait_for(
        self,
        *executions: Union["Execution", Iterable["Execution"]],
        return_when: Union[ReturnWhen, str] = ReturnWhen.ALL_SUCCEEDED,
        timeout: Optional[float] = None,
    ) -> list["Execution"]:
        """Wait for several children and return those that ended.

        ``return_when`` (``system.return_when.…``): ALL_SUCCEEDED (default) waits for all and
        raises DependencyFailedError as soon as one fails; ALL_ENDED waits for all and never
        raises; FIRST_ENDED returns when one has ended; FIRST_SUCCEEDED returns when one has
        succeeded and raises DependencyFailedError only if all failed. ``timeout`` in seconds
        raises DependencyTimeoutError. Lists of executions may be passed as well.
        """
        children: list[Execution] = []
        for item in executions:
            children.extend(item if isinstance(item, (list, tuple, set)) else [item])  # type: ignore[arg-type]
        for child in children:
            if not isinstance(child, Execution):
                raise FlowApiError(f"wait_for() takes Executions, not {type(child).__name__}")
            child._not_this("wait_for")
        return _wait(children, _return_when(return_when), timeout)

    def children(self) -> list["Execution"]:
        """All child executions of this execution, oldest first."""
        query = {"parent_execution_id": self._ident()["key"], "sort": "created_at"}
        return [Execution(r["id"], _record=r) for r in _pages(query)]

    def parent(self) -> Optional["Execution"]:
        """The execution that started this one, or None for a top-level execution."""
        parent_id = self._current().get("parent_execution_id")
        return Execution(parent_id) if parent_id else None

    def top(self) -> "Execution":
        """The top-level execution of this execution's tree (itself when it has no parent)."""
        record = self._current()
        top_id = record.get("top_execution_id")
        if not top_id or top_id == self._key or not record.get("parent_execution_id"):
            return self
        return Execution(top_id)

    # ----- lifecycle of the running flow ----------------------------------------------------

    def success(self, message: Optional[str] = None) -> NoReturn:
        """End the running execution now as ENDED_SUCCESS with ``message``.

        Works as ``return this.success('done')`` or as a bare call; ``except Exception`` in the
        flow does not stop it (``finally`` blocks run).
        """
        raise ExecutionSuccess(_text(message))

    def error(self, message: Optional[str] = None) -> NoReturn:
        """End the running execution now as ENDED_ERROR with ``message``."""
        raise ExecutionError(_text(message))

    def end(self, status: str = "success", message: Optional[str] = None) -> NoReturn:
        """End the running execution with ``status``: 'success', 'error' or 'cancelled' (or the
        platform's names ENDED_SUCCESS, ENDED_ERROR, ENDED_CANCELLED)."""
        key = str(status).lower().replace("ended_", "")
        signal = {"success": ExecutionSuccess, "error": ExecutionError, "cancelled": ExecutionCancel, "cancel": ExecutionCancel}.get(key)
        if signal is None:
            raise FlowApiError(f"end() status '{status}' is unknown: use 'success', 'error' or 'cancelled'")
        raise signal(_text(message))

    def cancel(self) -> "Execution":
        """Cancel: on the running flow, end it now as ENDED_CANCELLED; on a child, stop that child."""
        if self._is_this:
            raise ExecutionCancel("cancelled by the flow")
        self._record = self._call("execution.cancel", {"id": self._ident()["key"]})
        return self

    def pause(self) -> "Execution":
        """Pause: the running flow waits (status PAUSED) until resumed; a child is paused."""
        if not self._is_this:
            self._record = self._call("execution.pause", {"id": self._ident()["key"]})
            return self
        _context.current_context().wait_resume()
        return self

    def sleep(self, seconds: float) -> None:
        """Let the running flow wait ``seconds`` (status WAITING/BLOCKED meanwhile)."""
        seconds = max(0.0, float(seconds))
        context = _context.current_context()
        # Recorded, so that a test made from this run replays it (on a virtual clock).
        context.send({"type": "recording", "kind": "sleep", "name": "", "value": {"seconds": seconds}})
        context.send({"type": "status", "status": "BLOCKED", "message": f"sleeping {seconds:g} s"})
        getattr(context, "sleep", time.sleep)(seconds)
        context.send({"type": "status", "status": "RUNNING", "message": None})

    def sleep_until(self, when: Union[datetime.datetime, str, float]) -> None:
        """Sleep until ``when``: a datetime, an ISO 8601 string or a Unix timestamp.

        Datetimes without a time zone are local time.
        """
        self.sleep(_timestamp(when) - getattr(_context.current_context(), "time", time.time)())

    def message(
        self,
        subject: str,
        message: Optional[str] = None,
        *,
        body: Any = None,
        request: Optional[str] = None,
        message_type: str = "POPUP",
        wait: bool = True,
        timeout: Optional[float] = None,
    ) -> Message:
        """Show a message to the user in VS Code and, by default, wait for the answer.

        ``message`` is text (markdown); ``request='Your name?'`` asks for one text answer
        (``get('response')['string']``); ``body`` is a form: field name -> element, e.g.
        ``{'approve': {'type': 'boolean', 'label': 'Deploy?'}}``. ``wait=False`` returns at
        once (``.wait()`` later). ``timeout`` in seconds raises MessageResponseTimeoutError.
        """
        created = create_message(subject, message, body, request, message_type)
        return created.wait(timeout) if wait else created

    # ----- webhooks -----------------------------------------------------------------------

    def webhook_response(
        self,
        body: Union[str, bytes, None] = "",
        status_code: int = 200,
        headers: Optional[dict[str, str]] = None,
        content_type: str = "text/plain",
    ) -> None:
        """Answer the webhook call that started this execution. ``body`` is str or bytes."""
        import base64

        if isinstance(body, (bytes, bytearray)):
            text, encoding = base64.b64encode(bytes(body)).decode("ascii"), "base64"
        else:
            text, encoding = ("" if body is None else str(body)), "text"
        params = {
            "status_code": int(status_code),
            "headers": {str(k): str(v) for k, v in (headers or {}).items()},
            "body": text,
            "content_type": content_type,
            "encoding": encoding,
        }
        self._call("execution.webhook_response", params)

    def webhook_json_response(self, data: Any, status_code: int = 200, headers: Optional[dict[str, str]] = None) -> None:
        """Answer the webhook call with ``data`` as JSON (application/json)."""
        self.webhook_response(json.dumps(data, default=_json_default), status_code, headers, "application/json")

    def webhook_html_response(self, html: str, status_code: int = 200, headers: Optional[dict[str, str]] = None) -> None:
        """Answer the webhook call with an HTML page (text/html)."""
        self.webhook_response(html, status_code, headers, "text/html; charset=utf-8")

    def _not_this(self, what: str) -> None:
        if self._is_this:
            raise FlowApiError(f"{what}() is for child executions, not the running flow itself")


class Wrapped:
    """Children started through ``this.using(wrapper, ...)``: retried or timed out."""

    #: The wrappers ``using()`` knows.
    WRAPPERS: ClassVar[tuple[str, ...]] = ("retry", "timeout")

    def __init__(self, this: Execution, wrappers: list[tuple[str, dict[str, Any]]]):
        self._this = this
        self._wrappers = wrappers

    def using(self, wrapper: str, **params: Any) -> "Wrapped":
        """Add one more wrapper (see :meth:`Execution.using`)."""
        name = str(wrapper).lower()
        if name not in self.WRAPPERS:
            raise FlowApiError(f"unknown wrapper '{wrapper}': the wrappers are {', '.join(self.WRAPPERS)}")
        allowed = {"retry": {"max_tries", "delay_sec"}, "timeout": {"timeout_sec", "timeout_min"}}[name]
        extra = sorted(set(params) - allowed)
        if extra:
            raise FlowApiError(f"wrapper '{name}' takes {', '.join(sorted(allowed))}, not {', '.join(extra)}")
        if name == "timeout" and not params:
            raise FlowApiError("wrapper 'timeout' needs timeout_sec= or timeout_min=")
        return Wrapped(self._this, [*self._wrappers, (name, params)])

    def flow(
        self,
        flow_name: str,
        *,
        wait: Wait = True,
        inputs: Optional[dict[str, Any]] = None,
        **inputs_and_fields: Any,
    ) -> Execution:
        """``this.flow(...)`` through the wrappers (see :meth:`Execution.flow`)."""
        return self._start(
            lambda w: self._this.flow(flow_name, wait=w, inputs=inputs, **inputs_and_fields), wait
        )

    def connect(
        self,
        connector_name: Optional[str] = None,
        *,
        connector_type: Optional[str] = None,
        wait: Wait = True,
        **inputs_and_fields: Any,
    ) -> Execution:
        """``this.connect(...)`` through the wrappers (see :meth:`Execution.connect`)."""
        return self._start(
            lambda w: self._this.connect(connector_name, connector_type=connector_type, wait=w, **inputs_and_fields),
            wait,
        )

    @deprecated("connect", "connect(connector_type=...)")
    def task(self, connector_type: str, *, wait: Wait = True, **inputs_and_fields: Any) -> Execution:
        """Deprecated ``this.task(...)`` through the wrappers (see :meth:`Execution.task`): use
        :meth:`connect`."""
        return self._start(
            lambda w: self._this.connect(connector_type=connector_type, wait=w, **inputs_and_fields), wait
        )

    def _start(self, start: Callable[[Wait], Execution], wait: Wait) -> Execution:
        mode = None if wait is False else _return_when(wait)
        retry = next((p for n, p in self._wrappers if n == "retry"), None)
        timeout = next((p for n, p in self._wrappers if n == "timeout"), None)
        limit = None
        if timeout is not None:
            limit = float(timeout.get("timeout_sec") or 0) + 60 * float(timeout.get("timeout_min") or 0)
        tries = max(1, int((retry or {}).get("max_tries", 3))) if retry is not None else 1
        delay = float((retry or {}).get("delay_sec", 0))
        for attempt in range(1, tries + 1):
            child = start(False)
            if mode is None and limit is None:
                return child
            try:
                try:  # with one child, _wait raises for a failure exactly when `mode` asks to
                    _wait([child], mode or ReturnWhen.ALL_ENDED, limit)
                except DependencyTimeoutError:
                    child.cancel()
                    raise
                return child
            except (DependencyFailedError, DependencyTimeoutError) as exc:
                if attempt == tries:
                    raise
                self._this.log(f"retry {attempt + 1} of {tries} after: {exc}")
                if delay:
                    self._this.sleep(delay)
        raise AssertionError("unreachable")


# ----- helpers ---------------------------------------------------------------------------------


#: How many execution records one ``execution.list`` call returns at most.
PAGE_SIZE = 1000


def _pages(query: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Every record ``execution.list`` has for ``query``, a page at a time, each once (records
    created while paging newest-first shift the pages; the ids seen already are skipped)."""
    seen: set[str] = set()
    offset = 0
    while True:
        page = _context.call("execution.list", {**query, "limit": PAGE_SIZE, "offset": offset})["records"]
        for record in page:
            if record["id"] not in seen:
                seen.add(record["id"])
                yield record
        if len(page) < PAGE_SIZE:
            return
        offset += len(page)


def _child_spec(base: dict[str, Any], inputs: Optional[dict[str, Any]], kwargs: dict[str, Any]) -> dict[str, Any]:
    spec = dict(base)
    for field in CHILD_RECORD_FIELDS:
        if field in kwargs:
            spec[field] = kwargs.pop(field)
    merged = {**(inputs or {}), **kwargs}
    given = spec.pop("input_value", None)
    if given is None:
        spec["input_value"] = merged
    elif not merged:
        spec["input_value"] = given
    elif isinstance(given, dict):
        spec["input_value"] = {**given, **merged}
    else:
        raise FlowApiError("input_value must be a dict when other inputs are given too")
    return spec


def _create_child(spec: dict[str, Any], run: bool, wait: Wait, save: bool) -> Execution:
    if not save:  # a template: nothing is sent to the runner until clone() or run()
        return Execution(None, "id", _record={**spec, "status": "CREATED"}, _template=True)
    params = {**spec, "start": bool(run)}
    caller = _caller()
    if caller:
        params["caller"] = caller
    record = _context.call("execution.create", params)
    child = Execution(record["id"], _record=record)
    if run and wait is not False:
        _wait([child], _return_when(wait), None)
    return child


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller() -> Optional[dict[str, Any]]:
    """Where the flow made this call: the first frame outside flow_api (a test that replays the
    run shows a call that differs at this line)."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame = frame.f_back
    if frame is None:
        return None
    return {"file": os.path.abspath(frame.f_code.co_filename), "line": frame.f_lineno}


def _return_when(value: Wait) -> ReturnWhen:
    if value is True:
        return ReturnWhen.ALL_SUCCEEDED
    if isinstance(value, ReturnWhen):
        return value
    try:
        return ReturnWhen(str(value).upper())
    except ValueError:
        names = ", ".join(m.value for m in ReturnWhen)
        raise FlowApiError(f"return_when '{value}' is unknown: use system.return_when.{{{names}}}") from None


def _wait(children: list[Execution], mode: ReturnWhen, timeout: Optional[float]) -> list[Execution]:
    if not children:
        return []
    ids = [c._ident()["key"] for c in children]
    params: dict[str, Any] = {"ids": ids, "return_when": mode.value}
    if timeout is not None:
        params["timeout"] = float(timeout)
    try:
        records = _context.call("execution.wait", params)["records"]
    except TimeoutExceededError as exc:
        raise DependencyTimeoutError(str(exc)) from None
    by_id = {r["id"]: r for r in records}
    for child in children:
        child._record = by_id.get(child._key) or child._record
    ended = [c for c in children if (c._record or {}).get("status") in ENDED_STATUSES]
    failed = [c for c in ended if c._record.get("status") != "SUCCEEDED"]  # type: ignore[union-attr]
    if mode is ReturnWhen.ALL_SUCCEEDED and failed:
        raise DependencyFailedError("; ".join(map(_describe_failure, failed)), failed[0], failed)
    if mode is ReturnWhen.FIRST_SUCCEEDED and len(failed) == len(children):
        raise DependencyFailedError("; ".join(map(_describe_failure, failed)), failed[0], failed)
    if mode in (ReturnWhen.ALL_ENDED, ReturnWhen.ALL_SUCCEEDED) and len(ended) < len(children):
        raise DependencyTimeoutError(f"timed out waiting for {', '.join(map(repr, children))}")
    return ended


def _describe_failure(child: Execution) -> str:
    r = child._record or {}
    if r.get("type") == "CONNECTION":
        what = f"connection '{r.get('connector_name') or r.get('connector_type')}'"
    else:
        what = f"flow '{r.get('flow_name') or r.get('name')}'"
    status = flow_status(r.get("status"))
    text = f"child {what} (execution {child._key}) ended {status}"
    return f"{text}: {r['message']}" if r.get("message") else text


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _log_repr(value: Any) -> str:
    try:  # json.dumps' own separators: `{"a": 1}` reads better in a log than `{"a":1}`
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _text(message: Any) -> Optional[str]:
    return None if message is None else str(message)


def _timestamp(when: Union[datetime.datetime, str, float]) -> float:
    if isinstance(when, (int, float)):
        return float(when)
    if isinstance(when, str):
        try:
            when = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise FlowApiError(f"sleep_until() cannot read the time '{when}' (ISO 8601 expected)") from None
    if isinstance(when, datetime.datetime):
        return when.timestamp()
    raise FlowApiError(f"sleep_until() takes a datetime, an ISO string or a timestamp, not {type(when).__name__}")


__all__ = ["Execution", "LifecycleSignal", "Wrapped"]
