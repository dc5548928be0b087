"""The link between flow_api objects and the worker process that runs the flow.

flow_api itself knows nothing about sockets or processes: the worker installs a channel and the
Job here before the handler runs. Importing flow_api elsewhere (type checkers, the language
server, unit tests) therefore works, and calls fail with one clear FlowApiError.
"""

import datetime
import decimal
import json

from .errors import FlowApiError


class EndExecution(BaseException):
    """Ends the running execution at once (``success()``, ``error()``, ``cancel()``).

    A BaseException, not an Exception, so that ``except Exception`` in a flow cannot swallow it.
    """

    def __init__(self, status, message=None):
        super().__init__(status, message)
        self.status = status
        self.message = message


class _DetachedChannel:
    """Stands in for the worker's channel when flow_api is imported outside a worker."""

    def call(self, method, params):
        raise FlowApiError(
            "flow_api is not connected to a Flows runner: run the flow from VS Code or the flows CLI"
        )

    def send(self, message):
        self.call(message.get("type"), message)

    def log(self, stream, text):
        print(text)  # this.log() in a flow imported by a plain script or a unit test

    def wait_resume(self):
        self.call("resume", {})


#: Set by the worker: an object with call(method, params), send(message) and wait_resume().
channel = _DetachedChannel()
#: Set by the worker: the Job dict (see docs/worker-protocol.md).
job = {}


def json_default(value):
    """``default`` for json: datetimes, sets and decimals, which flows naturally pass around."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder for every message: json.dumps with options builds a new one per call.
_encoder = json.JSONEncoder(default=json_default, separators=(",", ":"), ensure_ascii=False)


def dumps(value):
    """JSON text of ``value`` (one line), converting datetimes, sets and decimals."""
    return _encoder.encode(value)


def call(method, params):
    """One request to the runner; returns its result or raises FlowApiError."""
    return channel.call(method, params)
