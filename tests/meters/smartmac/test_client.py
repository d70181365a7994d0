"""smart-MAC client and CLI against the simulator over real HTTP on loopback.

Rate limits run on a fake clock shared by the client and the simulator: the client's budget
sleeps by moving that clock, and the simulator records when each request arrived on it, so a
minute-long budget is checked in milliseconds and from the device's side.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from custom_components.meterlink.meters import cli
from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterAddressError,
    MeterAuthError,
    MeterCommandError,
    MeterConnectionError,
    MeterFrameError,
    MeterRateLimitError,
    MeterTimeoutError,
)
from custom_components.meterlink.meters.smartmac.client import SmartMacClient
from custom_components.meterlink.meters.smartmac.models import (
    RelayPolarity,
    SmartMacModel,
    relay_on,
)
from simulator.smartmac import Offline, SimSmartMac, SmartMacSimulator, WrongPinAnswer

ROOT = Path(__file__).resolve().parents[3]
PIN = "937451"
EXT, STD, D101, D105 = "1728053249", "1728053250", "1728053251", "1728053252"


class FakeClock:
    """Monotonic time that only moves when someone sleeps on it (or a test advances it)."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def devices() -> list[SimSmartMac]:
    """Devices that follow the vendor's request text (pout 0 = on), as these tests assume."""
    vendor = {"pin": PIN, "pout_on": "0"}
    return [
        SimSmartMac(EXT, SmartMacModel.D103, extended=True, **vendor),
        SimSmartMac(STD, SmartMacModel.D103, extended=False, **vendor),
        SimSmartMac(D101, SmartMacModel.D101, extended=False, own_port=True, **vendor),
        SimSmartMac(D105, SmartMacModel.D105, **vendor),
    ]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[SmartMacSimulator]:
    simulator = SmartMacSimulator(devices(), clock=clock)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


type MakeClient = Callable[..., SmartMacClient]


@pytest.fixture
def make_client(
    sim: SmartMacSimulator, session: aiohttp.ClientSession, clock: FakeClock
) -> MakeClient:
    def make(devid: str = EXT, pin: str = PIN, **kwargs: Any) -> SmartMacClient:
        options: dict[str, Any] = {"clock": clock, "sleep": clock.sleep, **kwargs}
        return SmartMacClient(session, sim.host_for(devid), devid, pin, **options)

    return make


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


# Reading every model -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("devid", "model", "extended"),
    [
        (EXT, SmartMacModel.D103, True),
        (STD, SmartMacModel.D103, False),
        (D101, SmartMacModel.D101, False),
        (D105, SmartMacModel.D105, False),
    ],
)
async def test_every_model_reads_what_the_device_served(
    make_client: MakeClient,
    sim: SmartMacSimulator,
    devid: str,
    model: SmartMacModel,
    extended: bool,
) -> None:
    reading = await make_client(devid).read()
    device = sim.devices[devid]
    assert reading.devid == devid
    assert reading.model is model
    assert reading.extended is extended
    assert dict(reading.values) == device.last_numbers
    assert reading.extra == {}
    assert reading.pout == device.pout == "1"
    assert reading.time == sim.wall_time()


async def test_key_sets_per_model(make_client: MakeClient) -> None:
    extended = set((await make_client(EXT).read()).values)
    standard = set((await make_client(STD).read()).values)
    single = set((await make_client(D101).read()).values)
    pulses = set((await make_client(D105).read()).values)
    per_phase = {f"{key}{n}" for key in ("V", "A", "W", "Wh") for n in (1, 2, 3)}
    assert standard == per_phase | {"A", "W", "TWh", "T"}
    assert extended == standard | {
        f"{key}{n}" for key in ("rW", "rWh", "PF", "Fr") for n in (1, 2, 3)
    } | {"rW", "rTWh"}
    assert single == {"V", "A", "W", "Wh", "T"}
    assert pulses == {"Ch1", "Ch2", "TCh1", "TCh2", "T1", "T2", "T3", "T4", "T5", "ADC"}


