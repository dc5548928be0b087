"""JSON on the worker's socket: one encoder for every message, and how error replies become the
flow_api exceptions a flow can catch."""

import datetime
import decimal
import json

from flow_api import exceptions


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


#: The ``code`` of an error reply (docs/worker-protocol.md) -> the exception a flow sees.
ERROR_CODES = {
    "not_found": exceptions.ResourceNotFoundError,
    "lock_timeout": exceptions.LockTimeoutError,
    "timeout": exceptions.TimeoutExceededError,
    "permission": exceptions.PermissionDenied,
    "invalid": exceptions.FlowApiError,
}


def error_from_reply(method, error):
    """The exception for an error reply to ``method``."""
    if isinstance(error, dict):
        message, code = error.get("message"), error.get("code")
    else:
        message, code = str(error), None
    cls = ERROR_CODES.get(code, exceptions.FlowApiError)
    # A missing record speaks for itself; other messages say which call failed.
    return cls(message if cls is not exceptions.FlowApiError else f"{method}: {message}")
