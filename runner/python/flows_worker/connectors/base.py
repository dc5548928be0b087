"""What the built-in connectors share."""


class ConnectorError(Exception):
    """A connector call failed; ``output`` is what it produced anyway (e.g. the HTTP response)."""

    def __init__(self, message, output=None):
        super().__init__(message)
        self.output = output


def require(params, name, types, what):
    """``params[name]``, or ConnectorError when it is missing or of the wrong type."""
    value = params.get(name)
    if value is None or value == "":
        raise ConnectorError(f"{what} needs the parameter '{name}'")
    if not isinstance(value, types):
        raise ConnectorError(f"{what}: '{name}' has the wrong type ({type(value).__name__})")
    return value
