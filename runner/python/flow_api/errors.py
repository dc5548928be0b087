"""Exceptions a flow may see from flow_api."""


class FlowApiError(Exception):
    """A flow_api call could not be carried out (the runner refused it, or it was misused)."""


class DependencyFailedError(FlowApiError):
    """A child execution the flow waited for did not succeed.

    ``execution`` is the child :class:`flow_api.Execution`; its ``get('status')`` and
    ``get('message')`` say how it ended.
    """

    def __init__(self, message, execution=None):
        super().__init__(message)
        self.execution = execution
