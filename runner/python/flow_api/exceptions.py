"""Exceptions a flow may see, as the platform names them (``flow_api.exceptions``).

The tree follows the platform's documentation: one base class (``EngineException``, called
``CloudomationException`` in older releases; both names work), timeouts under
``TimeoutExceededError``, and the connector input errors. The lifecycle signals that end an
execution (``this.success()``, ``this.error()``, ``this.cancel()``) derive from ``BaseException``
so that ``except Exception`` in a flow cannot swallow them; ``finally`` blocks still run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:  # pragma: no cover - only for the annotations
    from .execution import Execution


class EngineException(Exception):
    """The base class of every exception the platform raises in a flow."""


#: The name of :class:`EngineException` in older releases of the platform.
CloudomationException = EngineException


class FlowApiError(EngineException):
    """A flow_api call was misused or refused (a wrong argument, a runner that said no)."""


class InternalError(EngineException):
    """The runner failed to carry out a call because of an error of its own."""


class PermissionDenied(EngineException):
    """The flow may not do what it asked (e.g. change an execution that has ended)."""


class ResourceNotFoundError(EngineException):
    """A requested record does not exist (``get``/``load`` of a setting, file, flow, ...)."""


class DependencyFailedError(EngineException):
    """A child execution the flow waited for did not succeed.

    ``execution`` is that child; ``execution.get('status')`` and ``execution.get('message')``
    say how it ended. ``executions`` lists every failed child of the wait.
    """

    execution: Optional["Execution"]
    executions: list["Execution"]

    def __init__(
        self,
        message: str,
        execution: Optional["Execution"] = None,
        executions: Optional[Iterable["Execution"]] = None,
    ) -> None:
        super().__init__(message)
        self.execution = execution
        self.executions = list(executions) if executions is not None else ([execution] if execution else [])


class TimeoutExceededError(EngineException, TimeoutError):
    """A timeout ran out."""


class LockTimeoutError(TimeoutExceededError):
    """A setting used as a lock was not acquired within the timeout."""


class DependencyTimeoutError(TimeoutExceededError):
    """A child execution did not end within the time the flow waited for it."""


class MessageResponseTimeoutError(TimeoutExceededError):
    """Nobody answered a message (form) within the timeout."""


class MissingInputError(EngineException):
    """A connector needs an input that was not given."""


class InvalidInputError(EngineException):
    """An input of a connector has a value or type it does not accept."""


class ExtraInputError(EngineException):
    """A connector was given an input it does not know."""


class SchemaValidationError(EngineException):
    """Data did not match the schema it was checked against."""


class LifecycleSignal(BaseException):
    """Ends the running execution at once; not an ``Exception``, so flows cannot catch it.

    Raised by ``this.success()``, ``this.error()``, ``this.end()`` and ``this.cancel()``;
    ``status`` is the status the execution ends with, ``message`` its status message.
    """

    #: The status the execution ends with (the platform's name).
    status: str = "ENDED_SUCCESS"
    message: Optional[str]

    def __init__(self, message: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message


class ExecutionSuccess(LifecycleSignal):
    """The execution ends ENDED_SUCCESS (``this.success(message)``)."""

    status = "ENDED_SUCCESS"


class ExecutionError(LifecycleSignal):
    """The execution ends ENDED_ERROR (``this.error(message)``)."""

    status = "ENDED_ERROR"


class ExecutionCancel(LifecycleSignal):
    """The execution ends ENDED_CANCELLED (``this.cancel()``)."""

    status = "ENDED_CANCELLED"


__all__ = [
    "CloudomationException",
    "DependencyFailedError",
    "DependencyTimeoutError",
    "EngineException",
    "ExecutionCancel",
    "ExecutionError",
    "ExecutionSuccess",
    "ExtraInputError",
    "FlowApiError",
    "InternalError",
    "InvalidInputError",
    "LifecycleSignal",
    "LockTimeoutError",
    "MessageResponseTimeoutError",
    "MissingInputError",
    "PermissionDenied",
    "ResourceNotFoundError",
    "SchemaValidationError",
    "TimeoutExceededError",
]
