"""HTTP for every web transport: one request, status → typed error, Retry-After, host check.

EKM Push, Push3, the Device Settings API and smart-MAC all use it. Failures become the
library's typed errors, and answers are read only up to a size limit (a device or proxy that
streams without end must not fill the memory). Every URL here carries a key, token or PIN, and
aiohttp puts the URL into its exception texts: those texts are redacted and the original
exception is not chained, so a logged traceback cannot show the secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from .errors import (
    InvalidParameterError,
    MeterApiError,
    MeterAuthError,
    MeterConnectionError,
    MeterError,
    MeterFrameError,
    MeterPermissionError,
    MeterRateLimitError,
    MeterServerError,
    MeterTimeoutError,
)
from .json import api_error_text

REDACTED = "***"
_CHUNK = 64 * 1024
_SECONDS_RE = re.compile(r"\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every secret replaced, verbatim and URL-encoded."""
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                text = text.replace(form, REDACTED)
    return text


def normalize_host(host: str) -> str:
    """`host` or `host:port` as the URL authority, accepting a pasted `http://host/`."""
    text = host.strip()
    if text.lower().startswith("http://"):
        text = text[len("http://") :]
    text = text.rstrip("/")
    if (
        not text
        or any(char in text for char in "/?#@\\")
        or any(char.isspace() or not char.isprintable() for char in text)
    ):
        msg = "the host is an IP address or name, optionally with :port"
        raise InvalidParameterError(msg)
    if text.count(":") > 1 and not text.startswith("["):
        text = f"[{text}]"  # a bare IPv6 address
    try:
        parts = urlsplit(f"http://{text}/")
        port = parts.port
    except ValueError:
        msg = "the host's port must be a number from 1 to 65535"
        raise InvalidParameterError(msg) from None
    if not parts.hostname or port == 0:
        msg = "the host is an IP address or name, optionally with :port"
        raise InvalidParameterError(msg)
    return text


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or HTTP date), or None when unusable.

    `now` (Unix seconds) is needed only for the date form; without it a date is ignored.
    """
    if value is None:
        return None
    text = value.strip()
    if _SECONDS_RE.fullmatch(text):
        return float(text)
    if "," not in text:
        return None  # negative, or not a number: unusable
    if now is None:
        return None
    try:
        when = parsedate_to_datetime(text)
    except TypeError, ValueError, IndexError, OverflowError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def rate_limit_error(
    retry_after: str | None,
    *,
    now: float | None = None,
    what: str = "the API",
    default: float | None = None,
    detail: str = "",
) -> MeterRateLimitError:
    """A 429 as an error carrying the header's wait (seconds or HTTP date), else `default`."""
    wait = parse_retry_after(retry_after, now=now)
    return MeterRateLimitError(
        f"{what} refused the request: too many requests (HTTP 429){detail}",
        retry_after=default if wait is None else wait,
    )


def error_for_status(
    status: int,
    body: bytes | str = b"",
    *,
    what: str = "the API",
    retry_after: str | None = None,
    now: float | None = None,
    default_retry_after: float | None = None,
    forbidden_is_auth: bool = False,
    refuse_other: bool = True,
) -> MeterError | None:
    """The typed error an HTTP status stands for, quoting the body's `error` text; None for 2xx.

    401 means the key or token was not accepted: a new one would help. 403 means it was, but
    may not do this (MeterPermissionError), except where a service answers 403 for a bad key
    (`forbidden_is_auth`). Other 4xx are MeterApiError, or None with `refuse_other=False` for
    callers that read the error out of the body themselves.
    """
    if 200 <= status < 300:
        return None
    text = api_error_text(body) if body else None
    detail = f": {text}" if text else ""
    if status == 401 or (status == 403 and forbidden_is_auth):
        word = "unauthorized" if status == 401 else "forbidden"
        return MeterAuthError(f"{what} refused the key ({word}, HTTP {status}){detail}")
    if status == 403:
        return MeterPermissionError(f"{what}: not permitted (HTTP 403){detail}")
    if status == 429:
        return rate_limit_error(
            retry_after, now=now, what=what, default=default_retry_after, detail=detail
        )
    if status >= 500:
        return MeterServerError(f"{what} failed (HTTP {status}){detail}", status=status)
    if not refuse_other:
        return None
    return MeterApiError(f"{what} refused the request (HTTP {status}){detail}", status=status)


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: status, the Retry-After header and the body."""

    status: int
    body: bytes
    retry_after: str | None = None


async def read_limited(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole body, or MeterFrameError once it grows beyond `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            msg = f"the answer of {what} is larger than {limit} bytes"
            raise MeterFrameError(msg)
        chunks.append(chunk)
    return b"".join(chunks)


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    secrets: tuple[str | None, ...],
    client_timeout: aiohttp.ClientTimeout,
    max_body: int,
    **options: Any,
) -> Answer:
    """Send one request (`options` go to aiohttp); network trouble as typed errors.

    `what` names the far end in messages ("EKM Push", a host); `secrets` are kept out of them.
    """
    try:
        async with session.request(method, url, timeout=client_timeout, **options) as response:
            body = await read_limited(response, max_body, what)
            return Answer(response.status, body, response.headers.get("Retry-After"))
    except TimeoutError:
        msg = f"{what} did not answer within {client_timeout.total:g} s"
        raise MeterTimeoutError(msg) from None
    except (aiohttp.ClientError, OSError) as err:
        detail = redact(str(err), *secrets) or type(err).__name__
        msg = f"cannot reach {what}: {detail}"
        raise MeterConnectionError(msg) from None
