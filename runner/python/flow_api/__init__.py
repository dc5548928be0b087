"""flow_api: the Execution API flows are written against, as on the hosted platform.

A flow is a Python file with ``def handler(system, this)`` (or ``handler(system, this, inputs)``)::

    import flow_api

    def handler(system: flow_api.System, this: flow_api.Execution):
        limit = system.setting('limit').get('value')
        child = this.flow('my-child-flow', limit=limit)
        this.connect(connector_type='REST', url='https://example.com')
        return this.success('all done')

This package holds the API only; the worker that runs flows lives in ``flows_worker``. Every
class, method and constant here is annotated and documented: the editor's completions and the
``.pyi`` stubs are generated from it. Status names inside flows: see :mod:`flow_api.statuses`.
"""

from . import exceptions
from .exceptions import (
    CloudomationException,
    DependencyFailedError,
    DependencyTimeoutError,
    EngineException,
    ExecutionCancel,
    ExecutionError,
    ExecutionSuccess,
    ExtraInputError,
    FlowApiError,
    InternalError,
    InvalidInputError,
    LifecycleSignal,
    LockTimeoutError,
    MessageResponseTimeoutError,
    MissingInputError,
    PermissionDenied,
    ResourceNotFoundError,
    SchemaValidationError,
    TimeoutExceededError,
)
from .execution import Execution, Wrapped
from .records import FILTER_OPS, Record
from .resources import Client, Connection, File, Flow, Message, Schedule, Setting, User, VaultConfig, Webhook
from .return_when import ReturnWhen
from .statuses import PLATFORM_STATUS, STATUSES
from .system import System

__all__ = [
    "Client",
    "CloudomationException",
    "Connection",
    "DependencyFailedError",
    "DependencyTimeoutError",
    "EngineException",
    "Execution",
    "ExecutionCancel",
    "ExecutionError",
    "ExecutionSuccess",
    "ExtraInputError",
    "FILTER_OPS",
    "File",
    "Flow",
    "FlowApiError",
    "InternalError",
    "InvalidInputError",
    "LifecycleSignal",
    "LockTimeoutError",
    "Message",
    "MessageResponseTimeoutError",
    "MissingInputError",
    "PLATFORM_STATUS",
    "PermissionDenied",
    "Record",
    "ResourceNotFoundError",
    "ReturnWhen",
    "STATUSES",
    "Schedule",
    "SchemaValidationError",
    "Setting",
    "System",
    "TimeoutExceededError",
    "User",
    "VaultConfig",
    "Webhook",
    "Wrapped",
    "exceptions",
]
