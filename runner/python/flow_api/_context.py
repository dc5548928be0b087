"""How the API reaches the execution it runs in: one typed context, set by the worker.

flow_api holds no process-wide state of its own. The worker (``flows_worker``) builds an
:class:`ExecutionContext` for the execution it runs and installs it with :func:`install`; every
call of the API reads it through :func:`current_context`. Because it lives in a ``ContextVar``,
one process can run one execution after another (or tests can run several) without leaking
state between them. Threads a flow starts itself begin with an empty context, so the context of
the execution the process runs is also kept as the process default (``install`` sets both).
"""

from __future__ import annotations

import contextvars
from typing import Any, Optional, Protocol

from .exceptions import FlowApiError


class ExecutionContext(Protocol):
    """What the API needs from the worker that runs the execution."""

    #: The id of the running execution.
    execution_id: str
    #: The running execution's record as the runner sent it.
    record: dict[str, Any]
    #: The flows folder (flow names are paths in it) and the files folder of ``system.file``.
    flows_dir: str
    files_dir: str

    def call(self, method: str, params: dict[str, Any]) -> Any:
        """One request to the runner; returns its result or raises a flow_api exception."""
        ...

    def send(self, message: dict[str, Any]) -> None:
        """One message to the runner that needs no answer (a status change)."""
        ...

    def log(self, stream: str, text: str) -> None:
        """Log lines of ``stream`` ('log', 'stdout', 'stderr')."""
        ...

    def wait_resume(self) -> None:
        """Report PAUSED and block until the runner resumes the execution."""
        ...


_current: contextvars.ContextVar[Optional[ExecutionContext]] = contextvars.ContextVar(
    "flow_api_execution", default=None
)
_process_default: Optional[ExecutionContext] = None


def install(context: Optional[ExecutionContext]) -> contextvars.Token:
    """Make ``context`` the execution of this process (the worker calls it; None detaches)."""
    global _process_default
    _process_default = context
    return _current.set(context)


def current_context() -> ExecutionContext:
    """The context of the running execution, or FlowApiError outside a Flows worker."""
    context = _current.get() or _process_default
    if context is None:
        raise FlowApiError(
            "flow_api is not connected to a Flows runner: run the flow from VS Code or the flows CLI"
        )
    return context


def attached() -> bool:
    """Whether the API runs inside a Flows worker."""
    return (_current.get() or _process_default) is not None


def call(method: str, params: dict[str, Any]) -> Any:
    """One request to the runner through the current context."""
    return current_context().call(method, params)
