"""Variables of the debugger: DAP variable objects, lazy expansion and paging."""

import reprlib

from flow_api import _context
from flow_api.records import Record
from flow_api.system import System

class _Repr(reprlib.Repr):
    def repr_instance(self, x, level):
        # flow_api objects inside a container read as they do alone ("[Execution 'a' (QUEUED)]").
        view = record_view(x)
        return view.summary if view is not None else super().repr_instance(x, level)


_repr = _Repr()
_repr.maxlevel = 3
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdeque = 50
_repr.maxdict = 30
_repr.maxstring = 500
_repr.maxlong = 200
_repr.maxother = 500

# Above this many items a container reports indexedVariables / namedVariables (client pages).
PAGE_THRESHOLD = 100

_SCALARS = (str, bytes, bytearray, int, float, complex, bool, type(None))


def short_repr(value):
    view = record_view(value)
    if view is not None:
        return view.summary
    try:
        return _repr.repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the debugger
        return f"<repr failed: {type(exc).__name__}: {exc}>"


def expandable(value):
    if isinstance(value, (Text, RecordView)):
        return isinstance(value, RecordView)
    if record_view(value) is not None:
        return True
    if isinstance(value, _SCALARS):
        return False
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return len(value) > 0
    try:
        return bool(getattr(value, "__dict__", None))
    except Exception:  # noqa: BLE001
        return False


class Refs:
    """variablesReference -> container, valid while the thread stays stopped."""

    def __init__(self):
        self._next = 1
        self._items = {}

    def clear(self):
        self._items.clear()

    def add(self, kind, obj, frame=None):
        ref = self._next
        self._next += 1
        self._items[ref] = (kind, obj, frame)
        return ref

    def get(self, ref):
        return self._items.get(ref)

    def variable(self, name, value, evaluate_name=None):
        view = record_view(value)
        kind = view.type_name if view else "str" if isinstance(value, Text) else type(value).__name__
        var = {"name": str(name), "value": short_repr(value), "type": kind, "variablesReference": 0}
        if evaluate_name:
            var["evaluateName"] = evaluate_name
        if expandable(value):
            var["variablesReference"] = self.add("value", view or value)
            if isinstance(value, (list, tuple)) and len(value) > PAGE_THRESHOLD:
                var["indexedVariables"] = len(value)
            elif isinstance(value, (dict, set, frozenset)) and len(value) > PAGE_THRESHOLD:
                var["namedVariables"] = len(value)
        return var


def children(container, flt=None):
    """[(name, value, key)] of a container; key is what setVariable writes to."""
    if isinstance(container, (list, tuple)):
        if flt == "named":
            return []
        return [(str(i), v, i) for i, v in enumerate(container)]
    if flt == "indexed":
        return []
    if isinstance(container, RecordView):
        return [(k, v, None) for k, v in container.items]
    if isinstance(container, dict):
        return [(short_repr(k) if not isinstance(k, str) else repr(k), v, k) for k, v in container.items()]
    if isinstance(container, (set, frozenset)):
        return [(str(i), v, None) for i, v in enumerate(container)]
    try:
        attrs = vars(container)
    except TypeError:
        return []
    return [(k, v, k) for k, v in attrs.items() if not k.startswith("__")]


def page(items, start=None, count=None):
    start = start or 0
    if count:
        return items[start : start + count]
    return items[start:]


# ----- flow_api objects: what they are to the user, not their private attributes --------------

#: While the debugger holds the flow, the runner shows it PAUSED; to the flow it is RUNNING.
STOPPED_NOTE = "stopped in the debugger"

#: Fields of an execution record in the order the Variables view lists them; the rest follow.
EXECUTION_ORDER = (
    "id", "name", "status", "type", "flow_name", "input_value", "output_value", "message",
    "is_productive", "priority", "parent_execution_id", "top_execution_id", "schedule_id",
    "created_at", "started_at", "ended_at",
)
#: Shown even when empty: what a user looks for first.
ALWAYS_SHOWN = ("id", "name", "status", "input_value", "output_value", "message")


class Text:
    """A value shown as its text, without quotes ("RUNNING (stopped in the debugger)")."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


class RecordView:
    """A flow_api object as the Variables view shows it: a summary and named fields (read-only:
    no __dict__, so setVariable refuses it)."""

    __slots__ = ("summary", "type_name", "items")

    def __init__(self, summary, type_name, items):
        self.summary = summary
        self.type_name = type_name
        self.items = items


def execution_fields(record, this=False):
    """[(name, value)] of an execution record; for the debugged flow's own, its status as the
    flow sees it, with a note that the debugger holds it."""
    record = dict(record or {})
    if this:
        record["status"] = Text(f"RUNNING ({STOPPED_NOTE})")
    names = [k for k in EXECUTION_ORDER if k in ALWAYS_SHOWN or record.get(k) is not None]
    names += sorted(k for k, v in record.items() if k not in EXECUTION_ORDER and v is not None)
    return [(k, record.get(k)) for k in names]


def record_view(value):
    """The RecordView of `this`, `system` or another flow_api record; None for anything else.

    Reads only what the object holds already: a variables request never calls the runner."""
    if isinstance(value, (Text, RecordView)):
        return None
    try:
        if isinstance(value, System):
            return _system_view()
        if isinstance(value, Record):
            return _record_view(value)
    except Exception:  # noqa: BLE001 - a view must never break the debugger; fall back to vars()
        return None
    return None


def _record_view(rec):
    kind = type(rec).__name__
    record = dict(rec.__dict__.get("_record") or {})
    key, by = rec.__dict__.get("_key"), rec.__dict__.get("_by")
    if key is not None and record.get(by) is None:
        record[by] = key
    this = bool(rec.__dict__.get("_is_this"))
    if kind == "Execution":
        items = execution_fields(record, this)
        status = f"RUNNING, {STOPPED_NOTE}" if this else record.get("status")
        summary = f"Execution {record.get('name') or key!r}" + (f" ({status})" if status else "")
        return RecordView(summary, kind, items)
    items = [(k, v) for k, v in record.items() if v is not None]
    if not rec.__dict__.get("_record"):
        items.append(("(not read yet)", Text("call .get() to read it from the runner")))
    return RecordView(f"{kind} {record.get('name') or key!r}", kind, items)


def _system_view():
    items = [("environment", "local")]
    if _context.attached():
        context = _context.current_context()
        items = [
            ("execution_id", context.execution_id),
            ("flows_folder", context.flows_dir),
            ("files_folder", context.files_dir),
            *items,
        ]
    return RecordView("System (the workspace the flow runs in)", "System", items)
