"""``system``: the flow's door to the records of the workspace, other executions and the user."""

from __future__ import annotations

from typing import Any, ClassVar, Iterator, Optional, Union

from .execution import Execution
from .records import Filter
from .resources import (
    Client,
    Connection,
    File,
    Flow,
    Message,
    Schedule,
    Setting,
    User,
    VaultConfig,
    Webhook,
    create_message,
)
from .return_when import ReturnWhen

#: How ``system.<type>(select)`` names a record: its name or id (None: a new record).
Select = Optional[Union[str, int]]


class System:
    """The workspace the flow runs in; passed to ``handler(system, this)``.

    ``system.<type>(name_or_id, by='name'|'id', **init)`` returns a record handle (with init
    fields it creates or updates the record); ``system.<type>s(filter=...)`` lists records.
    """

    #: The conditions for waiting on children: ``system.return_when.ALL_ENDED`` and friends.
    return_when: ClassVar[type[ReturnWhen]] = ReturnWhen

    # ----- one record --------------------------------------------------------------------

    def execution(self, select: Select = None, by: str = "id") -> Execution:
        """The execution with this id (``by='id'``, the default)."""
        return Execution(select, by)

    def setting(self, select: Select = None, by: str = "name", **init: Any) -> Setting:
        """The setting ``select``; ``.get('value')`` reads it, ``.save(value=...)`` writes it."""
        return Setting(select, by, **init)

    def file(self, select: Select = None, by: str = "name", **init: Any) -> File:
        """The file ``select`` in the workspace's files folder (``/`` allowed in names)."""
        handle = File(select, by)
        if init:
            handle.save(**init)
        return handle

    def flow(self, select: Select = None, by: str = "name", **init: Any) -> Flow:
        """The flow ``select`` (its path in the flows folder, without ``.py``)."""
        return Flow(select, by, **init)

    def connection(self, select: Select = None, by: str = "name", **init: Any) -> Connection:
        """The connection ``select``: a connector type and its parameters (``value``)."""
        return Connection(select, by, **init)

    def webhook(self, select: Select = None, by: str = "name", **init: Any) -> Webhook:
        """The webhook ``select``."""
        return Webhook(select, by, **init)

    def schedule(self, select: Select = None, by: str = "name", **init: Any) -> Schedule:
        """The schedule ``select``."""
        return Schedule(select, by, **init)

    def user(self, select: Select = None, by: str = "name", **init: Any) -> User:
        """The user ``select`` (locally: only the operating-system user exists)."""
        return User(select, by, **init)

    def client(self, select: Select = None, by: str = "name", **init: Any) -> Client:
        """The client ``select`` (locally: only this machine exists)."""
        return Client(select, by, **init)

    def vault_config(self, select: Select = None, by: str = "name", **init: Any) -> VaultConfig:
        """The vault configuration ``select``."""
        return VaultConfig(select, by, **init)

    def message(
        self,
        subject: Optional[str] = None,
        message: Optional[str] = None,
        *,
        body: Any = None,
        request: Optional[str] = None,
        message_type: str = "POPUP",
        id: Optional[str] = None,
    ) -> Message:
        """Create a message (a form answered in VS Code) without waiting: ``.wait()`` for the
        answer, then ``.get('response')``. With ``id=`` the existing message is returned."""
        if id is not None:
            return Message(id, "id")
        return create_message(subject or "", message, body, request, message_type)

    def get_own_user(self) -> User:
        """The user the flow runs as (locally: the operating-system user)."""
        return User(None, "name")

    def get_own_client(self) -> Client:
        """The client the flow runs on (locally: this machine)."""
        return Client(None, "name")

    def get_env_name(self) -> str:
        """The name of the environment: ``local`` for the bundled runner."""
        return "local"

    # ----- listings ----------------------------------------------------------------------

    def executions(self, filter: Optional[Filter] = None) -> Iterator[Execution]:
        """The executions of the workspace, newest first, that match ``filter``
        (``{'field': 'status', 'op': 'eq', 'value': 'ENDED_ERROR'}``); read a page at a time
        while the loop goes on, so breaking out early reads little."""
        return Execution._listing(filter)

    def settings(self, filter: Optional[Filter] = None, include_archived: bool = False) -> Iterator[Setting]:
        """The settings that match ``filter``, by name."""
        return Setting._listing(filter, include_archived)

    def connections(self, filter: Optional[Filter] = None, include_archived: bool = False) -> Iterator[Connection]:
        """The connections that match ``filter``, by name."""
        return Connection._listing(filter, include_archived)

    def vault_configs(self, filter: Optional[Filter] = None, include_archived: bool = False) -> Iterator[VaultConfig]:
        """The vault configurations that match ``filter``, by name."""
        return VaultConfig._listing(filter, include_archived)

    def webhooks(self, filter: Optional[Filter] = None) -> Iterator[Webhook]:
        """The webhooks that match ``filter``."""
        return Webhook._listing(filter)

    def schedules(self, filter: Optional[Filter] = None) -> Iterator[Schedule]:
        """The schedules that match ``filter``."""
        return Schedule._listing(filter)

    def messages(self, filter: Optional[Filter] = None) -> Iterator[Message]:
        """The messages that match ``filter``."""
        return Message._listing(filter)

    def flows(self, filter: Optional[Filter] = None) -> Iterator[Flow]:
        """The flows of the flows folder that match ``filter``, by name."""
        return Flow._listing(filter)

    def users(self, filter: Optional[Filter] = None) -> Iterator[User]:
        """The users (locally: the operating-system user)."""
        return User._listing(filter)

    def clients(self, filter: Optional[Filter] = None) -> Iterator[Client]:
        """The clients (locally: this machine)."""
        return Client._listing(filter)

    def files(self, filter: Optional[Filter] = None, dir: Optional[str] = None, glob: str = "*") -> Iterator[File]:
        """The files in the files folder, or in its folder ``dir``, whose names match ``glob``
        (``**`` descends into folders) and ``filter``."""
        return File._listing(filter, directory=dir, glob=glob)
