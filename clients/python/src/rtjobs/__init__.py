"""rtjobs: start realtime-jobs exports and campaigns from scripts, follow them live over the
WebSocket, download their files. `rtjobs --help`, or `from rtjobs import Client`."""

__version__ = "0.1.0"

from rtjobs.client import (
    TERMINAL,
    ApiError,
    AuthError,
    Client,
    Job,
    RtjobsError,
    Unreachable,
    UsageError,
    WaitTimeout,
)

__all__ = ["TERMINAL", "ApiError", "AuthError", "Client", "Job", "RtjobsError", "Unreachable",
           "UsageError", "WaitTimeout", "__version__"]
