"""The record types of the workspace: settings, files, flows, connections, messages, ...

Settings, connections, vault configs, webhooks, schedules and messages are kept by the runner.
Files live in the runner's files folder and flows in the flows folder, so those two are read
and written here, as files; the user and the client are this machine's.
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import getpass
import os
import socket
import uuid
from typing import Any, ClassVar, Optional, Union

from . import _context
from .exceptions import FlowApiError, MessageResponseTimeoutError, ResourceNotFoundError, TimeoutExceededError
from .records import COMMON_FIELDS, R, Record


class Setting(Record):
    """A named value shared by all flows of the workspace; it doubles as a lock.

    ``system.setting('name').get('value')`` reads it, ``.save(value=...)`` writes it (anything
    JSON can hold). ``acquire()``/``release()`` use it as a lock held by the running execution.
    """

    RESOURCE: ClassVar[str] = "setting"
    FIELDS: ClassVar[dict[str, str]] = {
        **COMMON_FIELDS,
        "value": "The value of the setting: anything JSON can hold.",
    }

    def acquire(self, timeout: Optional[float] = None) -> "Setting":
        """Hold the lock named like this setting, waiting while another execution holds it.

        ``timeout`` is in seconds (None waits as long as it takes); when it runs out,
        LockTimeoutError is raised. The lock is released by :meth:`release` or when the
        execution ends, whichever comes first. Acquiring a lock the execution holds is a no-op.
        """
        params: dict[str, Any] = {"name": self._lock_name()}
        if timeout is not None:
            params["timeout"] = float(timeout)
        self._call("lock.acquire", params)
        return self

    def release(self) -> "Setting":
        """Release the lock if the running execution holds it."""
        self._call("lock.release", {"name": self._lock_name()})
        return self

    def _lock_name(self) -> str:
        if self._by == "id" and self._record is None:
            self.get()
        name = (self._record or {}).get("name") if self._by == "id" else self._key
        if not name:
            raise FlowApiError("a lock needs the setting's name: system.setting('name').acquire()")
        return str(name)


class Connection(Record):
    """A named connection: a connector type and its parameters, used by ``this.connect(name)``.

    ``system.connection('crm').save(connector_type='REST', value={'url': ...})`` stores it;
    ``this.connect('crm', path='/x')`` runs it with those parameters, overridden by the call's.
    """

    RESOURCE: ClassVar[str] = "connection"
    FIELDS: ClassVar[dict[str, str]] = {
        **COMMON_FIELDS,
        "connector_type": "The connector type: REST, SQLITE or SHELL.",
        "value": "The connector's parameters (a dict), overridden by those of the call.",
    }


class VaultConfig(Record):
    """Where secrets come from (kept as a record; the local runner reads no vault)."""

    RESOURCE: ClassVar[str] = "vault_config"
    FIELDS: ClassVar[dict[str, str]] = {**COMMON_FIELDS, "value": "The configuration of the vault."}


class Webhook(Record):
    """A webhook: an address that starts a flow when it is called.

    Created in VS Code or over the REST API; a flow reads, changes (``save(is_enabled=False)``,
    ``save(flow_name=...)``) and deletes it."""

    RESOURCE: ClassVar[str] = "webhook"
    FIELDS: ClassVar[dict[str, str]] = {
        **COMMON_FIELDS,
        "flow_name": "The flow the webhook starts.",
        "is_enabled": "Whether calls start the flow (``save(is_enabled=False)`` disables it).",
        "key": "The key callers must give (none: anyone on this machine may call).",
        "url_path": "Where it is called: /api/latest/webhook/<name>/call.",
    }


class Schedule(Record):
    """A schedule: runs a flow every few minutes, daily or on a cron expression.

    Created with the Schedule… command or over the REST API; a flow reads, changes
    (``save(is_enabled=False)``) and deletes it."""

    RESOURCE: ClassVar[str] = "schedule"
    FIELDS: ClassVar[dict[str, str]] = {
        **COMMON_FIELDS,
        "flow_name": "The flow the schedule starts.",
        "is_enabled": "Whether the schedule fires (``save(is_enabled=False)`` disables it).",
        "next_fire_at": "When it fires next.",
        "last_fire_at": "When it fired last.",
    }


class Message(Record):
    """A message (a form) shown to the user in VS Code; its response arrives when answered."""

    RESOURCE: ClassVar[str] = "message"
    DEFAULT_BY: ClassVar[str] = "id"
    FIELDS: ClassVar[dict[str, str]] = {
        **COMMON_FIELDS,
        "subject": "The subject of the message.",
        "body": "The body: text, or a form definition (field name -> element).",
        "message_type": "How it is shown, e.g. POPUP.",
        "response": "The answer to the form (a dict), once the user responded.",
        "execution_id": "The execution that created the message.",
        "responded_at": "When the user answered.",
    }

    def wait(self, timeout: Optional[float] = None) -> "Message":
        """Wait until the user answered (the execution is BLOCKED meanwhile); returns the
        message, whose ``get('response')`` holds the answer. ``timeout`` in seconds; when it
        runs out, MessageResponseTimeoutError is raised."""
        params: dict[str, Any] = {"id": self._ident()["key"]}
        if timeout is not None:
            params["timeout"] = float(timeout)
        try:
            result = self._call("message.wait", params) or {}
        except TimeoutExceededError as exc:
            raise MessageResponseTimeoutError(str(exc)) from None
        if self._record is None:
            self._record = {"id": self._key}
        self._record["response"] = result.get("response")
        return self

    def _store(self, fields: dict[str, Any]) -> dict[str, Any]:
        raise FlowApiError("messages are created with this.message(...) or system.message(...)")


def create_message(
    subject: str,
    message: Optional[str],
    body: Any,
    request: Optional[str],
    message_type: str,
) -> Message:
    """Create a message in the runner (``this.message`` and ``system.message``)."""
    if request is not None:
        fields: dict[str, Any] = {}
        if message:
            fields["text"] = {"element": "markdown", "text": str(message)}
        fields["string"] = {"type": "string", "label": str(request), "required": True}
        body = {**fields, **(body if isinstance(body, dict) else {})}
    elif body is None:
        body = None if message is None else str(message)
    params: dict[str, Any] = {"subject": str(subject), "message_type": message_type}
    if body is not None:
        params["body"] = body
    result = _context.call("message.create", params)
    record = {"id": result["id"], "subject": str(subject), "body": body, "message_type": message_type, "response": None}
    return Message(result["id"], "id", _record=record)


# ----- local records: files and flows are files, the user and the client this machine ------


class _LocalRecord(Record):
    """A record that lives on this machine (no runner call): ``select`` is its name.

    Its listing names the records only; a listed handle reads a field when it is asked for."""

    @classmethod
    def _from_record(cls: type[R], record: dict[str, Any]) -> R:
        return cls(record["name"], "name")

    def _filter_value(self, field: str, record: dict[str, Any]) -> Any:
        if field in record:
            return record[field]
        return self.get(field) if field in self.FIELDS else None

    def archive(self: R) -> R:
        """Archiving is not kept for this record type on a local runner: does nothing."""
        return self

    def _missing(self) -> ResourceNotFoundError:
        return ResourceNotFoundError(f"{self.RESOURCE} '{self._key}' does not exist")


#: Files up to this size are kept in the runner's recording of an execution (with their content).
_MAX_RECORDED_BYTES = 4 * 1024 * 1024


class File(_LocalRecord):
    """A file in the workspace's files folder (``name`` is its path there, ``/`` allowed).

    ``get('content')`` reads it (text, or base64 text for binary content), ``save(content=...)``
    writes it; ``get_text_content``/``save_text_content`` and the ``bytes``/``base64`` variants
    read and write it as that kind of data.
    """

    RESOURCE: ClassVar[str] = "file"
    FIELDS: ClassVar[dict[str, str]] = {
        **COMMON_FIELDS,
        "content": "The content: text, or base64 text when it is not UTF-8.",
        "content_size_bytes": "The size of the content in bytes.",
        "is_binary": "Whether the content is not UTF-8 text.",
    }

    def _path(self) -> str:
        return _path_in(_context.current_context().files_dir or "files", self._ident()["key"], "file")

    def _read(self) -> bytes:
        try:
            with open(self._path(), "rb") as f:
                data = f.read()
        except (FileNotFoundError, IsADirectoryError):
            self._recorded(None)
            raise self._missing() from None
        self._recorded(data)
        return data

    def _recorded(self, data: Optional[bytes]) -> None:
        """Tell the runner what was read, so that a test made from this run can replay it."""
        value: Optional[dict[str, Any]] = None
        if data is not None and len(data) > _MAX_RECORDED_BYTES:
            value = {"size": len(data), "too_large": True}  # a test replaying it says so
        elif data is not None:
            try:
                value = {"content": data.decode("utf-8"), "is_binary": False}
            except UnicodeDecodeError:
                value = {"content": base64.b64encode(data).decode("ascii"), "is_binary": True}
        message = {"type": "recording", "kind": "file", "name": str(self._ident()["key"]), "value": value}
        _context.current_context().send(message)

    def _write(self, data: bytes) -> None:
        path = self._path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def _fetch(self) -> dict[str, Any]:
        data = self._read()
        stat = os.stat(self._path())
        try:
            content, binary = data.decode("utf-8"), False
        except UnicodeDecodeError:
            content, binary = base64.b64encode(data).decode("ascii"), True
        modified = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.timezone.utc).isoformat()
        return {
            "id": self._key,
            "name": self._key,
            "content": content,
            "content_size_bytes": len(data),
            "is_binary": binary,
            "created_at": modified,
            "modified_at": modified,
        }

    def _exists(self) -> bool:
        return os.path.isfile(self._path())

    def save(self, *, content: Any = None, convert_binary: bool = False, **fields: Any) -> "File":
        """Create or overwrite the file.

        ``content`` is text (stored as UTF-8) or bytes; with ``convert_binary=True`` a text
        ``content`` is base64 and is decoded to bytes first. ``name=`` renames the file.
        """
        if self._key is None and fields.get("name"):
            self._key = str(fields["name"])
        new_name = fields.get("name")
        if new_name is not None and str(new_name) != self._key and self._exists():
            target = File(str(new_name))
            os.makedirs(os.path.dirname(target._path()), exist_ok=True)
            os.replace(self._path(), target._path())
            self._key = str(new_name)
        if content is not None or not self._exists():
            self._write(_to_bytes(content, convert_binary))
        self._record = None
        return self

    def _remove(self) -> None:
        try:
            os.remove(self._path())
        except FileNotFoundError:
            pass

    def get_text_content(self, encoding: str = "utf-8") -> str:
        """The content decoded as text."""
        return self._read().decode(encoding)

    def get_bytes_content(self) -> bytes:
        """The content as bytes."""
        return self._read()

    def get_base64_content(self) -> str:
        """The content as base64 text."""
        return base64.b64encode(self._read()).decode("ascii")

    def save_text_content(self, text: str, encoding: str = "utf-8") -> "File":
        """Write ``text`` as the content, creating the file (and its folders) if needed."""
        self._write(str(text).encode(encoding))
        self._record = None
        return self

    def save_bytes_content(self, data: bytes) -> "File":
        """Write ``data`` as the content."""
        self._write(bytes(data))
        self._record = None
        return self

    def save_base64_content(self, data: str) -> "File":
        """Write the bytes that the base64 text ``data`` stands for."""
        self._write(base64.b64decode(data))
        self._record = None
        return self

    @classmethod
    def _list(cls, include_archived: bool, directory: Optional[str] = None, glob: str = "*") -> list[dict[str, Any]]:
        root = os.path.realpath(_context.current_context().files_dir or "files")
        base = os.path.realpath(os.path.join(root, directory or "."))
        if not _inside(root, base):
            raise FlowApiError(f"dir '{directory}' points outside the files folder")
        names = []
        recursive = "**" in glob
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            for file_name in sorted(files):
                rel = os.path.relpath(os.path.join(folder, file_name), base).replace(os.sep, "/")
                if fnmatch.fnmatch(rel if recursive else file_name, glob.replace("**/", "*")):
                    names.append(os.path.relpath(os.path.join(folder, file_name), root).replace(os.sep, "/"))
            if not recursive:
                break
        return [{"id": n, "name": n} for n in names]


class Flow(_LocalRecord):
    """A flow: a ``.py`` file in the flows folder; its name is the path without ``.py``."""

    RESOURCE: ClassVar[str] = "flow"
    FIELDS: ClassVar[dict[str, str]] = {
        **COMMON_FIELDS,
        "script": "The source code of the flow.",
        "path": "The path of the flow's file.",
        "max_runtime_minutes": "The longest a run may take (0: no limit).",
        "priority": "The priority of its executions.",
        "input_schema": "The schema of its input (not used by the local runner).",
        "output_schema": "The schema of its output (not used by the local runner).",
    }

    def _path(self, name: Optional[str] = None) -> str:
        name = name if name is not None else self._ident()["key"]
        file_name = name if name.endswith(".py") else name + ".py"
        return _path_in(_context.current_context().flows_dir or ".", file_name, "flow")

    def _fetch(self) -> dict[str, Any]:
        path = self._path()
        try:
            with open(path, encoding="utf-8") as f:
                script = f.read()
        except (FileNotFoundError, IsADirectoryError):
            raise self._missing() from None
        modified = datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc).isoformat()
        return {"id": self._key, "name": self._key, "script": script, "path": path, "modified_at": modified}

    def _exists(self) -> bool:
        return os.path.isfile(self._path())

    def _store(self, fields: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fields) - {"name", "script"})
        if unknown:
            raise FlowApiError(f"a flow's {', '.join(unknown)} cannot be saved on a local runner: only script and name")
        path = self._path()
        if fields.get("name") is not None and str(fields["name"]) != self._key and os.path.isfile(path):
            os.replace(path, self._path(str(fields["name"])))
            self._key = str(fields["name"])
            path = self._path()
        if "script" in fields or not os.path.isfile(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(str(fields.get("script") or "def handler(system, this):\n    return this.success('done')\n"))
        return self._fetch()

    def _remove(self) -> None:
        try:
            os.remove(self._path())
        except FileNotFoundError:
            pass

    @classmethod
    def _list(cls, include_archived: bool) -> list[dict[str, Any]]:
        root = os.path.realpath(_context.current_context().flows_dir or ".")
        names = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("node_modules", "__pycache__"))
            for file_name in sorted(files):
                if file_name.endswith(".py"):
                    rel = os.path.relpath(os.path.join(folder, file_name), root)
                    names.append(rel[:-3].replace(os.sep, "/"))
        return [{"id": n, "name": n} for n in names]


class _MachineRecord(_LocalRecord):
    """A record type of which this machine has exactly one (its user, itself)."""

    def _own(self) -> dict[str, Any]:
        raise NotImplementedError

    def _fetch(self) -> dict[str, Any]:
        own = self._own()
        if self._key not in (None, own["name"], own["id"]):
            raise self._missing()
        return own

    def _exists(self) -> bool:
        try:
            self._fetch()
            return True
        except ResourceNotFoundError:
            return False

    def _store(self, fields: dict[str, Any]) -> dict[str, Any]:
        raise FlowApiError(f"{self.RESOURCE}s cannot be changed on a local runner")

    @classmethod
    def _list(cls, include_archived: bool) -> list[dict[str, Any]]:
        return [cls(None)._own()]


class User(_MachineRecord):
    """A user of the workspace; locally there is one, the operating-system user."""

    RESOURCE: ClassVar[str] = "user"
    FIELDS: ClassVar[dict[str, str]] = {
        **COMMON_FIELDS,
        "email": "The user's e-mail address (not known locally: None).",
        "is_active": "Whether the user may log in.",
    }

    def _own(self) -> dict[str, Any]:
        name = _own_user_name()
        return {"id": _machine_id("user", name), "name": name, "email": None, "is_active": True}


class Client(_MachineRecord):
    """A client that runs executions; locally there is one, this machine."""

    RESOURCE: ClassVar[str] = "client"
    FIELDS: ClassVar[dict[str, str]] = {**COMMON_FIELDS, "hostname": "The machine's host name."}

    def _own(self) -> dict[str, Any]:
        host = socket.gethostname()
        return {"id": _machine_id("client", host), "name": host, "hostname": host}


def _own_user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no USER variable and no passwd entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _machine_id(kind: str, name: str) -> str:
    # Stable ids for this machine's user and client, so by='id' works across executions.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"flows-local:{kind}:{name}"))


def _to_bytes(content: Any, convert_binary: bool) -> bytes:
    if content is None:
        return b""
    if isinstance(content, (bytes, bytearray)):
        return bytes(content)
    if convert_binary:
        return base64.b64decode(str(content))
    return str(content).encode("utf-8")


def _path_in(folder: str, name: str, what: str) -> str:
    """``name`` as a path in ``folder``; it must stay inside, whatever ``..`` or links say."""
    root = os.path.realpath(folder)
    if not name or os.path.isabs(name) or "\0" in name:
        raise FlowApiError(f"{what} name '{name}' must be a relative path")
    path = os.path.realpath(os.path.join(root, name))
    if path == root or not _inside(root, path):
        raise FlowApiError(f"{what} name '{name}' points outside the {what}s folder")
    return path


def _inside(root: str, path: str) -> bool:
    try:
        return os.path.commonpath([root, path]) == root
    except ValueError:  # different drives (Windows)
        return False


#: Union of the record classes, for annotations.
AnyRecord = Union[Setting, Connection, VaultConfig, Webhook, Schedule, Message, File, Flow, User, Client]
