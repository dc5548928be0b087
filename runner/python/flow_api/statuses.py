"""Execution statuses and types: the one list the runner, the editor and flows share.

The runner, its REST API, the runs API and the editor use the names of :data:`STATUSES`
(SUCCEEDED, FAILED, ...). The TypeScript side does not copy this list: it is generated from this
module (``npm run generate``), and a test fails when the generated file is stale.

Flows written for the platform compare with the platform's names (``'ENDED_SUCCESS'``,
``'ENDED_ERROR'``, ``'ENDED_CANCELLED'``, ``'TASK'``). Inside a flow, ``execution.get('status')``
and ``get('type')`` therefore return an :class:`AliasName`: a ``str`` whose text is the
platform's name (:data:`FLOW_STATUS_NAMES`, :data:`FLOW_TYPE_NAMES`) and which also compares
equal to the runner's name, so ``status == 'ENDED_SUCCESS'``, ``status == 'SUCCEEDED'`` and
``status in ('PAUSED', 'ENDED_SUCCESS')`` all hold for a succeeded child. This table is the one
place the mapping is written down.
"""

from __future__ import annotations

from typing import Final, Optional

#: Every status an execution can have, in lifecycle order (the runner's names).
STATUSES: Final[tuple[str, ...]] = (
    "CREATED",
    "QUEUED",
    "SCHEDULED",
    "BLOCKED",
    "RUNNING",
    "PAUSED",
    "SUCCEEDED",
    "FAILED",
    "STOPPED",
    "INVALID",
    "PARTIAL_SUCCEEDED",
)

#: What each status means (shown by the editor).
STATUS_DOCS: Final[dict[str, str]] = {
    "CREATED": "Created, not yet queued (e.g. a child started with `run=False`).",
    "QUEUED": "Waiting for a worker.",
    "SCHEDULED": "Waiting for a point in time (`scheduled_for`).",
    "BLOCKED": "Waiting on a child, a lock, a sleep or a message form.",
    "RUNNING": "Running.",
    "PAUSED": "Paused by a breakpoint or by the user.",
    "SUCCEEDED": "Ended successfully (ENDED_SUCCESS inside flows).",
    "FAILED": "Ended with an error (ENDED_ERROR inside flows).",
    "STOPPED": "Cancelled (ENDED_CANCELLED inside flows).",
    "INVALID": "Rejected input, or a flow that cannot be loaded (ENDED_ERROR inside flows).",
    "PARTIAL_SUCCEEDED": "A batch of the runs API whose items partly failed.",
}

#: Statuses after which an execution never changes again.
ENDED_STATUSES: Final[frozenset[str]] = frozenset(
    {"SUCCEEDED", "FAILED", "STOPPED", "INVALID", "PARTIAL_SUCCEEDED"}
)

#: Runner status -> the name a flow sees; statuses missing here keep their name.
FLOW_STATUS_NAMES: Final[dict[str, str]] = {
    "SUCCEEDED": "ENDED_SUCCESS",
    "FAILED": "ENDED_ERROR",
    "STOPPED": "ENDED_CANCELLED",
    "INVALID": "ENDED_ERROR",
    "BLOCKED": "WAITING",
    "QUEUED": "PENDING",
}

#: Execution types (the runner's names).
TYPES: Final[tuple[str, ...]] = ("FLOW", "SCRIPT", "CONNECTION", "SCHEDULE")
#: Runner type -> the older name a flow may also compare it with.
FLOW_TYPE_NAMES: Final[dict[str, str]] = {"CONNECTION": "TASK"}

#: The platform's ended names and the runner status each stands for (kept for older flows).
PLATFORM_STATUS: Final[dict[str, str]] = {
    "ENDED_SUCCESS": "SUCCEEDED",
    "ENDED_ERROR": "FAILED",
    "ENDED_CANCELLED": "STOPPED",
}


class AliasName(str):
    """A status or type as a flow sees it: the platform's name, equal to the runner's too.

    Its text (``str()``, JSON, logs) is the platform's name; ``==``, ``!=`` and ``in`` with a
    list or tuple accept either name. Hashing uses the platform's name, so a set or dict lookup
    matches that one.
    """

    __slots__ = ("alias",)
    alias: str

    def __new__(cls, text: str, alias: str) -> "AliasName":
        self = super().__new__(cls, text)
        self.alias = alias
        return self

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other) is True or (isinstance(other, str) and other == self.alias)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return str.__repr__(str(self))

    def __reduce__(self):  # copy/pickle keep the plain text
        return (str, (str(self),))


def flow_status(status: Optional[str]) -> Optional[str]:
    """The runner's ``status`` as a flow sees it (see the module docs)."""
    if status is None or isinstance(status, AliasName):
        return status
    name = FLOW_STATUS_NAMES.get(status)
    return AliasName(name, status) if name else status


def flow_type(type_: Optional[str]) -> Optional[str]:
    """The runner's execution ``type`` as a flow sees it: CONNECTION is also TASK."""
    if type_ is None or isinstance(type_, AliasName):
        return type_
    alias = FLOW_TYPE_NAMES.get(type_)
    return AliasName(type_, alias) if alias else type_


def runner_status(name: str) -> str:
    """The runner's name for a status a flow wrote in either vocabulary."""
    if isinstance(name, AliasName):
        return name.alias
    upper = str(name).upper()
    return PLATFORM_STATUS.get(upper) or next(
        (k for k, v in FLOW_STATUS_NAMES.items() if v == upper and k in STATUSES), upper
    )
