"""The eGauge simulator itself: query grammar, answer shapes, logins and its command line."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from custom_components.meterlink.meters.egauge import EpochMismatch, protocol
from custom_components.meterlink.meters.egauge.client import EgaugeClient
from custom_components.meterlink.meters.errors import (
    MeterApiError,
    MeterCommandError,
    MeterUnsupportedError,
)
from simulator.egauge import (
    EgaugeSimulator,
    SimEgauge,
    SimUser,
    bench_registers,
    select_registers,
    time_point,
    wrap64,
)

from .conftest import FakeClock

ROOT = Path(__file__).resolve().parents[3]


def test_users_from_the_command_line() -> None:
    assert SimUser.parse("a:pw:save,ctrl") == SimUser("a", "pw", frozenset({"save", "ctrl"}))
    assert SimUser.parse("a:pw:") == SimUser("a", "pw", frozenset())
    assert SimUser.parse("a:pw:none").rights == frozenset()
    assert SimUser.parse("a:p:w:save+ctrl") == SimUser("a", "p:w", frozenset({"save", "ctrl"}))
    assert SimUser.parse("a:pw") == SimUser("a", "pw", frozenset())
    for bad in ("a", ":pw:save", "a:pw:root"):
        with pytest.raises(ValueError, match=r"expected USER|rights are"):
            SimUser.parse(bad)


def test_register_selector_grammar() -> None:
    every = range(10)
    assert select_registers("all", every) == set(every)
    assert select_registers("none", every) == set()
    assert select_registers("none+3+5", every) == {3, 5}
    assert select_registers("none 3 5", every) == {3, 5}  # an unencoded `+`
    assert select_registers("all-0:7", every) == {8, 9}
    assert select_registers("3:5+7", every) == {3, 4, 5, 7}
    assert select_registers("12", every) == set()


def test_time_expressions() -> None:
    assert time_point("now", 1000.5, 7) == 1000.5
    assert time_point("epoch", 1000.5, 7) == 7
    assert time_point("now-86400", 100_000, 7) == 13_600
    assert time_point("+100+5-1", 0, 0) == 104
    with pytest.raises(ValueError, match=r"now\*2"):
        time_point("now*2", 0, 0)
    with pytest.raises(ValueError, match="soon"):
        time_point("soon", 0, 0)


def test_wrap_and_bench_registers() -> None:
    assert wrap64(2**63) == -(2**63)
    registers = bench_registers(64)
    assert len(registers) == 64
    assert sum(r.virtual for r in registers) == 2


async def test_register_query_shapes(client: EgaugeClient, meter: SimEgauge) -> None:
    formula = await client.call("GET", "/register", params={"virtual": "formula"})
    assert isinstance(formula, dict)
    use = formula["registers"][0]
    assert use == {"name": "use", "type": "P", "idx": 0, "formula": '+"Grid"+"Solar"'}
    plain = await client.call("GET", "/register")
    assert isinstance(plain, dict)
    assert all("did" in entry for entry in plain["registers"])  # physical only
    only_ts = await client.call("GET", "/register", params={"reg": "none"})
    assert isinstance(only_ts, dict)
    assert set(only_ts) == {"ts"}
    raw = await client.call("GET", "/register", params={"time": "now", "raw": ""})
    meter.zero()
    relative = await client.call("GET", "/register", params={"time": "now"})
    assert isinstance(raw, dict)
    assert isinstance(relative, dict)
    assert int(raw["ranges"][0]["rows"][0][0]) > 0
    assert relative["ranges"][0]["rows"][0][0] == "0"
    past = await client.call("GET", "/register", params={"time": "now-7200"})
    assert isinstance(past, dict)
    assert past["ranges"] == []
    with pytest.raises(MeterApiError):
        await client.call("GET", "/register", params={"time": "1:2"})
    with pytest.raises(MeterApiError):
        await client.call("GET", "/register", params={"time": "10:0:20"})


async def test_local_sections_and_metrics(client: EgaugeClient) -> None:
    everything = await client.call(
        "GET",
        "/local",
        params={
            "values": "",
            "energy": "",
            "apparent": "",
            "stats": "",
            "cumul": "",
            "rate": "",
            "type": "",
            "normal": "",
        },
    )
    assert isinstance(everything, dict)
    assert set(everything) >= {"values", "energy", "apparent", "stats", "ts"}
    assert set(everything["values"]["L1"]["rate"]) == {"n"}
    assert "cumul" in everything["values"]["L1"]
    default = await client.call("GET", "/local")
    assert isinstance(default, dict)
    assert "energy" not in default


async def test_system_resources(client: EgaugeClient, meter: SimEgauge, clock: FakeClock) -> None:
    assert await client.value("/sys/db/max-registers") == 64
    assert await client.value("/sys/reboot") is False
    assert await client.value("/sys/boot/reason") == "power on"
    assert float(await client.text("/sys/time")) == pytest.approx(meter.now())
    assert await client.value("/sys/uptime") == pytest.approx(0, abs=1)
    assert await client.text("/sys/version/firmware") == "4.6.2"
    assert await client.call("GET", "/sys/status") == {}
    with pytest.raises(MeterApiError, match="Unknown token"):
        await client.status("f" * 32)
    assert await client.call("GET", "/auth/unauthorized") == {"status": "OK"}
    assert await client.call("GET", "/auth/logout") == {"status": "OK"}


async def test_password_login_only_over_https(
    sim: EgaugeSimulator, session: aiohttp.ClientSession
) -> None:
    body = {"rlm": "eGauge Administration", "usr": "owner", "pwd": "owner-secret"}
    async with session.post(f"http://{sim.host}/api/auth/login", json=body) as response:
        assert (await response.json())["error"] == "Password login requires HTTPS."
    async with session.post(
        f"https://{sim.https_host}/api/auth/login", json=body, ssl=False
    ) as response:
        assert protocol.parse_login(await response.json()) is not None
    async with session.post(
        f"https://{sim.https_host}/api/auth/login", json=body | {"pwd": "x"}, ssl=False
    ) as response:
        assert (await response.json())["error"] == "Authentication failed."
    async with session.post(f"http://{sim.host}/api/auth/login", data=b"{broken") as response:
        assert response.status == 400
    async with session.post(
        f"http://{sim.host}/api/auth/login", json={"usr": "owner", "nnc": 5}
    ) as response:
        assert response.status == 400


async def test_command_refusals(
    client: EgaugeClient, meter: SimEgauge, session: aiohttp.ClientSession, sim: EgaugeSimulator
) -> None:
    meter.reboot_delay = 3600
    for path, body in (
        ("/cmd/set-time", "noon"),
        ("/cmd/set-time", 5),
        ("/cmd/update", {"target": "fw", "action": "explode"}),
        ("/cmd/update", "list"),
        ("/cmd/test-email", {}),
        ("/cmd/test-remote", {"address": "x"}),
        ("/cmd/activate", {"service": "alert"}),
        ("/cmd/db", {"action": "restore", "data": "***"}),
        ("/cmd/db", {"action": "restore", "data": ""}),
        ("/cmd/db", {"action": "format"}),
        ("/cmd/db", []),
        ("/cmd/wlan", {"action": "scan"}),
        ("/cmd/homeplug", {"action": "setpwd"}),
    ):
        with pytest.raises(MeterCommandError):
            await client.command(path, body)
    token = (await client.command("/cmd/test-email", {"address": "a@b.c"})).token
    assert token is not None
    with pytest.raises(MeterApiError, match="in progress"):
        await client.status_result(token)
    with pytest.raises(MeterApiError, match="HTTP 400"):
        await client.call("GET", "/cmd/reboot")
    with pytest.raises(MeterUnsupportedError):
        await client.call("POST", "/cmd/launch")


async def test_skewed_meter_answers_in_its_own_time(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    meter.skew = 120.0
    reading = await client.read()
    assert not isinstance(reading, EpochMismatch)
    assert reading.ts == pytest.approx(clock() + 120, abs=1)


async def test_simulate_command_line_serves_until_stopped() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "egauge",
        "--http",
        "127.0.0.1:0",
        "--https",
        "127.0.0.1:0",
        "--user",
        "me:pw:save",
        "--unknown-type",
        "Zq",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode() for _ in range(2)]
    assert lines[0].startswith("egauge http 127.0.0.1:")
    assert lines[1].startswith("egauge https")
    host = lines[1].split()[2]
    async with aiohttp.ClientSession() as session:
        reading = await EgaugeClient(session, host, "me", "pw").read()
    assert not isinstance(reading, EpochMismatch)
    assert "Mystery" in reading.values
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
