"""Execution statuses: the one vocabulary the runner, the editor and flows share."""

#: Every status an execution can have, in lifecycle order.
STATUSES = (
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

#: Statuses after which an execution never changes again.
ENDED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "INVALID", "PARTIAL_SUCCEEDED"})

#: The hosted platform's older status names and what they are called here. Flows ported from the
#: platform that compare against ``ENDED_SUCCESS`` etc. can translate with this mapping.
PLATFORM_STATUS = {
    "ENDED_SUCCESS": "SUCCEEDED",
    "ENDED_ERROR": "FAILED",
    "ENDED_CANCELLED": "STOPPED",
}
