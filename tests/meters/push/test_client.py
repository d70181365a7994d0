"""The EKM Push cloud client against the fake Push service over real HTTP on loopback.

The truth is the simulator's read history (`newest_good`), which holds what an RS-485 client
decodes from the same SimMeter objects; one test reads the same meters over the simulated
RS-485 bus and compares. Rate limits run on a fake clock: the client's backoff sleeps move it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from custom_components.meterlink.meters.ekm.bus import EkmBus
from custom_components.meterlink.meters.errors import (
    MeterApiError,
    MeterAuthError,
    MeterConnectionError,
    MeterFrameError,
    MeterRateLimitError,
    MeterServerError,
    MeterTimeoutError,
)
from custom_components.meterlink.meters.push.client import PushClient
from custom_components.meterlink.meters.push.models import TIMESTAMP_FIELD, PushReadings
from custom_components.meterlink.meters.push.status import (
    PushInvalidMeterError,
    PushNoDataError,
    PushQueryError,
)
from simulator.ekm import push_cloud as ekm_push
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_cloud import PushSimulator, SimIoStack
from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import FAST, V3_ADDRESS, V4_ADDRESS, V4_OTHER, make_meters

GW_A, GW_B = "4016fa0500cd", "4016fa0500ce"
STACK = "000000900001"
OTHER_GW_METER = "000300001003"


class FakeClock:
    """Wall time that only moves when someone sleeps on it (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 1_790_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def meters() -> list[SimMeter]:
    return [*make_meters(), SimMeter(OTHER_GW_METER)]


@pytest.fixture
async def sim(clock: FakeClock, meters: list[SimMeter]) -> AsyncIterator[PushSimulator]:
    gateways = {GW_A: [V4_ADDRESS, V4_OTHER, V3_ADDRESS, STACK], GW_B: [OTHER_GW_METER]}
    simulator = PushSimulator(meters, [SimIoStack(STACK)], gateways=gateways, clock=clock)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


type Factory = Callable[..., PushClient]


@pytest.fixture
def client(sim: PushSimulator, session: aiohttp.ClientSession, clock: FakeClock) -> Factory:
    def make(key: str | None = None, **kwargs: Any) -> PushClient:
        options: dict[str, Any] = {
            "api_url": sim.base_url,
            "account_url": sim.base_url,
            "clock": clock,
            "sleep": clock.sleep,
        }
        return PushClient(session, key or sim.account_key, **(options | kwargs))

    return make


def assert_truth(sim: PushSimulator, readings: PushReadings) -> None:
    for address, meter in readings.meters.items():
        truth = sim.newest_good(address)
        assert truth is not None
        assert dict(meter.reading.fields) == {**truth.values, TIMESTAMP_FIELD: truth.timestamp_ms}
        assert meter.timestamp_ms == truth.timestamp_ms
        assert meter.gateway == sim.gateway_of(address)
    for address, stack in readings.iostacks.items():
        truth = sim.newest_good(address)
        assert truth is not None
        assert {k: v for k, v in stack.fields.items() if k not in {"Date", "Time"}} == {
            **truth.values,
            TIMESTAMP_FIELD: truth.timestamp_ms,
        }


async def test_account_key_reads_everything_in_two_requests(
    sim: PushSimulator, client: Factory
) -> None:
    push = client()
    readings = await push.read()
    assert set(readings.meters) == set(sim.meters)
    assert set(readings.iostacks) == {STACK}
    assert readings.missing == {}
    assert_truth(sim, readings)
    assert readings.meters[V3_ADDRESS].reading.version.value == "v3"
    assert push.requests_sent == 2  # discovery, then one batched readMeter
    assert [r.path for r in sim.served] == ["/account/api/account", "/readMeter"]


async def test_cloud_and_rs485_show_the_same_numbers(sim: PushSimulator, client: Factory) -> None:
    bus_sim = EkmBusSimulator(sim.meters.values(), auto_advance=False)
    url = await bus_sim.start_tcp()
    try:
        async with EkmBus(url, timing=FAST) as bus:
            rs485 = {
                address: await bus.read_meter(address, meter.version)
                for address, meter in sim.meters.items()
            }
        readings = await client().read(sim.meters)
    finally:
        await bus_sim.stop()
    for address, reading in rs485.items():
        cloud = dict(readings.meters[address].reading.fields)
        cloud.pop(TIMESTAMP_FIELD)
        assert cloud == dict(reading.fields)
        assert readings.meters[address].reading.version is reading.version


async def test_discovery_and_key_scopes(sim: PushSimulator, client: Factory) -> None:
    everything = await client().discover()
    assert [g.mac for g in everything.gateways] == [GW_A, GW_B]
    assert everything.iostacks == (STACK,)
    assert everything.gateway_of(OTHER_GW_METER) is not None

    gateway = client(sim.gateway_keys[GW_B])
    only_b = await gateway.discover()
    assert [g.mac for g in only_b.gateways] == [GW_B]
    assert set((await gateway.read()).meters) == {OTHER_GW_METER}
    refused = await gateway.read([OTHER_GW_METER, V4_ADDRESS])
    assert set(refused.meters) == {OTHER_GW_METER}
    assert "API 1200" in refused.missing[V4_ADDRESS]
    assert sim.gateway_keys[GW_B] not in refused.missing[V4_ADDRESS]  # the message names the key
    with pytest.raises(PushInvalidMeterError):
        await gateway.read([V4_ADDRESS], isolate=False)

    device = client(sim.device_keys[STACK])
    assert (await device.discover()).iostacks == (STACK,)
    assert set((await device.read()).iostacks) == {STACK}
    meter_key = client(sim.device_keys[V3_ADDRESS])
    assert (await meter_key.discover()).meters == (V3_ADDRESS,)


async def test_batches_stay_within_the_url_limit_over_the_wire(
    sim: PushSimulator, client: Factory
) -> None:
    for n in range(40):
        meter = SimMeter(f"0003000020{n:02d}")
        sim.meters[meter.address] = meter
        sim.history[meter.address] = []
    push = client(max_url_length=200)
    batches = push.batches(sim.meters)
    readings = await push.read(sim.meters)
    assert set(readings.meters) == set(sim.meters)
    assert_truth(sim, readings)
    served = [r for r in sim.served if r.path == "/readMeter"]
    assert len(served) == len(batches) > 1
    assert all(r.url_length <= 200 for r in served)


async def test_no_data_and_invalid_meters_are_isolated(sim: PushSimulator, client: Factory) -> None:
    sim.faults.no_data.add(V4_OTHER)
    push = client()
    wanted = [V4_ADDRESS, V4_OTHER, V3_ADDRESS, "000399999999"]
    readings = await push.read(wanted)
    assert set(readings.meters) == {V4_ADDRESS, V3_ADDRESS}
    # Left out of a batch with data, but named by the 1200 of the batch before bisection.
    assert readings.missing[V4_OTHER] == "not in the answer"
    assert "API 1200" in readings.missing["000399999999"]
    assert push.requests_sent == 2  # the 1200 names the stranger: set aside, the rest asked
    assert "API 1000" in (await push.read([V4_OTHER])).missing[V4_OTHER]
    with pytest.raises(PushNoDataError) as caught:
        await push.read([V4_OTHER], isolate=False)
    assert caught.value.code == 1000


async def test_refusals_that_name_no_device(
    sim: PushSimulator, client: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ekm_push.API_MESSAGES, 1200, "Found invalid meter")
    monkeypatch.setitem(ekm_push.API_MESSAGES, 1000, "There is not data")
    push = client()
    wanted = [V4_ADDRESS, V4_OTHER, V3_ADDRESS, "000399999999"]
    readings = await push.read(wanted)  # split in halves until the stranger is alone
    assert set(readings.meters) == {V4_ADDRESS, V4_OTHER, V3_ADDRESS}
    assert set(readings.missing) == {"000399999999"}
    assert push.requests_sent == 1 + 2 + 2
    known = wanted[:3]
    sim.faults.no_data.update(known)
    for address in known:
        sim.history[address].clear()
    nothing = await push.read(known)  # one request: splitting would only repeat it per meter
    assert set(nothing.missing) == set(known)
    assert push.requests_sent == 6


@pytest.mark.parametrize(
    ("code", "error"),
    [(1000, PushNoDataError), (1101, PushQueryError), (1103, PushQueryError),
     (1300, MeterServerError), (1004, PushNoDataError)],
)  # fmt: skip
async def test_api_status_codes(
    sim: PushSimulator, client: Factory, code: int, error: type[Exception]
) -> None:
    sim.faults.api_code = code
    with pytest.raises(error):
        await client().read([V4_ADDRESS], isolate=False)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, MeterAuthError), (403, MeterAuthError), (500, MeterServerError),
     (503, MeterServerError), (404, MeterApiError)],
)  # fmt: skip
async def test_http_statuses(
    sim: PushSimulator, client: Factory, status: int, error: type[Exception]
) -> None:
    sim.faults.http_status = status
    with pytest.raises(error) as caught:
        await client().read([V4_ADDRESS])
    assert sim.account_key not in str(caught.value)
    with pytest.raises(error):
        await client().discover()


