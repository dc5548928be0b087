"""What the built-in connectors share."""

from flow_api.exceptions import InvalidInputError, MissingInputError


class ConnectorError(Exception):
    """A connector call failed; ``output`` is what it produced anyway (e.g. the HTTP response)."""

    def __init__(self, message, output=None):
        super().__init__(message)
        self.output = output


class MissingInput(ConnectorError, MissingInputError):
    """A connector input that is required was not given (flow_api.MissingInputError)."""


class InvalidInput(ConnectorError, InvalidInputError):
    """A connector input has a type the connector does not accept (flow_api.InvalidInputError)."""


def require(params, name, types, what):
    """``params[name]``, or ConnectorError when it is missing or of the wrong type."""
    value = params.get(name)
    if value is None or value == "":
        raise MissingInput(f"{what} needs the input '{name}'")
    if not isinstance(value, types):
        raise InvalidInput(f"{what}: the input '{name}' has the wrong type ({type(value).__name__})")
    return value
