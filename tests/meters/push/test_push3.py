"""The Push3 LAN client against the fake gateway and against the real answer's shape.

The real shape is tests/fixtures/push3_gateway.json (from reedr/ha-ekm-local, see the fixtures
README), served verbatim by a throw-away aiohttp app; the simulator serves the same meters as
the cloud and RS-485 simulators, so its truth is the shared read history.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from custom_components.meterlink.meters.errors import (
    MeterAuthError,
    MeterFrameError,
    MeterServerError,
)
from custom_components.meterlink.meters.push.models import TIMESTAMP_FIELD
from custom_components.meterlink.meters.push.push3 import Push3Client, gateway_unique_id
from simulator.ekm.push3 import Push3Simulator
from simulator.ekm.push_cloud import PushSimulator, SimIoStack

from ..conftest import V3_ADDRESS, V4_ADDRESS, make_meters

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "push3_gateway.json"
STACK = "000000900001"


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def gateway(clock: Clock) -> AsyncIterator[Push3Simulator]:
    cloud = PushSimulator(make_meters(), [SimIoStack(STACK)], clock=clock)
    simulator = Push3Simulator(cloud)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def test_lan_reading_is_the_shared_truth(
    gateway: Push3Simulator, session: aiohttp.ClientSession
) -> None:
    client = Push3Client(session, gateway.host, gateway.key)
    readings = await client.read()
    assert client.host == gateway.host
    assert set(readings.meters) == set(gateway.cloud.meters)
    for address, meter in readings.meters.items():
        truth = gateway.cloud.newest_good(address)
        assert truth is not None
        assert dict(meter.reading.fields) == {**truth.values, TIMESTAMP_FIELD: truth.timestamp_ms}
        assert meter.reliability == 100
    stack = readings.iostacks[STACK]
    truth = gateway.cloud.newest_good(STACK)
    assert truth is not None
    assert {k: v for k, v in stack.fields.items() if k != "Reliability_Ratio"} == {
        **truth.values,
        TIMESTAMP_FIELD: truth.timestamp_ms,
    }
    assert gateway_unique_id(readings) == f"push3-{min(gateway.devices)}"
    assert gateway_unique_id(await client.read()) == gateway_unique_id(readings)


async def test_wrong_key_is_http_500_with_a_page(
    gateway: Push3Simulator, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(MeterAuthError) as caught:
        await Push3Client(session, gateway.host, "d3Jvbmc=").read()
    assert "d3Jvbmc=" not in str(caught.value)


@pytest.mark.parametrize(("status", "error"), [(503, MeterServerError), (403, MeterAuthError)])
async def test_gateway_failures(
    gateway: Push3Simulator,
    session: aiohttp.ClientSession,
    status: int,
    error: type[Exception],
) -> None:
    gateway.faults.http_status = status
    with pytest.raises(error):
        await Push3Client(session, gateway.host, gateway.key).read()


async def test_truncated_answer(gateway: Push3Simulator, session: aiohttp.ClientSession) -> None:
    gateway.faults.truncate = True
    with pytest.raises(MeterFrameError):
        await Push3Client(session, gateway.host, gateway.key).read()


async def test_a_silent_meter_goes_stale_instead_of_zero(
    gateway: Push3Simulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = Push3Client(session, gateway.host, gateway.key)
    first = (await client.read()).meters[V4_ADDRESS]
    gateway.cloud.faults.bad_reads.add(V4_ADDRESS)
    clock.now += 120
    later = await client.read()
    meter = later.meters[V4_ADDRESS]
    assert meter.timestamp_ms == first.timestamp_ms  # the gateway keeps the last good read
    assert meter.is_stale(90, clock.now)
    assert meter.reliability == 50
    assert not later.meters[V3_ADDRESS].is_stale(90, clock.now)


async def test_real_answer_shape_over_http(session: aiohttp.ClientSession) -> None:
    async def answer(request: web.Request) -> web.Response:
        assert request.query["cnt"] == "1"
        return web.Response(text=FIXTURE.read_text(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/readMeter", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        readings = await Push3Client(session, f"127.0.0.1:{site.port}", "key").read()
    finally:
        await runner.cleanup()
    assert set(readings.meters) == {"000000000002", "000300000001"}
    assert readings.iostacks == {}
    v4 = readings.meters["000300000001"].reading
    assert v4.model_name == "Omnimeter Pulse v.4"
    assert v4.number("RMS_Watts_Tot") == 12105
    assert gateway_unique_id(readings) == "push3-000000000002"
