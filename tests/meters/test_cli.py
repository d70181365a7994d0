"""The commissioning tool, run in-process (in a worker thread) against the simulator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from custom_components.meterlink.meters.cli import main
from custom_components.meterlink.meters.ekm.layout import Block
from simulator.ekm.rs485 import EkmBusSimulator

from .conftest import V3_ADDRESS, V4_ADDRESS


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


async def cli(*argv: str) -> int:
    """main() runs its own event loop, so it gets a thread while the simulator serves here."""
    return await asyncio.to_thread(_run, list(argv))


def single_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


async def test_read_json_is_the_simulators_truth(
    tcp_url: str, sim: EkmBusSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("ekm", "read", "--port", tcp_url, "--address", "300001001", "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    a_frames = [f for f in sim.served if f.block is Block.V4A]
    b_frames = [f for f in sim.served if f.block is Block.V4B]
    assert printed == {**b_frames[-1].values, **a_frames[-1].values}
    assert isinstance(printed["Meter_Time"], str)
    assert printed["Model"] == "1024"
    assert printed["Meter_Address"] == V4_ADDRESS


async def test_read_v3_table(tcp_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli("ekm", "read", "--port", tcp_url, "--address", V3_ADDRESS, "--v3") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"meter {V3_ADDRESS} (v3, Omnimeter I v.3, firmware 14)")
    assert "kWh_Tot" in out


async def test_relay_close_then_read(
    tcp_url: str, sim: EkmBusSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--port", tcp_url, "--address", V4_ADDRESS]
    assert await cli("ekm", "relay", *argv, "--relay", "2", "--state", "close") == 0
    assert sim.meters[V4_ADDRESS].relays == [False, True]
    assert await cli("ekm", "relay", *argv, "--v4", "--relay", "2", "--state", "open") == 0
    assert sim.meters[V4_ADDRESS].relays == [False, False]
    assert "open relay 2: done" in capsys.readouterr().out


async def test_refused_password(tcp_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = await cli(
        "ekm", "ct-ratio", "--port", tcp_url, "--address", V4_ADDRESS, "--v4",
        "--amps", "400", "--password", "13572468", "--turnaround", "0.05",
    )  # fmt: skip
    assert code == 6
    line = single_line(capsys.readouterr().err)
    assert line.startswith("meter: password refused")
    assert "13572468" not in line


async def test_timeout(
    tcp_url: str, sim: EkmBusSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.faults.silence = 1.0
    code = await cli(
        "ekm", "read", "--port", tcp_url, "--address", V4_ADDRESS, "--v4",
        "--turnaround", "0.05", "--retries", "0",
    )  # fmt: skip
    assert code == 4
    assert single_line(capsys.readouterr().err).startswith("meter: timeout")


async def test_crc_failure(
    tcp_url: str, sim: EkmBusSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.faults.bad_crc = 1.0
    code = await cli("ekm", "read", "--port", tcp_url, "--address", V3_ADDRESS, "--v3")
    assert code == 5
    assert single_line(capsys.readouterr().err).startswith("meter: CRC failure")


@pytest.mark.parametrize(
    "extra",
    [
        ["ct-ratio", "--amps", "123"],
        ["relay", "--relay", "3", "--state", "close"],
        ["schedule", "--number", "1", "--periods", "7am=1"],
        ["schedule", "--number", "1", "--periods", "07:00=1=2"],
        ["holidays", "--dates", "12-25-1"],
        ["lcd", "--items", "1,x"],
        ["set-time", "--time", "yesterday"],
        ["relay", "--relay", "1", "--state", "close", "--password", "secret"],
    ],
)
async def test_invalid_parameters_never_touch_the_port(
    extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ekm", extra[0], "--port", "socket://127.0.0.1:1", "--address", V4_ADDRESS, *extra[1:]]
    assert await cli(*argv) == 2
    line = single_line(capsys.readouterr().err)
    assert line.startswith("meter: invalid parameter")
    assert "secret" not in line


async def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli("ekm", "frobnicate") == 2
    assert single_line(capsys.readouterr().err).startswith("meter: invalid arguments")
    assert await cli("ekm", "read", "--port", "x") == 2
    single_line(capsys.readouterr().err)


async def test_cannot_open_port(capsys: pytest.CaptureFixture[str]) -> None:
    code = await cli("ekm", "read", "--port", "/dev/ttyMETERLINK-NONE", "--address", V4_ADDRESS)
    assert code == 3
    assert single_line(capsys.readouterr().err).startswith("meter: cannot open port")


async def test_v4_only_setting_on_a_v3_meter(
    tcp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--port", tcp_url, "--address", V3_ADDRESS, "--turnaround", "0.05"]
    assert await cli("ekm", "zero-resettable", *argv) == 8
    assert single_line(capsys.readouterr().err).startswith("meter: not supported")


@pytest.mark.parametrize(
    "extra",
    [
        ["set-time", "--time", "2026-03-01T12:00:00+00:00"],
        ["demand-period", "--minutes", "30"],
        ["reset-demand"],
        ["schedule", "--number", "1", "--periods", "07:00=1,22:00=2"],
        ["seasons", "--seasons", "01-01=1,06-01=2"],
        ["holidays", "--dates", "01-01,12-25"],
        ["weekend-schedules", "--weekend", "2", "--holiday", "3"],
    ],
)
async def test_settings_on_a_v3_meter(tcp_url: str, extra: list[str]) -> None:
    # Without --v3 the tool identifies the meter: a v3 meter ignores the v4 request first.
    argv = ["ekm", extra[0], "--port", tcp_url, "--address", V3_ADDRESS, "--turnaround", "0.05"]
    argv += extra[1:]
    assert await cli(*argv) == 0


@pytest.mark.parametrize(
    "extra",
    [
        ["auto-reset", "--interval", "weekly"],
        ["pulse-ratio", "--input", "2", "--ratio", "100"],
        ["pulse-output", "--ratio", "400"],
        ["lcd", "--items", "1,2,3"],
        ["set-time"],
    ],
)
async def test_settings_on_a_v4_meter(tcp_url: str, extra: list[str]) -> None:
    argv = ["ekm", extra[0], "--port", tcp_url, "--address", V4_ADDRESS, "--v4", *extra[1:]]
    assert await cli(*argv) == 0


def test_the_device_library_runs_without_home_assistant() -> None:
    """`scripts/meter` imports `meters` on its own: no module of it may pull Home Assistant in."""
    library = Path(__file__).resolve().parents[2] / "custom_components" / "meterlink"
    modules = sorted(
        ".".join(path.relative_to(library).with_suffix("").parts)
        for path in (library / "meters").rglob("*.py")
        if path.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name.removesuffix('.__init__'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'homeassistant'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=library,
        env={**os.environ, "PYTHONPATH": str(library)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(modules) > 20
    assert result.stdout.strip() == "[]"
