"""Built-in connectors: what a CONNECTION execution runs when its type is REST, SQLITE or SHELL.

The runner resolves named connectors (``.flows/config.json``) into a type and parameters; the
worker then calls :func:`run_connector` and the result becomes the execution's output_value.
"""

from . import rest, shell, sqlite
from .base import ConnectorError

CONNECTORS = {"REST": rest.run, "SQLITE": sqlite.run, "SHELL": shell.run}

#: What each built-in connector does and takes, shown by the editor (``npm run generate``).
CONNECTOR_DOCS = {
    "REST": "One HTTP request: `url`, `method`, `headers`, `params`, `json` or `data`, `timeout`. "
    "Output: `{status_code, headers, text, json}`.",
    "SQLITE": "One statement against a SQLite database file: `database` and one of `execute`, "
    "`fetchall`, `fetchone`, `fetchval`; `params` for placeholders.",
    "SHELL": "One command on the runner machine: `command`, `cwd`, `env`, `input`, `timeout`, `check`. "
    "Output: `{returncode, stdout, stderr}`.",
}


def run_connector(connector_type, params):
    """Run the built-in connector ``connector_type`` with ``params``; returns its output.

    Raises ConnectorError (carrying any partial output) when the call fails.
    """
    run = CONNECTORS.get(str(connector_type or "").upper())
    if run is None:
        raise ConnectorError(
            f"unknown connector type '{connector_type}': built-in types are {', '.join(CONNECTORS)}"
        )
    return run(dict(params or {}))


__all__ = ["CONNECTORS", "CONNECTOR_DOCS", "ConnectorError", "run_connector"]
