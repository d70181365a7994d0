"""Sans-IO: HTTP statuses, EKM API status codes (1000-1300) and bodies as typed errors.

EKM documents both tables (seeds 001/003 "Status Codes") but not how an API status code is
wrapped in a body, and third-party clients have seen `{"status_code": "401", "error": "Invalid
key"}`. So a code is looked for under the usual names, and the documented message texts ("There
is not data for", "Found invalid meter") are recognised even without a code. Messages quoted
from the service pass through `redact` first: the 1200 text repeats the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import (
    MeterApiError,
    MeterAuthError,
    MeterError,
    MeterFrameError,
    MeterPermissionError,
    MeterRateLimitError,
    MeterServerError,
)
from ..http import error_for_status
from ..http import redact as redact_secrets
from ..json import decode, number

DEFAULT_RETRY_AFTER = 60.0
"""Seconds to back off after a 429 that does not say how long (EKM publishes no limit)."""

_MAX_QUOTED = 160
_CODE_KEYS = ("status_code", "statusCode", "error_code", "errorCode", "code", "status")
_MESSAGE_KEYS = ("error", "message", "msg", "description", "detail", "error_message")
# The documented message texts, for bodies that carry one without a code.
_MESSAGE_CODES: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"there is (?:not|no) data", re.I), 1000),
    (re.compile(r"timezone is not supported", re.I), 1004),
    (re.compile(r"invalid format", re.I), 1101),
    (re.compile(r"invalid value", re.I), 1102),
    (re.compile(r"invalid parameter", re.I), 1103),
    (re.compile(r"found invalid meter", re.I), 1200),
    (re.compile(r"invalid (?:api )?key|unauthori[sz]ed", re.I), 401),
    (re.compile(r"too many requests|rate limit", re.I), 429),
    (re.compile(r"^\s*oops", re.I), 1300),
)


class PushNoDataError(MeterApiError):
    """API 1000-1099: the Push system has no (matching) data for the devices asked, yet."""


class PushQueryError(MeterApiError):
    """API 1100-1199: the service refused the query (format, value or parameter)."""


class PushInvalidMeterError(MeterApiError, MeterPermissionError):
    """API 1200: a device asked for is not one this key may see; a new key would not help."""


def redact(text: str, key: str | None) -> str:
    """`text` without the key, plain or URL-encoded, shortened to a quotable length."""
    text = " ".join(redact_secrets(text, key).split())
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 3] + "..."


def cloud_status_error(
    status: int,
    *,
    retry_after: str | None = None,
    now: float | None = None,
    what: str = "EKM Push",
) -> MeterError | None:
    """The error an HTTP status alone decides (401/403/429/5xx), or None to read the body.

    EKM answers 403 for a bad key, and a 429 without Retry-After still gets a wait.
    """
    return error_for_status(
        status,
        what=what,
        retry_after=retry_after,
        now=now,
        default_retry_after=DEFAULT_RETRY_AFTER,
        forbidden_is_auth=True,
        refuse_other=False,
    )


def cloud_document(
    status: int,
    body: bytes | str,
    *,
    key: str | None = None,
    retry_after: str | None = None,
    now: float | None = None,
    what: str = "EKM Push",
) -> Any:
    """The decoded body of a cloud answer, or the typed error the answer amounts to.

    The status decides first (401/403/429/5xx); then an error the body states, in JSON or in
    plain text; then any other HTTP error; a 2xx body that is not JSON is a MeterFrameError.
    """
    early = cloud_status_error(status, retry_after=retry_after, now=now, what=what)
    if early is not None:
        raise early
    try:
        document = decode(body)
    except MeterFrameError:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        if (stated := api_error(text, status=status, key=key)) is not None:
            raise stated from None
        if status >= 400:
            raise MeterApiError(f"{what} answered HTTP {status}", status=status) from None
        raise
    if (stated := api_error(document, status=status, key=key)) is not None:
        raise stated
    if status >= 400:
        raise MeterApiError(f"{what} answered HTTP {status}", status=status)
    return document


def api_error(
    document: object, *, status: int | None = None, key: str | None = None
) -> MeterError | None:
    """The error an answer's body states (API status code or known message), or None.

    Looks at the top level, a `readMeter` wrapper and an `error` object, never inside readings.
    """
    for candidate in _error_candidates(document):
        code, message = _code_and_message(candidate)
        if code is None and message is not None:
            code = _code_from_message(message)
        if code is None:
            continue
        return error_for_code(code, message, status=status, key=key)
    if isinstance(document, str):
        code = _code_from_message(document)
        if code is not None:
            return error_for_code(code, document, status=status, key=key)
    return None


def error_for_code(
    code: int, message: str | None, *, status: int | None = None, key: str | None = None
) -> MeterError:
    """The typed error of an API status code (or an HTTP code repeated in a body)."""
    text = redact(message or "", key)
    detail = f"API {code}" + (f": {text}" if text else "")
    if code in {401, 403}:
        return MeterAuthError(f"EKM Push refused the key ({detail})")
    if code == 429:
        return MeterRateLimitError(f"EKM Push: {detail}", retry_after=DEFAULT_RETRY_AFTER)
    if 1000 <= code < 1100:
        return PushNoDataError(f"EKM Push {detail}", code=code, status=status)
    if 1100 <= code < 1200:
        return PushQueryError(f"EKM Push {detail}", code=code, status=status)
    if 1200 <= code < 1300:
        return PushInvalidMeterError(f"EKM Push {detail}", code=code, status=status)
    if 500 <= code < 600:
        return MeterServerError(f"EKM Push failed ({detail})", status=code)
    return MeterApiError(f"EKM Push error ({detail})", code=code, status=status)


def _error_candidates(document: object) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    if not isinstance(document, Mapping):
        return found
    found.append(document)
    for name, value in document.items():
        if str(name).lower() in {"readmeter", "error", "errors", "account"} and isinstance(
            value, Mapping
        ):
            found.append(value)
    return found


def _code_and_message(candidate: Mapping[str, Any]) -> tuple[int | None, str | None]:
    code: int | None = None
    for name in _CODE_KEYS:
        value = number(candidate.get(name))
        if isinstance(value, int) and (400 <= value < 600 or 1000 <= value < 1400):
            code = value
            break
    message: str | None = None
    for name in _MESSAGE_KEYS:
        value = candidate.get(name)
        if isinstance(value, str) and value.strip():
            message = value
            break
    return code, message


def _code_from_message(message: str) -> int | None:
    head = message[:500]
    for pattern, code in _MESSAGE_CODES:
        if pattern.search(head):
            return code
    return None
