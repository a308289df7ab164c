"""Errors raised by the i-PRO NVR client.

Every error the client raises is an ``IproError``, so a caller can catch one base class;
the subclasses say what the user can do about it. ``str()`` of an error is a sentence a
user can act on.
"""

from __future__ import annotations


class IproError(Exception):
    """Base class of every error raised by the i-PRO NVR client."""


class IproConnectionError(IproError):
    """The NVR cannot be reached (refused, DNS, TLS, connection reset)."""


class IproTimeoutError(IproConnectionError):
    """The NVR did not answer in time."""


class IproAuthError(IproError):
    """The NVR rejected the credentials (401 after answering the challenge)."""


class IproSessionLostError(IproError):
    """The session (UID) was invalidated: it expired or another login evicted it."""


class IproBusyError(IproError):
    """The NVR refuses the request for load (download status 3, HTTP 204 on push)."""


class IproNoFreeSessionError(IproBusyError):
    """The NVR has no free session (HTTP 503, the 16-UID limit is used up)."""


class IproNoRecordingError(IproError):
    """Nothing is recorded in the requested period (download status 1)."""


class IproCodecError(IproError):
    """The recording cannot be delivered in the requested format (download status 2)."""


class IproProtocolError(IproError):
    """The NVR sent a malformed or unexpected response; every parser raises this."""
