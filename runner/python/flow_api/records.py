"""Records: the one way flows reach settings, files, flows, connections, executions, ...

Every record type is reached the same way (the platform's record API)::

    setting = system.setting('my-setting')          # a handle; nothing is read yet
    value = setting.get('value')                    # one field -> its value
    name, value = setting.get('name', 'value')      # several fields -> a list, in order
    everything = setting.get()                      # no field -> the whole record (a dict)
    setting.load('value')                           # like get, but read fresh from the runner
    setting.save(value=42)                          # create or update
    setting.exists(); setting.delete(); setting.archive()
    system.setting('other', value=1)                # init fields: create or update at once

``get``/``load`` of a record that does not exist raise :class:`ResourceNotFoundError`.
Listings (``system.settings(filter=...)``) yield records of the same classes.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Callable, ClassVar, Dict, Iterable, Iterator, List, Optional, TypeVar, Union

from . import _context
from .exceptions import FlowApiError

R = TypeVar("R", bound="Record")

#: A listing filter: ``{'field': 'name', 'op': 'like', 'value': 'backup-%'}``; combine with
#: ``{'and': [...]}``, ``{'or': [...]}``, ``{'not': {...}}`` or a list (all must hold).
Filter = Union[Dict[str, Any], List[Any]]  # typing names: the runtime value must work on 3.8

#: Fields every record has (missing ones read as None).
COMMON_FIELDS: dict[str, str] = {
    "id": "The ID of the record.",
    "name": "The name of the record, unique per record type.",
    "description": "A description of what the record is and does.",
    "created_at": "When the record was created.",
    "created_by": "Who created the record.",
    "modified_at": "When the record was last changed.",
    "modified_by": "Who last changed the record.",
    "archived": "Whether the record is archived (listings leave it out).",
    "project_id": "The project of the record (not used by the local runner).",
    "bundle_id": "The bundle of the record (not used by the local runner).",
    "is_readonly": "Whether the record may be changed (not used by the local runner).",
}


class Record:
    """A record of the workspace: the base of every record class.

    Get one from ``system.<type>(name_or_id, by='name'|'id', **init)``; with init fields the
    record is created or updated at once.
    """

    #: The record type, as in ``system.<type>()``.
    RESOURCE: ClassVar[str] = "record"
    #: The fields of this record type and what they mean.
    FIELDS: ClassVar[dict[str, str]] = COMMON_FIELDS
    #: How ``select`` names the record unless ``by=`` says otherwise.
    DEFAULT_BY: ClassVar[str] = "name"

    def __init__(
        self,
        select: Optional[Union[str, int]] = None,
        by: Optional[str] = None,
        *,
        _record: Optional[dict[str, Any]] = None,
        **init: Any,
    ) -> None:
        by = by or self.DEFAULT_BY
        if by not in ("name", "id"):
            raise FlowApiError(f"by must be 'name' or 'id', not {by!r}")
        self._by = by
        self._key: Optional[str] = None if select is None else str(select)
        self._record: Optional[dict[str, Any]] = dict(_record) if _record is not None else None
        if init:
            self.save(**init)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._key!r}>"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._identity() == other._identity()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._identity()))

    def _identity(self) -> tuple[str, Optional[str]]:
        if self._record is not None and self._record.get("id") is not None:
            return ("id", str(self._record["id"]))
        return (self._by, self._key)

    # ----- reading -----------------------------------------------------------------------

    def get(self, *fields: str) -> Any:
        """Read fields of the record: one field gives its value, several a list of values in
        the same order, none the whole record as a dict.

        Reads the copy this handle holds (read from the runner on first use); raises
        ResourceNotFoundError if the record does not exist.
        """
        if self._record is None:
            self._record = self._fetch()
        return self._pick(self._record, fields)

    def load(self, *fields: str) -> Any:
        """Like :meth:`get`, but reads the record fresh from the runner first."""
        self._record = self._fetch()
        return self._pick(self._record, fields)

    def exists(self) -> bool:
        """Whether the record exists."""
        return self._exists()

    # ----- writing -----------------------------------------------------------------------

    def set(self: R, **fields: Any) -> R:
        """Change fields in this handle's copy only; :meth:`save` writes them."""
        if self._record is None:
            self._record = {}
        self._record.update(fields)
        return self

    def save(self: R, **fields: Any) -> R:
        """Create the record, or update the fields given (the others keep their values).

        Returns the record, so ``system.setting('x').save(value=1).get('id')`` works.
        """
        if self._key is None and fields.get("name") is not None:
            self._key, self._by = str(fields["name"]), "name"
        if self._key is None and self._by == "name":
            raise FlowApiError(f"a new {self.RESOURCE} needs a name: save(name='...')")
        record = self._store(fields)
        self._record = record
        if self._by == "name" and record.get("name") is not None:
            self._key = str(record["name"])
        return self

    def delete(self) -> None:
        """Delete the record (nothing happens if it does not exist)."""
        self._remove()
        self._record = None

    def archive(self: R) -> R:
        """Archive the record: it stays readable by name or id, listings leave it out."""
        self._record = self._call("record.archive", self._ident())
        return self

    # ----- what a record type implements -----------------------------------------------
    # Records the runner keeps (settings, connections, ...) use the record.* calls; files,
    # flows, users and clients are local and override these.

    def _ident(self) -> dict[str, Any]:
        if self._key is None:
            raise FlowApiError(f"this {self.RESOURCE} has no name or id yet: save(name='...') first")
        return {"type": self.RESOURCE, "key": self._key, "by": self._by}

    @staticmethod
    def _call(method: str, params: dict[str, Any]) -> Any:
        return _context.call(method, params)

    def _fetch(self) -> dict[str, Any]:
        return self._call("record.get", self._ident())

    def _exists(self) -> bool:
        return bool(self._call("record.exists", self._ident()))

    def _store(self, fields: dict[str, Any]) -> dict[str, Any]:
        params = {"type": self.RESOURCE, "key": self._key, "by": self._by, "fields": fields}
        return self._call("record.save", params)

    def _remove(self) -> None:
        self._call("record.delete", self._ident())

    @classmethod
    def _list(cls, include_archived: bool) -> Iterable[dict[str, Any]]:
        params = {"type": cls.RESOURCE, "include_archived": include_archived}
        return cls._call("record.list", params)["records"]

    def _present(self, name: str, value: Any) -> Any:
        """A field's value as the flow sees it (executions translate status names)."""
        return value

    def _pick(self, record: dict[str, Any], fields: tuple[str, ...]) -> Any:
        for field in fields:
            if field not in record and field not in self.FIELDS:
                known = ", ".join(sorted(set(self.FIELDS) | set(record)))
                raise FlowApiError(f"{self.RESOURCE} records have no field '{field}': use one of {known}")
        if not fields:
            return {k: self._present(k, v) for k, v in record.items()}
        values = [self._present(f, record.get(f)) for f in fields]
        return values[0] if len(values) == 1 else values

    def _filter_value(self, field: str, record: dict[str, Any]) -> Any:
        """What a listing filter compares for ``field`` of a listed ``record``."""
        return self._present(field, record.get(field))

    @classmethod
    def _listing(
        cls: type[R], filter: Optional[Filter], include_archived: bool = False, **list_args: Any
    ) -> Iterator[R]:
        matches = compile_filter(filter)
        for record in cls._list(include_archived, **list_args):
            handle = cls._from_record(record)
            if matches(lambda field, h=handle, r=record: h._filter_value(field, r)):
                yield handle

    @classmethod
    def _from_record(cls: type[R], record: dict[str, Any]) -> R:
        key = record.get("id") if record.get("id") is not None else record.get("name")
        by = "id" if record.get("id") is not None else "name"
        return cls(key, by, _record=record)


