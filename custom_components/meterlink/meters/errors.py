"""Typed errors shared by every transport.

Callers (the Home Assistant layer, the command-line tool) decide what to do from the type alone:
reauthenticate, back off, mark entities unavailable or refuse the input. Messages never contain
passwords, keys or tokens.
"""

from __future__ import annotations


class MeterError(Exception):
    """Base class of every error the library raises on purpose."""


class MeterConnectionError(MeterError):
    """The port, bridge or host cannot be reached or went away."""


class MeterBusInUseError(MeterConnectionError):
    """Another open bus client already talks to this port or bridge (perhaps by another URL).

    RS-485 carries one exchange at a time: two clients on one wire would interleave frames, so
    the second one is refused instead of connected.
    """


class MeterTimeoutError(MeterError):
    """The device did not answer (completely) in time."""


class MeterFrameError(MeterError):
    """A response arrived but is malformed: it is never turned into values."""


class MeterCrcError(MeterFrameError):
    """The frame's CRC does not match its contents."""


class MeterAddressError(MeterFrameError):
    """A well-formed frame came from another meter than the one asked."""


class MeterRateLimitError(MeterError):
    """The device refused (or would refuse) a request for coming too soon.

    `retry_after` is the number of seconds after which a new request is allowed, when known, so
    a caller can reschedule instead of hammering a device that counts every request.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MeterAuthError(MeterError):
    """The device refused the password, PIN or key."""


class MeterNotAuthorizedError(MeterAuthError):
    """An MQTT broker refused the connection (CONNACK "not authorised" or "bad username").

    Its own type because a refused stream is not a refused API key: the same key may still
    poll, so callers keep polling and tell the user instead of starting a reauth.
    """


class MeterCommandError(MeterError):
    """The device did not acknowledge a command."""


class MeterUnsupportedError(MeterError):
    """The command does not exist on this meter model or protocol version."""


class InvalidParameterError(MeterError, ValueError):
    """Input was refused before anything was sent."""


class MeterPermissionError(MeterError):
    """The key or token is valid but may not do this (read-only token, another owner's device).

    Unlike `MeterAuthError` a new key would not help, so callers do not start a reauth.
    """


class MeterApiError(MeterError):
    """A web API answered with an error of its own: an API status code or an HTTP 400 text.

    `code` is the API's status code (EKM Push: 1000-1300) and `status` the HTTP status, when
    known, so callers can tell "no data yet" from "invalid parameter" without parsing text.
    """

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class MeterServerError(MeterConnectionError):
    """The service is there but failing (HTTP 5xx): retry later, keep the last good values."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MissingSaveRightError(MeterPermissionError):
    """The user may read the meter but lacks the `save` right that every command needs (eGauge).

    Its own type because the answer to it is not a new password but another user, and because
    a reading integration should hide the commands instead of failing.
    """
