"""`meter push ...` and `meter push3 read` in-process against the simulators, and as processes.

Each refusal must end with one line on stderr and its own exit code; `--json` prints the same
object `meter ekm read --json` prints for the same SimMeter on the RS-485 simulator.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from custom_components.meterlink.meters.cli import main
from custom_components.meterlink.meters.push.models import TIMESTAMP_FIELD
from simulator.ekm.push3 import Push3Simulator
from simulator.ekm.push_cloud import PushSimulator, SimIoStack
from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import V3_ADDRESS, V4_ADDRESS, V4_OTHER, make_meters

ROOT = Path(__file__).resolve().parents[3]
STACK = "000000900001"


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


async def cli(*argv: str) -> int:
    """main() runs its own event loop, so it gets a thread while the simulators serve here."""
    return await asyncio.to_thread(_run, list(argv))


def single_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
async def sim() -> AsyncIterator[PushSimulator]:
    simulator = PushSimulator(make_meters(), [SimIoStack(STACK)])
    await simulator.start()
    yield simulator
    await simulator.stop()


def push(sim: PushSimulator, action: str, *extra: str) -> list[str]:
    return ["push", action, "--key", sim.account_key, "--api-url", sim.base_url, *extra]


async def test_read_json_is_the_truth(
    sim: PushSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli(*push(sim, "read", "--json")) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {*sim.meters, STACK}
    for address in sim.meters:
        truth = sim.newest_good(address)
        assert truth is not None
        assert printed[address] == {**truth.values, TIMESTAMP_FIELD: truth.timestamp_ms}


async def test_push_json_equals_the_rs485_json(
    sim: PushSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    bus = EkmBusSimulator(sim.meters.values(), auto_advance=False)
    url = await bus.start_tcp()
    try:
        assert await cli("ekm", "read", "--port", url, "--address", V4_ADDRESS, "--json") == 0
        rs485 = json.loads(capsys.readouterr().out)
    finally:
        await bus.stop()
    assert await cli(*push(sim, "read", "--meters", "300001001", "--json")) == 0
    cloud = json.loads(capsys.readouterr().out)
    assert list(cloud) == [V4_ADDRESS]
    assert cloud[V4_ADDRESS].pop(TIMESTAMP_FIELD) > 0
    assert cloud[V4_ADDRESS] == rs485


async def test_read_table_and_discover(
    sim: PushSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli(*push(sim, "read", "--meters", f"{V3_ADDRESS},{STACK}")) == 0
    out = capsys.readouterr().out
    assert f"meter {V3_ADDRESS} (v3, Omnimeter I v.3, read " in out
    assert f"ioStack {STACK} (read " in out
    assert await cli(*push(sim, "discover")) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "gateway 4016fa0500cd (Push3 4016fa0500cd): 3 meters, 1 ioStacks"
    assert f"  iostack {STACK}" in out
    assert await cli(*push(sim, "discover", "--json")) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["meters"] == list(sim.meters)
    assert listed["iostacks"] == [STACK]


async def test_device_key_and_key_from_environment(
    sim: PushSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EKM_PUSH_KEY", sim.device_keys[V4_OTHER])
    assert await cli("push", "discover", "--api-url", sim.base_url) == 0
    assert capsys.readouterr().out.strip() == f"meter {V4_OTHER}"
    assert await cli("push", "read", "--api-url", sim.base_url, "--json") == 0
    assert list(json.loads(capsys.readouterr().out)) == [V4_OTHER]


async def test_missing_devices_are_noted_on_stderr(
    sim: PushSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.faults.no_data.add(V4_OTHER)
    assert await cli(*push(sim, "read", "--json")) == 0
    captured = capsys.readouterr()
    assert V4_OTHER not in json.loads(captured.out)
    assert single_line(captured.err).startswith(f"note: {V4_OTHER}: ")


@pytest.mark.parametrize(
    ("fault", "value", "code", "reason"),
    [
        ("http_status", 401, 6, "key or token refused"),
        ("http_status", 403, 6, "key or token refused"),
        ("http_status", 429, 9, "rate limited"),
        ("http_status", 503, 13, "EKM Push server error"),
        ("http_status", 404, 14, "EKM Push API error"),
        ("api_code", 1000, 10, "no data yet"),
        ("api_code", 1200, 11, "invalid meter for this key"),
        ("api_code", 1101, 12, "query refused"),
        ("api_code", 1300, 13, "EKM Push server error"),
        ("truncate", True, 5, "malformed response"),
    ],
)
async def test_refusals_have_their_own_exit_code(
    sim: PushSimulator,
    capsys: pytest.CaptureFixture[str],
    fault: str,
    value: object,
    code: int,
    reason: str,
) -> None:
    setattr(sim.faults, fault, value)
    assert await cli(*push(sim, "read", "--meters", V4_ADDRESS)) == code
    line = single_line(capsys.readouterr().err)
    assert line.startswith(f"meter: {reason}: ")
    assert sim.account_key not in line
    if code == 9:
        assert line.endswith("retry in 30 s")


async def test_nothing_readable_is_no_data(
    sim: PushSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.faults.no_data.update(sim.history)
    assert await cli(*push(sim, "read")) == 10
    assert single_line(capsys.readouterr().err).startswith("meter: no data yet: ")


async def test_unreachable_and_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--key", "a2V5", "--api-url", "http://127.0.0.1:1"]
    assert await cli("push", "read", *base) == 3
    assert single_line(capsys.readouterr().err).startswith("meter: cannot reach EKM Push: ")
    assert await cli("push", "read", *base, "--meters", "12ab") == 2
    assert single_line(capsys.readouterr().err).startswith("meter: invalid parameter: ")
    assert await cli("push", "read", "--key", "a2V5", "--api-url", "ftp://x") == 2
    single_line(capsys.readouterr().err)
    assert await cli("push3", "read", "--host", "127.0.0.1:1", "--key", "a2V5") == 3
    assert single_line(capsys.readouterr().err).startswith("meter: cannot reach the Push3: ")


async def test_push3_read(sim: PushSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    gateway = Push3Simulator(sim)
    host = await gateway.start()
    try:
        assert await cli("push3", "read", "--host", host, "--key", gateway.key, "--json") == 0
        printed = json.loads(capsys.readouterr().out)
        assert set(printed) == set(gateway.devices)
        truth = sim.newest_good(V4_ADDRESS)
        assert truth is not None
        assert printed[V4_ADDRESS] == {**truth.values, TIMESTAMP_FIELD: truth.timestamp_ms}
        assert await cli("push3", "read", "--host", host, "--key", gateway.key) == 0
        assert capsys.readouterr().out.startswith(f"Push3 {host} (id push3-{V3_ADDRESS})")
        assert await cli("push3", "read", "--host", host, "--key", "wrong") == 6
        line = single_line(capsys.readouterr().err)
        assert line.startswith("meter: gateway key refused: ")
    finally:
        await gateway.stop()


@pytest.mark.parametrize("kind", ["ekm-push", "push3"])
async def test_simulator_processes_serve_the_tool(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", kind, "--http", "127.0.0.1:0",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        words = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().split()
        if kind == "ekm-push":
            argv = ["push", "read", "--api-url", words[2], "--key", words[4], "--json"]
        else:
            argv = ["push3", "read", "--host", words[2], "--key", words[4], "--json"]
        assert await cli(*argv) == 0
        assert V4_ADDRESS in json.loads(capsys.readouterr().out)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
