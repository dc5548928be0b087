"""Variables of the debugger: DAP variable objects, lazy expansion and paging."""

import reprlib

_repr = reprlib.Repr()
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
    try:
        return _repr.repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the debugger
        return f"<repr failed: {type(exc).__name__}: {exc}>"


def expandable(value):
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
        var = {"name": str(name), "value": short_repr(value), "type": type(value).__name__, "variablesReference": 0}
        if evaluate_name:
            var["evaluateName"] = evaluate_name
        if expandable(value):
            var["variablesReference"] = self.add("value", value)
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
