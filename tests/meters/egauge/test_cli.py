"""`meter egauge read|cmd` against the simulator: the JSON shapes and exit codes of the issue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from custom_components.meterlink.meters import cli
from simulator.egauge import EgaugeSimulator, SimEgauge

from .conftest import OWNER, OWNER_PASSWORD, VIEWER, VIEWER_PASSWORD, FakeClock

ROOT = Path(__file__).resolve().parents[3]


async def _meter(
    sim: EgaugeSimulator,
    *args: str,
    user: str = OWNER,
    password: str = OWNER_PASSWORD,
    https: bool = True,
) -> int:
    host = sim.https_host if https else sim.host
    connection = ["--host", host, "--user", user, "--password", password]
    if not https:
        connection.append("--http")
    return await cli.async_main(["egauge", *args, *connection])


async def test_read_json_shape(
    sim: EgaugeSimulator, meter: SimEgauge, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _meter(sim, "read", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"serial", "hostname", "model", "time", "registers"}
    assert (document["serial"], document["hostname"], document["model"]) == (
        "G10400",
        "eGauge42",
        "EG4030",
    )
    assert document["time"] == pytest.approx(meter.now(), abs=1)
    registers = document["registers"]
    assert set(registers) == {r.name for r in meter.registers}
    truth = meter.reported()
    assert registers["use"] | {"rate": 0, "total": 0} == {
        "type": "P",
        "virtual": True,
        "rate": 0,
        "unit": "W",
        "total": 0,
        "total_unit": "kWh",
    }
    assert registers["Grid"]["total"] == pytest.approx(truth["Grid"] / 3.6e6)
    assert registers["HVAC"]["rate"] < 0
    assert registers["HVAC"]["total"] < 0
    assert registers["Grid*"]["total_unit"] == "kVAh"
    assert registers["L1 Voltage"]["unit"] == "V"
    assert "total" not in registers["Temperature"]
    assert registers["Temperature"]["unit"] == "°C"


async def test_read_table_over_http(
    sim: EgaugeSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _meter(sim, "read", https=False) == 0
    out = capsys.readouterr().out
    assert out.startswith("eGauge42 (EG4030, serial G10400)")
    assert "use" in out
    assert "(virtual)" in out
    assert "kWh" in out


async def test_exit_codes(
    sim: EgaugeSimulator,
    meter: SimEgauge,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _meter(sim, "read", password="wrong-password") == 6
    assert await _meter(sim, "cmd", "reboot", user=VIEWER, password=VIEWER_PASSWORD) == 6
    assert await _meter(sim, "cmd", "db-zero") == 2  # destructive without --yes
    assert await _meter(sim, "cmd", "cancel", "--token", "nope") == 2
    assert await _meter(sim, "cmd", "update-install", "--version", "4.0", "--poll", "0") == 7
    assert await _meter(sim, "cmd", "reboot") == 0
    clock.advance(1.5)
    assert await _meter(sim, "read") == 3  # 503 while rebooting: cannot connect
    clock.advance(60)
    meter.faults.unknown_type = "Zq"
    assert await _meter(sim, "read", "--json") == 0
    err = capsys.readouterr().err
    assert "wrong-password" not in err
    assert OWNER_PASSWORD not in err
    assert "meter: credentials refused:" in err
    assert "meter: save right missing:" in err
    assert "meter: invalid parameter: db-zero changes or destroys data" in err
    assert "meter: operation failed on the meter:" in err
    assert "meter: cannot connect:" in err


async def test_tls_verification_failure_exits_3(
    sim: EgaugeSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _meter(sim, "read", "--verify-tls") == 3
    assert "certificate" in capsys.readouterr().err


async def test_unsupported_malformed_and_timeout(
    sim: EgaugeSimulator,
    meter: SimEgauge,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    silent_host: str,
) -> None:
    tree_value = meter.tree_value

    def without_model(path: str) -> object:
        if path == "/sys/model":
            raise KeyError(path)
        return tree_value(path)

    monkeypatch.setattr(meter, "tree_value", without_model)
    assert await _meter(sim, "read") == 8
    assert "meter: not supported by this meter:" in capsys.readouterr().err
    monkeypatch.setattr(meter, "tree_value", tree_value)
    monkeypatch.setattr(meter, "register_answer", lambda _query: {"ts": "never"})
    assert await _meter(sim, "read") == 5
    assert "meter: malformed response:" in capsys.readouterr().err
    code = await cli.async_main(
        [
            "egauge",
            "read",
            "--host",
            silent_host,
            "--http",
            "--user",
            "u",
            "--password",
            "p",
            "--timeout",
            "0.2",
        ]
    )
    assert code == 4


async def test_commands_print_the_final_answer(
    sim: EgaugeSimulator, meter: SimEgauge, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    meter.reboot_delay = 3600  # the reboot never starts during this test
    backup = tmp_path / "backup.bin"
    backup.write_bytes(b"\x00backup")
    runs: list[tuple[list[str], object]] = [
        (["reboot"], {"status": "OK"}),
        (["set-time", "--resync"], {"status": "OK"}),
        (["set-time", "--time", "2026-03-01T12:00:00+00:00"], {"status": "OK"}),
        (["set-time"], {"status": "OK"}),
        (["clear", "--what", "web_cache"], {"status": "OK"}),
        (["update-list"], {"version": "4.7", "minimum": "4.1.2"}),
        (
            ["db-zero", "--yes", "--from", "2026-01-01T00:00:00+00:00", "--regs", "0,2"],
            {"status": "OK"},
        ),
        (["db-split", "--yes"], {"status": "OK"}),
        (["db-restore", "--yes", "--file", str(backup), "--more-chunks"], {"status": "OK"}),
        (["factory-restore", "--yes"], {"status": "OK"}),
        (
            ["wlan", "--yes", "--action", "add", "--ssid", "home", "--key", "wifi-secret-key"],
            {"status": "OK"},
        ),
        (
            [
                "homeplug",
                "--yes",
                "--homeplug-password",
                "plc-secret",
                "--target",
                "11:22:33:44:55:66/ABCD-EFGH-IJKL-MNOP",
            ],
            {"status": "OK"},
        ),
    ]
    for args, expected in runs:
        assert await _meter(sim, "cmd", *args, "--json") == 0, args
        assert json.loads(capsys.readouterr().out) == expected
    assert meter.commands[2] == ("set-time", "1772366400")
    for args in (
        ["test-email", "--address", "me@example.com", "--mailpass", "mail-secret"],
        ["test-remote", "--address", "modbus://x", "--linktype", "modbus"],
        ["activate", "--service", "alert", "--provider", "Cloudly"],
        ["update-install", "--version", "4.7"],
    ):
        assert await _meter(sim, "cmd", *args, "--poll", "0") == 0, args
        final = json.loads(capsys.readouterr().out)
        assert set(final) == {"token", "status", "result"}
        assert final["status"]["done"] is True
    assert await _meter(sim, "cmd", "update-install", "--version", "4.9", "--no-wait") == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert await _meter(sim, "cmd", "cancel", "--token", token) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"status": "OK"}
    for secret in ("wifi-secret-key", "plc-secret", "mail-secret", OWNER_PASSWORD):
        assert secret not in out + err


async def test_bad_options_exit_2(sim: EgaugeSimulator, tmp_path: Path) -> None:
    assert await _meter(sim, "cmd", "set-time", "--time", "yesterday") == 2
    assert await _meter(sim, "cmd", "db-zero", "--yes", "--regs", "a,b") == 2
    assert await _meter(sim, "cmd", "db-restore", "--yes", "--file", str(tmp_path / "none")) == 2
    assert (
        await cli.async_main(["egauge", "read", "--host", "a/b", "--user", "u", "--password", "p"])
        == 2
    )


def test_scripts_meter_runs_without_home_assistant(tmp_path: Path) -> None:
    """The real entry point, in a subprocess: the password stays out of every output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "custom_components" / "meterlink")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "meters.cli",
            "egauge",
            "read",
            "--host",
            "127.0.0.1:9",
            "--user",
            "u",
            "--password",
            "hunter2-secret",
            "--timeout",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 3
    assert "hunter2-secret" not in result.stdout + result.stderr
    assert result.stderr.startswith("meter: cannot connect:")
