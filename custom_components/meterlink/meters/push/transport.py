"""One HTTP GET of the cloud and Push3 clients (`meters.http` does the work).

A key is in every URL here; redirects are not followed, so it is never sent to another host.
"""

from __future__ import annotations

import aiohttp

from ..http import Answer, request

MAX_BODY = 16 * 1024 * 1024
"""Largest answer accepted: a cnt=1 read of a thousand devices is a few MB."""

__all__ = ["MAX_BODY", "Answer", "get"]


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
    return await request(
        session,
        "GET",
        url,
        what=what,
        secrets=(key,),
        client_timeout=aiohttp.ClientTimeout(total=request_timeout),
        max_body=max_body,
        allow_redirects=False,
    )
