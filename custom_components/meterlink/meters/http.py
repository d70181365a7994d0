"""One HTTP request over the caller's aiohttp session, shared by every web transport.

EKM Push, Push3, the Device Settings API and smart-MAC all use it. Failures become the
library's typed errors, and answers are read only up to a size limit (a device or proxy that
streams without end must not fill the memory). Every URL here carries a key, token or PIN, and
aiohttp puts the URL into its exception texts: those texts are redacted and the original
exception is not chained, so a logged traceback cannot show the secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from .errors import MeterConnectionError, MeterFrameError, MeterTimeoutError

REDACTED = "***"
_CHUNK = 64 * 1024


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every secret replaced, verbatim and URL-encoded."""
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                text = text.replace(form, REDACTED)
    return text


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