async def test_unknown_key_asks_for_reauth(client: Factory) -> None:
    with pytest.raises(MeterAuthError):
        await client("bm90LWEta2V5").read()


async def test_truncated_json(sim: PushSimulator, client: Factory) -> None:
    sim.faults.truncate = True
    with pytest.raises(MeterFrameError, match="truncated"):
        await client().read([V4_ADDRESS])


async def test_429_waits_the_retry_after_when_allowed(
    sim: PushSimulator, client: Factory, clock: FakeClock
) -> None:
    sim.faults.http_status, sim.faults.retry_after, sim.faults.times = 429, "7", 1
    push = client(max_wait=10)
    readings = await push.read([V4_ADDRESS])
    assert V4_ADDRESS in readings.meters
    assert clock.sleeps == [7]
    assert [r.status for r in sim.served] == [429, 200]


async def test_429_beyond_the_wait_is_raised_and_remembered(
    sim: PushSimulator, client: Factory, clock: FakeClock
) -> None:
    sim.faults.http_status, sim.faults.retry_after = 429, "120"
    push = client(max_wait=10)
    with pytest.raises(MeterRateLimitError) as caught:
        await push.read([V4_ADDRESS])
    assert caught.value.retry_after == 120
    assert push.seconds_until_allowed() == 120
    sim.faults.clear()
    served = len(sim.served)
    with pytest.raises(MeterRateLimitError) as again:
        await push.read([V4_ADDRESS])
    assert again.value.retry_after == 120
    assert len(sim.served) == served  # refused locally: no request provoked another 429
    clock.now += 115
    assert V4_ADDRESS in (await push.read([V4_ADDRESS])).meters
    assert clock.sleeps == [5]