# ----- listing filters ---------------------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a is not None and a < b,
    "le": lambda a, b: a is not None and a <= b,
    "gt": lambda a, b: a is not None and a > b,
    "ge": lambda a, b: a is not None and a >= b,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
    "like": lambda a, b: a is not None and _like(str(a), str(b), False),
    "ilike": lambda a, b: a is not None and _like(str(a), str(b), True),
    "not_like": lambda a, b: a is None or not _like(str(a), str(b), False),
    "contains": lambda a, b: a is not None and b in a,
    "startswith": lambda a, b: a is not None and str(a).startswith(str(b)),
    "endswith": lambda a, b: a is not None and str(a).endswith(str(b)),
    "is_null": lambda a, b: (a is None) == bool(True if b is None else b),
    "glob": lambda a, b: a is not None and fnmatch.fnmatchcase(str(a), str(b)),
}
#: The operators a listing filter accepts.
FILTER_OPS: tuple[str, ...] = tuple(_OPS)


def _like(text: str, pattern: str, ignore_case: bool) -> bool:
    # SQL LIKE: % is any run of characters, _ one character.
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def compile_filter(spec: Optional[Filter]) -> Callable[[Callable[[str], Any]], bool]:
    """A predicate over ``read(field)`` for a listing filter; FlowApiError names what is wrong."""
    if spec is None:
        return lambda read: True
    if isinstance(spec, (list, tuple)):
        parts = [compile_filter(s) for s in spec]
        return lambda read: all(p(read) for p in parts)
    if not isinstance(spec, dict):
        raise FlowApiError(f"filter must be a dict or a list of dicts, not {type(spec).__name__}")
    if "and" in spec or "or" in spec:
        key = "and" if "and" in spec else "or"
        parts = [compile_filter(s) for s in spec[key]]
        combine = all if key == "and" else any
        return lambda read: combine(p(read) for p in parts)
    if "not" in spec:
        inner = compile_filter(spec["not"])
        return lambda read: not inner(read)
    if "field" not in spec:
        raise FlowApiError("filter needs 'field', 'op' and 'value' (or 'and', 'or', 'not')")
    op = str(spec.get("op", "eq")).lower()
    test = _OPS.get(op)
    if test is None:
        raise FlowApiError(f"filter op '{op}' is unknown: use one of {', '.join(FILTER_OPS)}")
    field, value = str(spec["field"]), spec.get("value")

    def predicate(read: Callable[[str], Any]) -> bool:
        try:
            return bool(test(read(field), value))
        except TypeError:  # e.g. None < 3, or comparing a str with an int
            return False

    return predicate
