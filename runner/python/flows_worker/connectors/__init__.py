"""Built-in connectors: what a CONNECTION execution runs when its type is REST, SQLITE or SHELL.

The runner resolves named connectors (``.flows/config.json``) into a type and parameters; the
worker then calls :func:`run_connector` and the result becomes the execution's output_value.
"""

from . import rest, shell, sqlite
from .base import ConnectorError

CONNECTORS = {"REST": rest.run, "SQLITE": sqlite.run, "SHELL": shell.run}


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


__all__ = ["CONNECTORS", "ConnectorError", "run_connector"]