async def test_energy_integrates_power_between_reads(
    make_client: MakeClient, sim: SmartMacSimulator, clock: FakeClock
) -> None:
    client = make_client(STD)
    first = await client.read()
    clock.now += 3600
    second = await client.read()
    assert second.values["Wh1"] - first.values["Wh1"] in {586, 587}  # 586 W for an hour
    assert second.values["TWh"] == sum(second.values[f"Wh{n}"] for n in (1, 2, 3))
    assert first.time is not None
    assert second.time == first.time + 3600
    assert dict(second.values) == sim.devices[STD].last_numbers


# Wrong PIN, whatever it looks like -----------------------------------------------------------


@pytest.mark.parametrize("answer", list(WrongPinAnswer))
async def test_wrong_pin_in_every_shape_is_an_auth_error(
    make_client: MakeClient,
    sim: SmartMacSimulator,
    caplog: pytest.LogCaptureFixture,
    answer: WrongPinAnswer,
) -> None:
    sim.devices[EXT].wrong_pin_answer = answer
    wrong = "480613"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MeterAuthError) as caught:
        await make_client(EXT, pin=wrong).read()
    assert wrong not in str(caught.value)
    assert wrong not in caplog.text
    assert sim.devices[EXT].requests[-1].outcome == "wrong-pin"


async def test_unknown_device_id_is_an_auth_error(make_client: MakeClient) -> None:
    with pytest.raises(MeterAuthError):
        await make_client("999").read()


# Rate limits: the device's 429 and the client's own budget ---------------------------------


@pytest.mark.parametrize(("devid", "interval"), [(EXT, 6), (STD, 60)])
async def test_429_from_the_device_carries_retry_after(
    make_client: MakeClient, sim: SmartMacSimulator, devid: str, interval: int
) -> None:
    await make_client(devid).read()  # another poller (say the CLI) just asked
    client = make_client(devid)
    with pytest.raises(MeterRateLimitError) as caught:
        await client.read()
    assert caught.value.retry_after == interval
    assert sim.devices[devid].requests[-1].status == 429


async def test_429_without_retry_after_backs_off_one_standard_interval(
    make_client: MakeClient, sim: SmartMacSimulator, clock: FakeClock
) -> None:
    sim.devices[EXT].retry_after_header = False
    await make_client(EXT).read()
    client = make_client(EXT)
    with pytest.raises(MeterRateLimitError) as caught:
        await client.read()
    assert caught.value.retry_after == 60  # nothing known yet: assume a standard device
    # The back-off holds: a caller that will not wait gets no request sent at all.
    sent = len(sim.devices[EXT].requests)
    with pytest.raises(MeterRateLimitError) as again:
        await client.read(max_wait=0)
    assert again.value.retry_after == pytest.approx(60)
    assert len(sim.devices[EXT].requests) == sent
    # One that waits gets its reading after the back-off.
    reading = await client.read()
    assert reading.extended
    assert clock.sleeps[-1] == pytest.approx(60)


async def test_budget_keeps_every_request_apart_by_the_model_interval(
    make_client: MakeClient, sim: SmartMacSimulator, clock: FakeClock
) -> None:
    standard, extended = make_client(STD), make_client(EXT)
    assert standard.interval == extended.interval == 60  # unknown before the first reading
    for _ in range(3):
        await standard.read()
        await extended.read()
    await standard.set_relay(True, RelayPolarity.VENDOR_DOC)
    await extended.set_relay(True, RelayPolarity.VENDOR_DOC)
    await extended.read()
    assert (standard.interval, extended.interval) == (60, 6)
    for devid, interval in ((STD, 60), (EXT, 6)):
        device = sim.devices[devid]
        assert {request.outcome for request in device.requests} == {"ok"}
        assert all(gap >= interval for gap in gaps(device.request_times))
    # The extended device went at its own pace once it was known, not at the standard one.
    assert min(gaps(sim.devices[EXT].request_times)) == pytest.approx(6)


async def test_concurrent_callers_share_one_budget(
    make_client: MakeClient, sim: SmartMacSimulator
) -> None:
    client = make_client(STD)
    readings = await asyncio.gather(
        client.read(),
        client.set_relay(True, RelayPolarity.VENDOR_DOC),
        client.read(),
        client.set_relay(False, RelayPolarity.VENDOR_DOC),
    )
    assert len(readings) == 4
    times = sim.devices[STD].request_times
    assert len(times) == 4
    assert all(gap >= 60 for gap in gaps(times))


