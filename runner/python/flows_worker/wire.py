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


#: The limits of protocol/limits.ts (keep them equal): a JSON value the runner accepts nests at
#: most MAX_JSON_DEPTH levels (the outer object or array is level 1); lines between the runner
#: and its Python processes wrap such values a few levels deeper, up to MAX_WIRE_DEPTH.
MAX_JSON_DEPTH = 64
MAX_WIRE_DEPTH = MAX_JSON_DEPTH + 8
#: The largest output_value a flow may end with, in bytes of JSON (protocol/limits.ts).
MAX_OUTPUT_BYTES = 4 * 1024 * 1024


class TooDeep(ValueError):
    """A JSON text or value nested deeper than the limit (``path``: where, from the root)."""

    def __init__(self, path, limit):
        self.path = path
        self.limit = limit
        super().__init__(f"{format_path(path)}: nested deeper than {limit} levels")


def format_path(path, shown=5):
    """``a.b.0.c``, shortened to its first levels when deep (as protocol/limits.ts does)."""
    if not path:
        return "value"
    head = ".".join(str(p) for p in path[:shown])
    return head + ".…" if len(path) > shown else head


def check_depth(value, limit=MAX_JSON_DEPTH):
    """Raise TooDeep at the first spot of ``value`` nested deeper than ``limit``; no recursion."""
    if not isinstance(value, (dict, list, tuple)):
        return
    stack = [(value, 1, None)]  # (value, depth, (key, parent entry) chain for the path)
    while stack:
        entry = stack.pop()
        v, depth, chain = entry
        if depth > limit:
            path = []
            while chain is not None:
                key, chain = chain
                path.append(key)
            raise TooDeep(path[::-1], limit)
        items = v.items() if isinstance(v, dict) else enumerate(v)
        children = [
            (c, depth + 1, (k, chain)) for k, c in items if isinstance(c, (dict, list, tuple))
        ]
        stack.extend(reversed(children))


def loads(text, limit=MAX_WIRE_DEPTH):
    """json.loads within the depth limit: ValueError (TooDeep, or not JSON) for anything else.

    json.loads itself stops at the interpreter's recursion limit with a RecursionError, which is
    not a ValueError: it, too, becomes TooDeep here."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep([], limit) from None
    check_depth(value, limit)
    return value


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
