"""Telling a READ token from a READ/WRITE one without changing anything (issue 11, A10).

Deleting a made-up trigger was the old probe: an API that answers 403 for a trigger the
token's account does not own (an OWNER token; seed 001 does not say which status) made a
READ/WRITE token look READ-only. The probe now writes an empty trigger to the key's own
gateway: the permission check (READ "allows only GET requests") comes first, the empty trigger
is refused as invalid, and the object is the account's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from custom_components.meterlink.meters.errors import MeterAuthError, MeterPermissionError
from custom_components.meterlink.meters.push.triggers import TriggerClient
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_device_api import DeviceApiSimulator, SimGateway, TokenInfo

METER = "000300004127"
GATEWAY = "4016fa0500cd"
KEY = "MTAxMDoyMDIw"
WRITE_TOKEN = "owner-write-token-1"
READ_TOKEN = "owner-read-token-2"


@pytest.fixture
async def api() -> AsyncIterator[tuple[DeviceApiSimulator, str]]:
    sim = DeviceApiSimulator(
        {METER: SimMeter(METER)},
        {},
        [SimGateway(GATEWAY, "acme", KEY, {METER})],
        {WRITE_TOKEN: TokenInfo("acme"), READ_TOKEN: TokenInfo("acme", write=False)},
    )
    url = await sim.start()
    yield sim, url
    await sim.stop()


@pytest.mark.parametrize("unknown_trigger_status", [404, 403])
async def test_the_probe_tells_write_from_read_whatever_unknown_triggers_get(
    api: tuple[DeviceApiSimulator, str], unknown_trigger_status: int, socket_enabled: None
) -> None:
    sim, url = api
    sim.unknown_trigger_status = unknown_trigger_status
    async with aiohttp.ClientSession() as session:
        writer = TriggerClient(session, WRITE_TOKEN, KEY, api_url=url)
        reader = TriggerClient(session, READ_TOKEN, KEY, api_url=url)
        assert await writer.may_write(GATEWAY) is True
        assert await reader.may_write(GATEWAY) is False
        if unknown_trigger_status == 403:  # what made the old probe take it for READ
            with pytest.raises(MeterPermissionError):
                await writer.delete("0" * 32)
        assert await writer.may_write("40:16:FA:05:00:CD") is True
        with pytest.raises(MeterAuthError):
            await TriggerClient(session, "nobody", KEY, api_url=url).may_write(GATEWAY)
    assert sim.triggers == {}  # nothing was created
    assert [r.status for r in sim.requests if r.method == "POST"] == [400, 403, 400, 401]


@pytest.mark.parametrize(("status", "body"), [(404, "{}"), (500, "oops"), (200, '{"trigger": {}}')])
async def test_an_answer_that_proves_nothing_leaves_it_unknown(
    status: int, body: str, socket_enabled: None
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/api/trigger", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = TriggerClient(
                session, WRITE_TOKEN, KEY, api_url=f"http://127.0.0.1:{site.port}"
            )
            assert await client.may_write(GATEWAY) is None
    finally:
        await runner.cleanup()