async def test_max_wait_counts_a_request_queued_ahead(
    make_client: MakeClient, sim: SmartMacSimulator, clock: FakeClock
) -> None:
    """A relay command behind a poll that waits its turn is refused at once, not a minute later."""
    gate, sleeping = asyncio.Event(), asyncio.Event()

    async def gated_sleep(seconds: float) -> None:
        sleeping.set()
        await gate.wait()
        clock.now += seconds

    client = make_client(STD, sleep=gated_sleep)
    await client.read()
    poll = asyncio.create_task(client.read())
    await sleeping.wait()
    with pytest.raises(MeterRateLimitError) as caught:
        await client.set_relay(True, RelayPolarity.VENDOR_DOC, max_wait=5)
    assert caught.value.retry_after == pytest.approx(120)  # the poll's slot, then one interval
    gate.set()
    await poll
    assert [request.pout for request in sim.devices[STD].requests] == [None, None]


async def test_a_wait_longer_than_max_wait_is_refused_without_a_request(
    make_client: MakeClient, sim: SmartMacSimulator, clock: FakeClock
) -> None:
    client = make_client(STD, max_wait=10)
    await client.read()
    clock.now += 45
    with pytest.raises(MeterRateLimitError) as caught:
        await client.set_relay(True, RelayPolarity.VENDOR_DOC)
    assert caught.value.retry_after == pytest.approx(15)
    assert len(sim.devices[STD].requests) == 1
    assert client.seconds_until_allowed() == pytest.approx(15)
    await client.read(max_wait=15)
    assert gaps(sim.devices[STD].request_times) == [pytest.approx(60)]


# Relay ------------------------------------------------------------------------------------


async def test_relay_with_vendor_polarity(make_client: MakeClient, sim: SmartMacSimulator) -> None:
    client = make_client(EXT)
    device = sim.devices[EXT]
    reading = await client.set_relay(True, RelayPolarity.VENDOR_DOC)
    assert device.pout == "0"  # on, as the simulator reads the vendor doc
    assert device.requests[-1].pout == "0"
    assert reading.pout == "0"
    assert relay_on(reading, RelayPolarity.VENDOR_DOC) is True
    reading = await client.set_relay(False, RelayPolarity.VENDOR_DOC)
    assert device.relay_on is False
    assert device.requests[-1].pout == "1"
    assert relay_on(reading, RelayPolarity.VENDOR_DOC) is False
    assert relay_on(await client.read(), RelayPolarity.VENDOR_DOC) is False
    assert all(gap >= 6 for gap in gaps(device.request_times))


async def test_relay_with_inverted_polarity(
    make_client: MakeClient, sim: SmartMacSimulator
) -> None:
    """A firmware where 1 means on: the same command sends the other value."""
    client = make_client(STD)
    device = sim.devices[STD]
    reading = await client.set_relay(True, RelayPolarity.INVERTED)
    assert device.requests[-1].pout == "1"
    assert relay_on(reading, RelayPolarity.INVERTED) is True
    assert device.relay_on is False  # the simulator follows the vendor doc
    reading = await client.set_relay(False, RelayPolarity.INVERTED)
    assert device.requests[-1].pout == "0"
    assert relay_on(reading, RelayPolarity.INVERTED) is False
    assert all(gap >= 60 for gap in gaps(device.request_times))


async def test_relay_with_a_wrong_pin_is_an_auth_error(
    make_client: MakeClient, sim: SmartMacSimulator
) -> None:
    with pytest.raises(MeterAuthError):
        await make_client(EXT, pin="1").set_relay(True, RelayPolarity.VENDOR_DOC)
    assert sim.devices[EXT].relay_on is False


# Offline and recovery ---------------------------------------------------------------------


