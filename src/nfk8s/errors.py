"""Exit codes and the one exception hierarchy nfk8s raises.

``cli.py`` is the only place these become exit codes; ``kube.py`` is the only place
library errors become these.
"""

from __future__ import annotations

from enum import IntEnum

# Answers that mean "try again shortly": throttled, or the server briefly unable to serve.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class ExitCode(IntEnum):
    """What the process exit status means; the README's table mirrors this."""

    OK = 0
    PIPELINE_FAILED = 1
    BAD_INPUT = 2
    LOCK_BUSY = 3
    TIMED_OUT = 4
    CANCELLED = 5
    CLUSTER_ERROR = 6
    DRIVER_NOT_STARTED = 7  # image, scheduling, admission, config, staging: nothing ran
    INTERNAL_ERROR = 70  # a bug in nfk8s (sysexits' EX_SOFTWARE), never "pipeline failed"
    INTERRUPTED = 130


class Nfk8sError(Exception):
    """Base of every error nfk8s reports to a user.

    ``message`` is one line naming the problem; ``hint`` names the fix.
    """

    exit_code: ExitCode = ExitCode.CLUSTER_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class BadInput(Nfk8sError):
    """The user asked for something malformed; nothing was written to the cluster."""

    exit_code = ExitCode.BAD_INPUT


class LockBusy(Nfk8sError):
    """Another run holds the lock."""

    exit_code = ExitCode.LOCK_BUSY


class TimedOut(Nfk8sError):
    """A deadline passed: ``--timeout`` or ``--wait-lock``."""

    exit_code = ExitCode.TIMED_OUT


class ClusterError(Nfk8sError):
    """The cluster could not be reached or refused a request."""

    exit_code = ExitCode.CLUSTER_ERROR

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        reason: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after  # seconds the server asked to wait (429, 503)

    @property
    def transient(self) -> bool:
        """A blip worth retrying: the server was briefly unavailable or overloaded."""
        return self.status in RETRYABLE_STATUS


class Unreachable(ClusterError):
    """No answer from the API server (connection refused, DNS, TLS, timeout)."""

    refused: bool = False  # nothing listens there: retrying will not help

    @property
    def transient(self) -> bool:
        return not self.refused


class Unauthorized(ClusterError):
    """401: the credentials in the kubeconfig were not accepted."""


class Forbidden(ClusterError):
    """403: RBAC denied a verb on a resource."""


class NotFound(ClusterError):
    """404 for an object nfk8s expected to exist."""


class Conflict(ClusterError):
    """409: AlreadyExists on create or a stale resourceVersion on replace (lost a CAS race)."""


class Invalid(ClusterError):
    """422: the API server rejected an object nfk8s built."""


class Gone(ClusterError):
    """410: a watch or list continuation is too old and must restart from a fresh list."""


class DriverNotStarted(Nfk8sError):
    """The run's driver never started; its Job was removed and the pipeline did not run."""

    exit_code = ExitCode.DRIVER_NOT_STARTED


class Interrupted(Nfk8sError):
    """Ctrl-C or SIGTERM while following; the run keeps going."""

    exit_code = ExitCode.INTERRUPTED