async def test_429_twice_gives_up_after_one_retry(
    sim: PushSimulator, client: Factory, clock: FakeClock
) -> None:
    sim.faults.http_status, sim.faults.retry_after = 429, None  # no header: default 60 s
    with pytest.raises(MeterRateLimitError) as caught:
        await client(max_wait=60).read([V4_ADDRESS])
    assert caught.value.retry_after == 60
    assert clock.sleeps == [60]
    assert len(sim.served) == 2


async def test_bad_reads_are_skipped_for_the_newest_good_one(
    sim: PushSimulator, client: Factory, clock: FakeClock
) -> None:
    sim.auto_poll = False
    sim.poll()
    good = sim.newest_good(V4_ADDRESS)
    clock.now += 60
    sim.meters[V4_ADDRESS].advance(60)
    sim.faults.bad_reads.add(V4_ADDRESS)
    sim.poll()
    push = client()
    newest_only = await push.read([V4_ADDRESS, V3_ADDRESS])
    assert newest_only.missing == {V4_ADDRESS: "only bad reads"}
    assert V3_ADDRESS in newest_only.meters
    deeper = await push.read([V4_ADDRESS], count=5)
    meter = deeper.meters[V4_ADDRESS]
    assert good is not None
    assert meter.timestamp_ms == good.timestamp_ms
    assert_truth(sim, deeper)
    # The newest good read is a minute old: staleness shows it, values are not zeroed.
    assert meter.age(clock.now) == 60
    assert meter.is_stale(30, clock.now)
    assert meter.reading.number("kWh_Tot")


async def test_timeouts_and_unreachable_service(session: aiohttp.ClientSession) -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        push = PushClient(session, "a2V5", api_url=f"http://127.0.0.1:{port}", request_timeout=0.2)
        with pytest.raises(MeterTimeoutError):
            await push.read(["300001001"])
    finally:
        release.set()
        server.close()
        await server.wait_closed()
    push = PushClient(session, "a2V5", api_url="http://127.0.0.1:1")
    with pytest.raises(MeterConnectionError) as caught:
        await push.read(["300001001"])
    assert "a2V5" not in str(caught.value)


async def test_oversized_answer_is_refused(
    sim: PushSimulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_components.meterlink.meters.push import transport

    real_get: Callable[..., Awaitable[transport.Answer]] = transport.get

    async def small_get(*args: Any, **kwargs: Any) -> transport.Answer:
        return await real_get(*args, **kwargs, max_body=100)

    monkeypatch.setattr("custom_components.meterlink.meters.push.client.get", small_get)
    push = PushClient(session, sim.account_key, api_url=sim.base_url)
    with pytest.raises(MeterFrameError, match="larger than 100 bytes"):
        await push.read([V4_ADDRESS])
    assert push.api_url == sim.base_url


@pytest.mark.parametrize("answer", [(200, "{}"), (404, "<html>moved</html>")])
async def test_unusable_account_answer_falls_back_to_readmeter_of_everything(
    sim: PushSimulator, client: Factory, answer: tuple[int, str]
) -> None:
    sim.faults.account_answer = answer
    readings = await client().read()
    assert set(readings.meters) == set(sim.meters)
    assert set(readings.iostacks) == {STACK}
    assert_truth(sim, readings)
    assert sim.served[-1].devices == (*sim.meters, STACK)


async def test_account_api_status_codes_are_not_papered_over(
    sim: PushSimulator, client: Factory
) -> None:
    sim.faults.account_answer = (400, '{"status_code": 1103, "message": "Invalid parameter"}')
    with pytest.raises(PushQueryError):
        await client().read()
