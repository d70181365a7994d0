"""The smart-MAC simulator, checked with plain HTTP (no MeterLink code) against the vendor doc."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import pytest

from custom_components.meterlink.meters.smartmac.models import SmartMacModel
from simulator.smartmac import (
    Offline,
    SimSmartMac,
    SmartMacSimulator,
    WrongPinAnswer,
)

ROOT = Path(__file__).resolve().parents[3]
PIN = "012345"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sim(clock: Clock) -> AsyncIterator[SmartMacSimulator]:
    simulator = SmartMacSimulator(
        [
            SimSmartMac("1", SmartMacModel.D103, extended=True),
            SimSmartMac("2", SmartMacModel.D103, extended=False),
            SimSmartMac("3", SmartMacModel.D101, extended=False, own_port=True),
            SimSmartMac("4", SmartMacModel.D105),
        ],
        clock=clock,
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, Mapping[str, str], str]:
    async with session.get(url) as response:
        return response.status, response.headers, await response.text()


async def served(session: aiohttp.ClientSession, url: str) -> dict[str, object]:
    status, _, text = await get(session, url)
    assert status == 200
    document: dict[str, object] = json.loads(text, strict=False)
    return document


async def test_answer_looks_like_the_vendor_doc(
    sim: SmartMacSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(sim.url_for("1")) as response:
        assert response.status == 200
        assert response.headers["Server"] == "smart-MAC"
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert response.headers["Connection"] == "close"
        text = await response.text()
    assert '"br0":{"name":"\n"}' in text  # the raw newline of the doc's example
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    document = json.loads(text, strict=False)
    assert list(document) == ["devid", "time", "pout", "data"]
    assert document["devid"] == "1"
    assert document["time"] == "1530607456"
    data = document["data"]
    assert data["V1"] == {"name": "Voltage 1", "unit": "V", "value": "220.89"}
    assert data["Wh1"] == {"name": "Energy 1", "unit": "Wh", "value": "33549075"}
    assert data["PF3"] == {"name": "Power Factor 3", "unit": "", "value": "0.60"}
    assert data["TWh"]["value"] == "45 091 722"  # thousands grouped with spaces
    assert data["T"] == {"name": "Temperature", "unit": "°C", "value": "14"}
    assert all(isinstance(entry.get("value", ""), str) for entry in data.values())
    assert sim.devices["1"].last_served["TWh"] == "45 091 722"
    assert sim.devices["1"].last_numbers["TWh"] == 45091722


async def test_standard_d103_has_no_extended_keys(
    sim: SmartMacSimulator, session: aiohttp.ClientSession
) -> None:
    data = (await served(session, sim.url_for("2")))["data"]
    assert isinstance(data, dict)
    assert not {key for key in data if key.startswith(("rW", "PF", "Fr", "rTWh"))}
    assert {"V1", "A2", "W3", "Wh1", "A", "W", "TWh", "T", "br0"} <= set(data)


async def test_d105_keys(sim: SmartMacSimulator, session: aiohttp.ClientSession) -> None:
    data = (await served(session, sim.url_for("4")))["data"]
    assert isinstance(data, dict)
    assert list(data) == ["Ch1", "Ch2", "TCh1", "TCh2", "T1", "T2", "T3", "T4", "T5", "ADC"]


async def test_energy_integrates_power(
    sim: SmartMacSimulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    device = sim.devices["1"]
    await served(session, sim.url_for("1"))
    before = dict(device.last_numbers)
    sim.sync()
    device.watts[2] = -1800.0  # phase 3 now exports
    clock.now += 1800
    await served(session, sim.url_for("1"))
    after = device.last_numbers
    assert after["Wh1"] - before["Wh1"] in {293, 294}  # 586 W for half an hour
    assert after["Wh3"] == before["Wh3"]
    assert after["rWh3"] - before["rWh3"] == 900
    assert (after["W3"], after["rW3"]) == (0, 1800)
    assert after["TWh"] == after["Wh1"] + after["Wh2"] + after["Wh3"]
    assert after["rTWh"] == after["rWh1"] + after["rWh2"] + after["rWh3"]
    assert after["W"] == after["W1"] + after["W2"] + after["W3"]


async def test_advance_moves_time_for_energy_and_rate_limits(
    sim: SmartMacSimulator, session: aiohttp.ClientSession
) -> None:
    document = await served(session, sim.url_for("4"))
    sim.advance(60)
    later = await served(session, sim.url_for("4"))
    assert int(str(later["time"])) - int(str(document["time"])) == 60
    assert sim.devices["4"].last_numbers["TCh1"] == 10450 + 12


async def test_rate_limit_per_model(
    sim: SmartMacSimulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    await served(session, sim.url_for("1"))
    await served(session, sim.url_for("2"))
    clock.now += 5
    status, headers, _ = await get(session, sim.url_for("1"))
    assert (status, headers["Retry-After"]) == (429, "1")
    status, headers, _ = await get(session, sim.url_for("2"))
    assert (status, headers["Retry-After"]) == (429, "55")
    clock.now += 1
    assert (await get(session, sim.url_for("1")))[0] == 200
    sim.devices["2"].retry_after_header = False
    status, headers, _ = await get(session, sim.url_for("2"))
    assert status == 429
    assert "Retry-After" not in headers
    outcomes = [request.outcome for request in sim.devices["2"].requests]
    assert outcomes == ["ok", "rate-limited", "rate-limited"]


@pytest.mark.parametrize(
    ("answer", "status", "content_type", "marker"),
    [
        (WrongPinAnswer.LOGIN_PAGE, 200, "text/html", "<title>Login</title>"),
        (WrongPinAnswer.HTTP_401, 401, "text/plain", "Unauthorized"),
        (WrongPinAnswer.JSON_ERROR, 200, "application/json", '"error": "wrong password"'),
    ],
)
async def test_wrong_pin_shapes(
    sim: SmartMacSimulator,
    session: aiohttp.ClientSession,
    answer: WrongPinAnswer,
    status: int,
    content_type: str,
    marker: str,
) -> None:
    sim.devices["1"].wrong_pin_answer = answer
    url = sim.url_for("1").replace(f"devpass={PIN}", "devpass=999999")
    got_status, headers, text = await get(session, url)
    assert got_status == status
    assert headers["Content-Type"].startswith(content_type)
    assert marker in text
    assert sim.devices["1"].requests[-1].outcome == "wrong-pin"


async def test_relay_follows_the_devices_own_answers_by_default(
    sim: SmartMacSimulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    # "pout": "0", // relay status 0-Off / 1-On (the vendor's annotated answer, seed 004)
    document = await served(session, sim.url_for("1", pout="1"))
    assert document["pout"] == "1"
    assert sim.devices["1"].relay_on is True
    clock.now += 6
    document = await served(session, sim.url_for("1", pout="0"))
    assert document["pout"] == "0"
    assert sim.devices["1"].relay_on is False


async def test_a_device_can_follow_the_vendors_request_text_instead(
    sim: SmartMacSimulator, session: aiohttp.ClientSession
) -> None:
    sim.devices["2"].pout_on = "0"  # "pout: 0 - turn-on / 1 - turn-off"
    document = await served(session, sim.url_for("2", pout="0"))
    assert document["pout"] == "0"
    assert sim.devices["2"].relay_on is True


async def test_devices_on_their_own_port_answer_only_there(
    sim: SmartMacSimulator, session: aiohttp.ClientSession
) -> None:
    assert sim.host_for("3") != sim.host_for("1")
    assert sim.host_for("1") == sim.host_for("2") == sim.host_for()
    shared = sim.url_for("1").replace("devid=1", "devid=3")
    status, _, text = await get(session, shared)
    assert (status, "<title>Login</title>" in text) == (200, True)
    assert (await served(session, sim.url_for("3")))["devid"] == "3"
    own = sim.url_for("3").replace("devid=3", "devid=1")
    assert "<title>Login</title>" in (await get(session, own))[2]


async def test_other_pages_are_not_found(
    sim: SmartMacSimulator, session: aiohttp.ClientSession
) -> None:
    assert (await get(session, f"{sim.base_url()}/?page=getwdata"))[0] == 404


async def test_offline_refuse_and_back_on_the_same_port(
    sim: SmartMacSimulator, session: aiohttp.ClientSession, clock: Clock
) -> None:
    host = sim.host_for("3")
    await sim.set_offline(Offline.REFUSE, "3")
    with pytest.raises(aiohttp.ClientConnectorError):
        await get(session, sim.url_for("3"))
    assert (await get(session, sim.url_for("1")))[0] == 200  # the shared port is unaffected
    await sim.set_online("3")
    assert sim.host_for("3") == host
    assert (await served(session, sim.url_for("3")))["devid"] == "3"


async def test_offline_silent_never_answers(
    sim: SmartMacSimulator, session: aiohttp.ClientSession
) -> None:
    await sim.set_offline(Offline.SILENT)
    with pytest.raises(TimeoutError):
        async with session.get(sim.url_for("1"), timeout=aiohttp.ClientTimeout(total=0.2)):
            pass
    assert sim.devices["1"].requests == []
    await sim.set_online()
    assert (await get(session, sim.url_for("1")))[0] == 200


async def test_stop_twice_and_bad_configurations(sim: SmartMacSimulator) -> None:
    await sim.stop()
    await sim.stop()
    with pytest.raises(RuntimeError):
        sim.host_for("1")
    with pytest.raises(ValueError, match="twice"):
        SmartMacSimulator([SimSmartMac("1"), SimSmartMac("1")])
    with pytest.raises(ValueError, match="D101"):
        SimSmartMac("1", SmartMacModel.UNKNOWN)
    with pytest.raises(ValueError, match="forward"):
        sim.advance(-1)


async def test_command_line_kind(session: aiohttp.ClientSession) -> None:
    """`python -m simulator smartmac` prints one URL per device and serves it until SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "smartmac",
        "--http",
        "127.0.0.1:0",
        "--device",
        "77:d101:4321",
        "--wrong-pin",
        "401",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().split()
        assert line[:2] == ["smartmac", "http"]
        url = line[2]
        assert url.endswith("/?page=getdata&devid=77&devpass=4321")
        document = await served(session, url)
        data = document["data"]
        assert isinstance(data, dict)
        assert set(data) == {"V", "A", "W", "Wh", "T"}
        assert (await get(session, url.replace("4321", "1")))[0] == 401
    finally:
        process.send_signal(signal.SIGTERM)
        await process.communicate()
    assert process.returncode == 0
