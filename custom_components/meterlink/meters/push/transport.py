"""One HTTP GET over the caller's aiohttp session, with network failures as typed errors.

Shared by the cloud and the Push3 clients. Every URL here carries a key, and aiohttp puts the
URL into its exception texts, so those texts are redacted and the original exception is not
chained (a logged traceback would show the key).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from ..errors import MeterConnectionError, MeterFrameError, MeterTimeoutError
from .status import redact

MAX_BODY = 16 * 1024 * 1024
"""Largest answer accepted: a cnt=1 read of a thousand devices is a few MB."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: status, the Retry-After header and the body."""

    status: int
    body: bytes
    retry_after: str | None = None


async def get(
    session: aiohttp.ClientSession,
    url: str,
    *,
    request_timeout: float,
    key: str,
    what: str,
    max_body: int = MAX_BODY,
) -> Answer:
    """GET `url`; MeterTimeoutError, MeterConnectionError or MeterFrameError (too large)."""
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=request_timeout), allow_redirects=False
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > max_body:
                    msg = f"{what} answered more than {max_body} bytes"
                    raise MeterFrameError(msg)
                chunks.append(chunk)
            return Answer(response.status, b"".join(chunks), response.headers.get("Retry-After"))
    except TimeoutError:
        msg = f"{what} did not answer within {request_timeout:g} s"
        raise MeterTimeoutError(msg) from None
    except (aiohttp.ClientError, OSError) as err:
        detail = redact(str(err), key) or type(err).__name__
        msg = f"cannot reach {what}: {detail}"
        raise MeterConnectionError(msg) from None
