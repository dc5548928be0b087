"""``system.return_when``: when waiting for children returns (and whether a failure raises)."""

import enum


class ReturnWhen(str, enum.Enum):
    """Conditions for ``wait=``, ``wait_for(return_when=...)`` and ``execution.wait(...)``."""

    #: Return when every child has ended; a failed child does not raise.
    ALL_ENDED = "ALL_ENDED"
    #: Return when every child has succeeded; raise DependencyFailedError as soon as one fails.
    ALL_SUCCEEDED = "ALL_SUCCEEDED"
    #: Return as soon as one child has ended, successfully or not.
    FIRST_ENDED = "FIRST_ENDED"
    #: Return as soon as one child has succeeded; raise DependencyFailedError if all failed.
    FIRST_SUCCEEDED = "FIRST_SUCCEEDED"
