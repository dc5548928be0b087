"""``system``: the flow's door to settings, files, other flows, messages and the user."""

import getpass
import os

from . import _runtime
from ._runtime import call
from .errors import FlowApiError
from .execution import Execution


class System:
    """The workspace the flow runs in; passed to ``handler(system, this)``."""

    def execution(self, id):
        """The execution with this id, as an :class:`Execution`."""
        return Execution(id)

    def file(self, name):
        """A text file in the workspace's files folder (``name`` may contain ``/``)."""
        return File(name)

    def flow(self, name):
        """The flow called ``name`` (its path in the flows folder, without ``.py``)."""
        return Flow(name)

    def get_own_user(self):
        """The user the flow runs as (locally: the operating-system user)."""
        return User()

    def message(self, subject, body=None, message_type="POPUP"):
        """Create a message (a form answered in VS Code); ``.wait()`` for the response."""
        params = {"subject": str(subject), "message_type": message_type}
        if body is not None:
            params["body"] = body
        result = call("message.create", params)
        return Message(result["id"], subject, body, message_type)

    def setting(self, name):
        """The workspace setting ``name``."""
        return Setting(name)


class Setting:
    """A named value kept by the runner for the workspace, shared by all flows."""

    def __init__(self, name):
        self._name = str(name)

    def __repr__(self):
        return f"<Setting {self._name!r}>"

    def get(self):
        """The setting's value."""
        return call("setting.get", {"name": self._name})

    def save(self, value):
        """Store ``value`` (anything JSON can hold) as the setting's value."""
        call("setting.save", {"name": self._name, "value": value})
        return self

    def exists(self):
        """Whether the setting exists."""
        return bool(call("setting.exists", {"name": self._name}))

    def delete(self):
        """Delete the setting; returns whether it existed."""
        return bool(call("setting.delete", {"name": self._name}))


class File:
    """A text file in the workspace's files folder (``files_dir`` of the runner)."""

    def __init__(self, name):
        self._name = str(name)

    def __repr__(self):
        return f"<File {self._name!r}>"

    def _path(self):
        # A name is a path inside the files folder and must stay inside it, whatever the
        # `..` or symlinks say.
        root = os.path.realpath(_runtime.job.get("files_dir") or "files")
        if not self._name or os.path.isabs(self._name) or "\0" in self._name:
            raise FlowApiError(f"file name '{self._name}' must be a relative path")
        path = os.path.realpath(os.path.join(root, self._name))
        if not _inside(root, path) or path == root:
            raise FlowApiError(f"file name '{self._name}' points outside the files folder")
        return path

    def exists(self):
        """Whether the file exists."""
        return os.path.isfile(self._path())

    def get_text(self, encoding="utf-8"):
        """The file's content as text."""
        try:
            with open(self._path(), encoding=encoding) as f:
                return f.read()
        except FileNotFoundError:
            raise FlowApiError(f"file '{self._name}' does not exist") from None

    def save_text(self, text, encoding="utf-8"):
        """Write ``text`` to the file, creating it (and its folders) if needed."""
        path = self._path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding=encoding) as f:
            f.write(str(text))
        return self

    def delete(self):
        """Delete the file; returns whether it existed."""
        try:
            os.remove(self._path())
            return True
        except FileNotFoundError:
            return False


class Flow:
    """A flow file in the flows folder."""

    _FIELDS = ("name", "script", "path")

    def __init__(self, name):
        self._name = str(name)

    def __repr__(self):
        return f"<Flow {self._name!r}>"

    def _path(self):
        root = os.path.realpath(_runtime.job.get("flows_dir") or ".")
        name = self._name if self._name.endswith(".py") else self._name + ".py"
        path = os.path.realpath(os.path.join(root, name))
        if os.path.isabs(self._name) or not _inside(root, path):
            raise FlowApiError(f"flow name '{self._name}' points outside the flows folder")
        return path

    def exists(self):
        """Whether the flow exists."""
        return os.path.isfile(self._path())

    def get(self, field="script"):
        """A field of the flow: ``name``, ``script`` (its source) or ``path``."""
        if field == "name":
            return self._name
        if field == "path":
            return self._path()
        if field == "script":
            try:
                with open(self._path(), encoding="utf-8") as f:
                    return f.read()
            except FileNotFoundError:
                raise FlowApiError(f"flow '{self._name}' does not exist") from None
        raise FlowApiError(f"flows have no field '{field}': use one of {', '.join(self._FIELDS)}")


class Message:
    """A message (form) shown to the user; its response arrives when the user answers."""

    def __init__(self, id, subject=None, body=None, message_type="POPUP"):
        self._record = {
            "id": str(id),
            "subject": subject,
            "body": body,
            "message_type": message_type,
            "response": None,
        }

    def __repr__(self):
        return f"<Message {self._record['id']}>"

    def get(self, field="response"):
        """A field of the message: ``id``, ``subject``, ``body``, ``message_type``, ``response``."""
        if field not in self._record:
            raise FlowApiError(f"messages have no field '{field}'")
        return self._record[field]

    def wait(self, timeout=None):
        """Wait until the user responded (status BLOCKED meanwhile); returns this Message."""
        params = {"id": self._record["id"]}
        if timeout is not None:
            params["timeout"] = timeout
        self._record["response"] = (call("message.wait", params) or {}).get("response")
        return self


class User:
    """A user of the workspace (locally: the operating-system user)."""

    def get(self, field="name"):
        """A field of the user; ``name`` is the login name."""
        if field != "name":
            raise FlowApiError(f"users have no field '{field}': use 'name'")
        try:
            return getpass.getuser()
        except Exception:  # no USER variable and no passwd entry (containers)
            return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _inside(root, path):
    try:
        return os.path.commonpath([root, path]) == root
    except ValueError:  # different drives (Windows)
        return False
