"""How an exception that escaped a flow is reported: the ``error`` object of the end message.

The traceback is trimmed to the flow's own frames: the worker and flow_api frames around them
are noise to the person reading it, and ``filename``/``line`` point at the deepest flow line.
"""

import os
import traceback

# flow_api and flows_worker live here; their frames are never the flow's own, even when the
# flows folder contains this folder (developing the extension in its own workspace).
_OUR_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "")


def describe(exc, flow_filename, flows_dir):
    """The ``error`` object for ``exc`` raised while running the flow ``flow_filename``."""
    own = _own_frame_test(flow_filename, flows_dir)
    summary = traceback.TracebackException.from_exception(exc)
    seen = set()
    pending = [summary]
    while pending:  # the exception and its __cause__/__context__ chain
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        kept = [frame for frame in current.stack if own(frame.filename)]
        if kept:
            current.stack = traceback.StackSummary.from_list(kept)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    deepest = next((f for f in reversed(summary.stack) if own(f.filename)), None)
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(summary.format()),
        "filename": deepest.filename if deepest else None,
        "line": deepest.lineno if deepest else None,
    }


def one_line(exc):
    """``ZeroDivisionError: division by zero``: the status message of a failed execution."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]


def _own_frame_test(flow_filename, flows_dir):
    # The flow itself, and modules the flow imports from its own folder (but not a virtual
    # environment that happens to live there).
    folder = os.path.join(os.path.realpath(flows_dir), "") if flows_dir else None

    def own(filename):
        if filename == flow_filename:
            return True
        if folder is None or "site-packages" in filename:
            return False
        path = os.path.realpath(filename)
        return path.startswith(folder) and not path.startswith(_OUR_ROOT)

    return own
