"""Deprecated platform API: it keeps working, says so each time it is called, and names its
replacement.

The platform adds a deprecation note to a flow API method before removing it: every call of the
method by an execution writes a note to that execution's log, so searching the logs for
"deprecat" finds the flows to migrate (https://docs.cloudomation.com/engine/11/docs/deprecations).
:func:`deprecated` does the same here, and also issues a ``DeprecationWarning`` for Python's own
tooling. It is the one place deprecation is declared: ``runner/python/tools/gen_api.py`` reads
``__deprecated__`` (PEP 702's attribute) and ``__replacement__`` into the editor's catalogue and
the type stubs, so the editor strikes the call through and its hover names the replacement.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, TypeVar

from . import _context

F = TypeVar("F", bound=Callable[..., Any])


def deprecated(replacement: str, usage: str) -> Callable[[F], F]:
    """Mark a method deprecated in favour of the method ``replacement`` of the same class.

    ``usage`` is how to call the replacement instead (``connect(connector_type=...)``).
    """

    def decorate(fn: F) -> F:
        message = f"{fn.__name__}() is deprecated and will be removed: use {usage} instead"

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            if _context.attached():
                _context.current_context().log("log", f"[WARNING] Deprecated: {message}.")
            return fn(*args, **kwargs)

        wrapper.__deprecated__ = message  # type: ignore[attr-defined]
        wrapper.__replacement__ = (replacement, usage)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
