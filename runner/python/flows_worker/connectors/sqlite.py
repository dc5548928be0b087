"""SQLITE connector: one statement against a SQLite database file.

Parameters: ``database`` (a path; relative to the flows folder), exactly one of ``execute``,
``fetchall``, ``fetchone``, ``fetchval`` (the SQL), optional ``params`` (a list for ``?``, a dict
for ``:name``), ``timeout`` in seconds to wait for a lock (default 5).
Output (the execution's output_value): the rows as a list of dicts (fetchall), one row dict
or None (fetchone), one value or None (fetchval), ``{rowcount, lastrowid}`` (execute).
Changes are committed. BLOB values come back base64-encoded.
"""

import base64
import sqlite3

from .base import ConnectorError, require

ACTIONS = ("execute", "fetchall", "fetchone", "fetchval")


def run(params):
    database = require(params, "database", str, "SQLITE")
    actions = [a for a in ACTIONS if params.get(a)]
    if len(actions) != 1:
        raise ConnectorError(f"SQLITE needs exactly one of {', '.join(ACTIONS)}")
    action = actions[0]
    sql = require(params, action, str, "SQLITE")
    args = params.get("params") or ()
    try:
        conn = sqlite3.connect(database, timeout=float(params.get("timeout") or 5))
    except sqlite3.Error as err:
        raise ConnectorError(f"SQLITE cannot open {database}: {err}") from None
    try:
        cursor = conn.execute(sql, args)
        names = [d[0] for d in cursor.description or ()]
        if action == "fetchall":
            result = [_row(names, r) for r in cursor.fetchall()]
        elif action == "fetchone":
            row = cursor.fetchone()
            result = _row(names, row) if row is not None else None
        elif action == "fetchval":
            row = cursor.fetchone()
            result = _value(row[0]) if row else None
        else:
            result = {"rowcount": cursor.rowcount, "lastrowid": cursor.lastrowid}
        conn.commit()
        return result
    except sqlite3.Error as err:
        raise ConnectorError(f"SQLITE: {err}") from None
    finally:
        conn.close()


def _row(names, row):
    return {name: _value(v) for name, v in zip(names, row)}


def _value(value):
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