async def test_refused_connection_then_recovery(
    make_client: MakeClient, sim: SmartMacSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(D101)  # on its own port, like a real device
    await client.read()
    await sim.set_offline(Offline.REFUSE, D101)
    with pytest.raises(MeterConnectionError) as caught:
        await client.read()
    assert not isinstance(caught.value, MeterAuthError)
    assert PIN not in str(caught.value)
    assert PIN not in caplog.text
    await sim.set_online(D101)
    reading = await client.read()
    assert reading.devid == D101
    assert all(gap >= 60 for gap in gaps(sim.devices[D101].request_times))


async def test_silent_device_times_out_then_recovers(
    make_client: MakeClient, sim: SmartMacSimulator
) -> None:
    client = make_client(EXT, request_timeout=0.3)
    await sim.set_offline(Offline.SILENT)
    with pytest.raises(MeterTimeoutError):
        await client.read()
    await sim.set_online()
    assert (await client.read()).devid == EXT


def free_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_nothing_listening(session: aiohttp.ClientSession, clock: FakeClock) -> None:
    host = f"127.0.0.1:{free_port()}"
    client = SmartMacClient(session, host, EXT, PIN, clock=clock, sleep=clock.sleep)
    with pytest.raises(MeterConnectionError) as caught:
        await client.read()
    assert host in str(caught.value)
    assert PIN not in str(caught.value)


async def test_bad_host_is_refused_before_anything_is_sent(
    session: aiohttp.ClientSession,
) -> None:
    with pytest.raises(InvalidParameterError):
        SmartMacClient(session, "meter/?page=x", EXT, PIN)


# Answers the simulator does not give: a scripted server ----------------------------------

type Script = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def scripted(
    session: aiohttp.ClientSession, clock: FakeClock
) -> AsyncIterator[Callable[[Script], Awaitable[SmartMacClient]]]:
    runners: list[web.AppRunner] = []

    async def serve(script: Script) -> SmartMacClient:
        app = web.Application()
        app.router.add_get("/", script)
        app.router.add_get("/login", _login_page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host = f"127.0.0.1:{site.port}"
        return SmartMacClient(session, host, EXT, PIN, clock=clock, sleep=clock.sleep)

    yield serve
    for runner in runners:
        await runner.cleanup()


async def _login_page(request: web.Request) -> web.Response:
    return web.Response(text="<title>Login</title>", content_type="text/html")


def _reading(devid: str = EXT, pout: str = "1") -> str:
    data = {"V1": {"name": "Voltage 1", "unit": "V", "value": "230.00"}}
    return json.dumps({"devid": devid, "time": "1530607456", "pout": pout, "data": data})


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error_is_a_connection_error_with_its_status(
    scripted: Callable[[Script], Awaitable[SmartMacClient]], status: int
) -> None:
    async def script(request: web.Request) -> web.Response:
        return web.Response(status=status, text="oops")

    client = await scripted(script)
    with pytest.raises(MeterConnectionError, match=str(status)):
        await client.read()


async def test_redirect_to_a_login_page_is_an_auth_error(
    scripted: Callable[[Script], Awaitable[SmartMacClient]],
) -> None:
    async def script(request: web.Request) -> web.Response:
        raise web.HTTPFound("/login")

    client = await scripted(script)
    with pytest.raises(MeterAuthError):
        await client.read()


async def test_another_device_answering_is_refused(
    scripted: Callable[[Script], Awaitable[SmartMacClient]],
) -> None:
    async def script(request: web.Request) -> web.Response:
        return web.Response(text=_reading(devid="1"), content_type="application/json")

    client = await scripted(script)
    with pytest.raises(MeterAddressError):
        await client.read()
    assert client.last_reading is None


async def test_oversized_answer_is_a_frame_error(
    scripted: Callable[[Script], Awaitable[SmartMacClient]],
) -> None:
    async def script(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(64):
            await response.write(b" " * 16384)
        await response.write_eof()
        return response

    client = await scripted(script)
    with pytest.raises(MeterFrameError, match="larger"):
        await client.read()


async def test_relay_answer_that_is_unreadable_is_a_command_error(
    scripted: Callable[[Script], Awaitable[SmartMacClient]],
) -> None:
    """Whether the relay switched is unknown, so it is not reported as a plain frame error.

    A reading is asked for to find out; when that is unreadable too, it stays unconfirmed.
    """
    seen: list[str | None] = []

    async def script(request: web.Request) -> web.Response:
        seen.append(request.query.get("pout"))
        return web.Response(text="Unknown error")

    client = await scripted(script)
    with pytest.raises(MeterCommandError, match="unconfirmed"):
        await client.set_relay(True, RelayPolarity.VENDOR_DOC)
    assert seen == ["0", None]


async def test_the_request_is_the_vendor_doc_query(
    scripted: Callable[[Script], Awaitable[SmartMacClient]],
) -> None:
    seen: list[list[tuple[str, str]]] = []

    async def script(request: web.Request) -> web.Response:
        seen.append(list(request.query.items()))
        return web.Response(text=_reading(), content_type="application/json")

    client = await scripted(script)
    await client.read()
    await client.set_relay(False, RelayPolarity.VENDOR_DOC)
    assert seen == [
        [("page", "getdata"), ("devid", EXT), ("devpass", PIN)],
        [("page", "getdata"), ("devid", EXT), ("devpass", PIN), ("pout", "1")],
    ]


# Command line -----------------------------------------------------------------------------


def args_for(sim: SmartMacSimulator, devid: str, *extra: str, pin: str = PIN) -> list[str]:
    host = sim.host_for(devid)
    return ["smartmac", *extra[:1], "--host", host, "--device-id", devid, "--pin", pin, *extra[1:]]


async def test_cli_read_json(sim: SmartMacSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli.async_main(args_for(sim, EXT, "read", "--json")) == 0
    out, err = capsys.readouterr()
    assert err == ""
    printed = json.loads(out)
    device = sim.devices[EXT]
    assert printed == {
        **device.last_numbers,
        "devid": EXT,
        "time": str(sim.wall_time()),
        "pout": "1",
    }
    assert isinstance(printed["Wh1"], int)
    assert isinstance(printed["V1"], float)


async def test_cli_read_table(sim: SmartMacSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli.async_main(args_for(sim, D105, "read")) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"device {D105} (D105), 2018-07-03T08:44:16+00:00, pout=1")
    assert "TCh1" in out
    assert "°C" in out


async def test_cli_wrong_pin(sim: SmartMacSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = "480613"
    assert await cli.async_main(args_for(sim, EXT, "read", pin=wrong)) == 6
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("meter: PIN refused: ")
    assert wrong not in err


async def test_cli_rate_limited(
    sim: SmartMacSimulator, make_client: MakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_client(EXT).read()
    assert await cli.async_main(args_for(sim, EXT, "read")) == 9
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("meter: rate limited: ")
    assert err.rstrip().endswith("retry in 6 s")


async def test_cli_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    host = f"127.0.0.1:{free_port()}"
    argv = ["smartmac", "read", "--host", host, "--device-id", EXT, "--pin", PIN]
    assert await cli.async_main(argv) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("meter: cannot reach the device: ")
    assert PIN not in err


async def test_cli_silent_device_times_out(
    sim: SmartMacSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    await sim.set_offline(Offline.SILENT)
    assert await cli.async_main(args_for(sim, EXT, "read", "--timeout", "0.2")) == 4
    assert capsys.readouterr().err.startswith("meter: timeout: ")


@pytest.mark.parametrize(
    ("polarity", "state", "sent", "relay"),
    [
        ("vendor", "on", "0", True),
        ("vendor", "off", "1", False),
        ("inverted", "on", "1", False),
    ],
)
async def test_cli_relay(
    sim: SmartMacSimulator,
    capsys: pytest.CaptureFixture[str],
    polarity: str,
    state: str,
    sent: str,
    relay: bool,
) -> None:
    argv = args_for(sim, STD, "relay", "--state", state, "--polarity", polarity)
    assert await cli.async_main(argv) == 0
    device = sim.devices[STD]
    assert device.requests[-1].pout == sent
    assert device.relay_on is relay
    out = capsys.readouterr().out.strip()
    assert out == (
        f"device {STD}: sent pout={sent} ({state}, {polarity} polarity); "
        f"device reports pout={sent} ({state})"
    )


async def test_cli_relay_json(sim: SmartMacSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    argv = args_for(sim, D101, "relay", "--state", "on", "--json")
    assert await cli.async_main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["pout"] == "0"
    assert printed["devid"] == D101
    assert sim.devices[D101].relay_on is True


async def test_cli_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        await cli.async_main(["smartmac", "read", "--host", "127.0.0.1"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--device-id" in err


async def test_cli_entry_point_as_a_process(sim: SmartMacSimulator) -> None:
    """The real `scripts/meter` entry: exit code and one stderr line, no traceback, no PIN."""
    wrong = "480613"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.meterlink.meters.cli",
        *args_for(sim, EXT, "read", pin=wrong),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 6
    assert out == b""
    assert err.decode().startswith("meter: PIN refused: ")
    assert b"Traceback" not in err
    assert wrong.encode() not in err
