# Generated from server/catalogue.ts by server/stubgen.ts. Do not edit: run `npx tsx server/stubgen.ts`.
"""flow_api: the Execution API of Flows for VS Code."""

import datetime
from typing import Any, Final, NoReturn


class FlowApiError(Exception):
    """A flow_api call could not be carried out (the runner refused it, or it was misused)."""


class DependencyFailedError(FlowApiError):
    """A child execution the flow waited for did not succeed; its `execution` attribute is the child."""

STATUSES: Final[tuple[str, ...]]
"""The execution status names: CREATED, QUEUED, SCHEDULED, BLOCKED, RUNNING, PAUSED, SUCCEEDED, FAILED, STOPPED, INVALID, PARTIAL_SUCCEEDED."""

PLATFORM_STATUS: Final[dict[str, str]]
"""Maps the platform status names ENDED_SUCCESS, ENDED_ERROR and ENDED_CANCELLED to SUCCEEDED, FAILED and STOPPED."""


class Execution:
    """An automation (flow, script, or connection) which is or was running. A handler receives its own execution as `this`."""

    def cancel(self) -> Execution:
        """On the running flow: ends it now as STOPPED. On a child: stops that child and returns it."""
        ...

    def children(self) -> list[Execution]:
        """Returns the child executions, as a list."""
        ...

    def connect(self, connector_name: str | None = None, *, connector_type: str | None = None, run: bool = True, wait: bool = True, name: str | None = None, input_value: Any = None, is_productive: bool | None = None, priority: int | None = None, max_runtime_minutes: int | None = None, scheduled_for: datetime.datetime | str | None = None, **params: Any) -> Execution:
        """Runs a connector as a CONNECTION child execution: a named connector of the workspace (`.flows/config.json`) or a built-in type (REST, SQLITE, SHELL). By default waits for it and returns it; its `output_value` holds the result, and a failed connection raises `DependencyFailedError`. Record fields (`name=`, `priority=`, …) configure the child; other keywords are the connector's parameters."""
        ...

    def error(self, message: str | None = None) -> NoReturn:
        """Ends the running execution now as FAILED with the message. Use as `return this.error("why")`."""
        ...

    def flow(self, flow_name: str, *, run: bool = True, wait: bool = True, inputs: dict[str, Any] | None = None, name: str | None = None, input_value: Any = None, is_productive: bool | None = None, priority: int | None = None, max_runtime_minutes: int | None = None, scheduled_for: datetime.datetime | str | None = None, **kwargs: Any) -> Execution:
        """Starts the flow as a FLOW child execution. By default waits for it and returns the child; a failed child raises `DependencyFailedError`. `run=False` returns it unstarted, `wait=False` fires and forgets. Execution fields (`priority=`, `max_runtime_minutes=`, …) configure the child; other keyword arguments are its inputs."""
        ...

    def get(self, *fields: str) -> Any:
        """Reads fields of the execution record: `get("input_value")` returns one value, `get("status", "message")` a list of values, `get()` the whole record as a dict. Other executions are read fresh from the runner."""
        ...

    def get_dict(self) -> dict[str, Any]:
        """Returns the execution record as a dict of field names to values."""
        ...

    def load(self, *fields: str) -> Any:
        """Like `get`, but always reloads the record from the runner first."""
        ...

    def log(self, *args: Any, level: str | None = None) -> None:
        """Writes one line to the execution's log."""
        ...

    def parent(self) -> Execution | None:
        """Returns the execution which started this one, or `None` for a top-level execution."""
        ...

    def pause(self) -> Execution:
        """On the running flow: waits (status PAUSED) until resumed. On a child: pauses that child."""
        ...

    def run(self) -> Execution:
        """Starts an execution created with `run=False`, waits for it and returns it."""
        ...

    def run_async(self) -> Execution:
        """Starts an execution created with `run=False` without waiting for it, and returns it."""
        ...

    def save(self, *, output_value: Any = ..., message: str = ..., name: str = ...) -> Execution:
        """Updates fields of the execution record (`output_value`, `message`, `name`), e.g. `this.save(output_value={"id": 1})`. Returns the execution."""
        ...

    def set_output(self, key: str, value: Any) -> Execution:
        """Sets one key of `output_value` (a dict), keeping the others, and saves it."""
        ...

    def sleep(self, seconds: float) -> None:
        """Sleeps for the given number of seconds (status BLOCKED meanwhile)."""
        ...

    def sleep_until(self, when: datetime.datetime | str | float) -> None:
        """Sleeps until the given point in time (status BLOCKED meanwhile)."""
        ...

    def success(self, message: str | None = None) -> NoReturn:
        """Ends the running execution now as SUCCEEDED with the message. Use as `return this.success("done")`."""
        ...

    def task(self, connector_type: str, **params: Any) -> Execution:
        """The older name of `connect`, with the connector type given first: `this.task("REST", url=…)`."""
        ...

    def top(self) -> Execution:
        """Returns the top-level execution of this execution tree."""
        ...

    def wait(self, timeout: float | None = None) -> Execution:
        """Waits until this child has ended and returns it; raises `DependencyFailedError` if it failed."""
        ...

    def wait_for(self, *children: Execution, timeout: float | None = None) -> list[Execution]:
        """Waits until all the given children have ended and returns them as a list; raises `DependencyFailedError` naming every child that failed."""
        ...

    def webhook_html_response(self, html: str, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        """Sets the HTML response of the webhook call which started this execution."""
        ...

    def webhook_json_response(self, data: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        """Sets the JSON response of the webhook call which started this execution."""
        ...

    def webhook_response(self, body: str | bytes = '', status_code: int = 200, headers: dict[str, str] | None = None, content_type: str = 'text/plain') -> None:
        """Sets the response of the webhook call which started this execution."""
        ...


class System:
    """Access to the records of the workspace. A handler receives it as `system`."""

    def execution(self, id: int | str) -> Execution:
        """Returns the execution with the given ID."""
        ...

    def file(self, name: str) -> File:
        """Returns the file with the given name (it need not exist yet)."""
        ...

    def flow(self, name: str) -> Flow:
        """Returns the flow record with the given name."""
        ...

    def get_own_user(self) -> User:
        """Returns the user the execution runs as."""
        ...

    def message(self, subject: str, body: Any = None, message_type: str = 'POPUP') -> Message:
        """Sends a message (or form) to the user, answered in VS Code. Call `.wait()` to wait for the response."""
        ...

    def setting(self, name: str) -> Setting:
        """Returns the setting with the given name (it need not exist yet)."""
        ...


class Setting:
    """A named value kept by the runner for the workspace, shared by all flows."""

    def delete(self) -> bool:
        """Deletes the setting; returns whether it existed."""
        ...

    def exists(self) -> bool:
        """Returns whether the setting exists."""
        ...

    def get(self) -> Any:
        """Returns the value of the setting."""
        ...

    def save(self, value: Any) -> Setting:
        """Stores a new value (anything JSON can hold) for the setting, creating it if needed."""
        ...


class File:
    """A text file in the workspace's files folder."""

    def delete(self) -> bool:
        """Deletes the file; returns whether it existed."""
        ...

    def exists(self) -> bool:
        """Returns whether the file exists."""
        ...

    def get_text(self, encoding: str = 'utf-8') -> str:
        """Returns the content of the file as text."""
        ...

    def save_text(self, text: str, encoding: str = 'utf-8') -> File:
        """Writes text to the file, creating it (and its folders) if needed."""
        ...


class Flow:
    """A flow file in the flows folder."""

    def exists(self) -> bool:
        """Returns whether the flow exists."""
        ...

    def get(self, field: str = 'script') -> Any:
        """Returns a field of the flow (by default `script`)."""
        ...


class Message:
    """A message (form) shown to the user, created with `system.message(…)`; its response arrives when the user answers."""

    def get(self, field: str = 'response') -> Any:
        """Returns a field of the message (by default `response`)."""
        ...

    def wait(self, timeout: float | None = None) -> Message:
        """Waits until the message has been answered and returns it; read the answer with `.get('response')`."""
        ...


class User:
    """A user of the workspace (locally: the operating-system user)."""

    def get(self, field: str = 'name') -> Any:
        """Returns a field of the user (by default `name`)."""
        ...
