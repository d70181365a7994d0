"""Serving a simulator's aiohttp application: one place for start, stop and `async with`."""

from __future__ import annotations

from typing import Self

from aiohttp import web


class WebService:
    """A simulated web device or service; subclasses fill `app` with their routes."""

    def __init__(self) -> None:
        self.app = web.Application()
        self._runner: web.AppRunner | None = None
        self._host, self._port = "127.0.0.1", 0

    async def listen(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on `host:port` (port 0 = any free one; the chosen one is kept)."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._host, self._port = host, site.port

    @property
    def host(self) -> str:
        """`host:port` of the running service."""
        return f"{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """`http://host:port` of the running service."""
        return f"http://{self.host}"

    async def stop(self) -> None:
        """Stop listening; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.listen()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
