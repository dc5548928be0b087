"""flow_api: the API flows are written against, as on the hosted platform.

A flow is a Python file with ``def handler(system, this)`` (or ``handler(system, this, inputs)``)::

    import flow_api

    def handler(system: flow_api.System, this: flow_api.Execution):
        child = this.flow('my-child-flow', custom_parameter='value')
        this.connect(connector_type='REST', url='https://example.com')
        return this.success('all done')

Statuses: see :data:`STATUSES`; the platform's ENDED_SUCCESS / ENDED_ERROR / ENDED_CANCELLED are
SUCCEEDED / FAILED / STOPPED here (:data:`PLATFORM_STATUS`).
"""

from .errors import DependencyFailedError, FlowApiError
from .execution import Execution
from .statuses import PLATFORM_STATUS, STATUSES
from .system import File, Flow, Message, Setting, System, User

__all__ = [
    "DependencyFailedError",
    "Execution",
    "File",
    "Flow",
    "FlowApiError",
    "Message",
    "PLATFORM_STATUS",
    "STATUSES",
    "Setting",
    "System",
    "User",
]
