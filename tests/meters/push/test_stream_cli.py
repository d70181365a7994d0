"""`meter push stream` against a real mosquitto: output, and every exit code of the contract.

0 after --count messages, 4 when --timeout passes silently, 6 when the key is refused, 3 when
the broker cannot be reached or not verified, 5 on a malformed message with --count. Every
failure is one line on stderr, and the key appears nowhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from custom_components.meterlink.meters.cli import main
from custom_components.meterlink.meters.push.models import TIMESTAMP_FIELD
from custom_components.meterlink.meters.push.mqtt import parse_broker
from simulator.ekm.push_cloud import PushSimulator
from simulator.ekm.push_mqtt import MqttPublisher
from tests.meters.conftest import V4_ADDRESS, make_meters
from tests.mosquitto import Mosquitto, publish

ROOT = Path(__file__).resolve().parents[3]
# The tool runs until its count or silence: a regression must fail the test, not hang it.
pytestmark = pytest.mark.timeout(60)


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def single_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


class Gateway:
    """The simulated cloud publishing to the broker, and a CLI run against both."""

    def __init__(self, broker: Mosquitto, simulator: PushSimulator) -> None:
        self.broker = broker
        self.simulator = simulator
        self.key = next(iter(simulator.gateway_keys.values()))
        self.publisher = MqttPublisher(
            simulator, parse_broker(broker.url), broker.ca.client_context()
        )

    def argv(self, *extra: str, key: str | None = None) -> list[str]:
        return [
            "push", "stream", "--key", key or self.key, "--broker", self.broker.url,
            "--cafile", str(self.broker.ca.ca_file), *extra,
        ]  # fmt: skip

    async def run(self, *extra: str, key: str | None = None, feed: bool = True) -> int:
        """Run the tool in a thread; meanwhile the gateways read every 50 ms (when `feed`)."""
        task = asyncio.ensure_future(asyncio.to_thread(_run, self.argv(*extra, key=key)))
        while feed and not task.done():
            self.simulator.poll()
            await asyncio.wait([task], timeout=0.05)
        return await task


@pytest.fixture
async def gateway(mosquitto: Mosquitto) -> AsyncIterator[Gateway]:
    simulator = PushSimulator(make_meters(), auto_poll=False)
    running = Gateway(mosquitto, simulator)
    await running.publisher.start()
    yield running
    await running.publisher.stop()


async def test_count_json_prints_one_object_per_message(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await gateway.run("--count", "2", "--json", "--timeout", "10") == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 2
    reads = {
        (address, read.timestamp_ms): read for address, h in gateway.simulator.history.items()
        for read in h
    }  # fmt: skip
    for line in lines:
        printed = json.loads(line)
        assert set(printed) == set(gateway.simulator.meters)
        for address, fields in printed.items():
            truth = reads[address, fields[TIMESTAMP_FIELD]]
            # The normalisation of `meter push read --json`: numbers, not strings.
            assert fields == {**truth.values, TIMESTAMP_FIELD: truth.timestamp_ms}
    assert gateway.key not in captured.out + captured.err


async def test_table_output_without_json(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await gateway.run("--count", "1") == 0
    out = capsys.readouterr().out
    assert f"meter {V4_ADDRESS} (v4" in out
    assert "kWh_Tot" in out


async def test_insecure_streams_without_the_ca(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--count", "1", "--json", "--insecure"]
    task = asyncio.ensure_future(
        asyncio.to_thread(
            _run,
            ["push", "stream", "--key", gateway.key, "--broker", gateway.broker.url, *argv],
        )
    )
    while not task.done():
        gateway.simulator.poll()
        await asyncio.wait([task], timeout=0.05)
    assert await task == 0
    assert V4_ADDRESS in json.loads(capsys.readouterr().out)


async def test_silence_exits_4(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    assert await gateway.run("--timeout", "0.5", key="ANOTHER-GATEWAY") == 4
    assert single_line(capsys.readouterr().err).startswith("meter: timeout: no message within")


async def test_refused_key_exits_6(
    mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["push", "stream", "--key", "REFUSED-KEY", "--broker", mosquitto.refusing_url]
    argv += ["--cafile", str(mosquitto.ca.ca_file)]
    assert await asyncio.to_thread(_run, argv) == 6
    err = capsys.readouterr().err
    assert single_line(err).startswith("meter: key or token refused: ")
    assert "REFUSED-KEY" not in err


async def test_unreachable_or_unverified_broker_exits_3(
    mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["push", "stream", "--key", "KEY", "--broker", mosquitto.url, "--timeout", "5"]
    assert await asyncio.to_thread(_run, base) == 3  # the system store: test CA unknown
    line = single_line(capsys.readouterr().err)
    assert line.startswith("meter: cannot reach EKM Push: TLS verification")
    mosquitto.stop()
    assert await asyncio.to_thread(_run, [*base, "--cafile", str(mosquitto.ca.ca_file)]) == 3
    assert single_line(capsys.readouterr().err).startswith("meter: cannot reach EKM Push: ")


async def test_malformed_message_exits_5_with_count_else_is_a_note(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    async def garbage() -> None:
        while True:
            await publish(gateway.broker, f"realtime/{gateway.key}", b"{not json")
            await asyncio.sleep(0.05)

    feeder = asyncio.create_task(garbage())
    try:
        assert await gateway.run("--count", "3", feed=False) == 5
        assert single_line(capsys.readouterr().err).startswith("meter: malformed response: ")
        assert await gateway.run("--timeout", "0.5", "--json", feed=False) == 4
    finally:
        feeder.cancel()
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("note: malformed message skipped: the message is not JSON")
    assert err[-1].startswith("meter: timeout: ")


@pytest.mark.parametrize(
    "extra",
    [
        ["--count", "0"],
        ["--timeout", "0"],
        ["--insecure", "--cafile", "ca.pem"],
        ["--broker", "http://host"],
        ["--cafile", "/nonexistent.pem"],
    ],
)
async def test_bad_options_exit_2(
    mosquitto: Mosquitto, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["push", "stream", "--key", "KEY", "--broker", mosquitto.url, *extra]
    assert await asyncio.to_thread(_run, argv) == 2
    assert single_line(capsys.readouterr().err).startswith("meter: invalid parameter: ")


async def test_summary_subscribes_the_summary_topic(
    mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "GATEWAY-KEY"
    argv = ["push", "stream", "--key", key, "--broker", mosquitto.url, "--summary", "--json"]
    argv += ["--cafile", str(mosquitto.ca.ca_file), "--count", "1", "--timeout", "10"]
    task = asyncio.ensure_future(asyncio.to_thread(_run, argv))
    payload = json.dumps({f"meter_{V4_ADDRESS}": {"kWh_Tot_Max": 7.5, "Meter": 1}})
    while not task.done():
        await publish(mosquitto, f"summary/{key}", payload)
        await asyncio.wait([task], timeout=0.05)
    assert await task == 0
    assert json.loads(capsys.readouterr().out)[V4_ADDRESS]["kWh_Tot"] == 7.5


async def test_simulator_process_streams_to_the_tool_process(mosquitto: Mosquitto) -> None:
    """`python -m simulator ekm-push --mqtt` and `scripts/meter push stream` as processes."""
    simulator = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "ekm-push", "--http", "127.0.0.1:0",
        "--mqtt", mosquitto.url, "--mqtt-cafile", str(mosquitto.ca.ca_file),
        "--read-interval", "0.1",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert simulator.stdout is not None
    try:
        key = None
        while True:
            words = (await asyncio.wait_for(simulator.stdout.readline(), 30)).decode().split()
            assert words, "the simulator ended"
            if words[1] == "gateway":
                key = words[4]
            if words[1] == "mqtt":
                break
        assert key is not None
        env = {**os.environ, "PYTHONPATH": str(ROOT / "custom_components" / "meterlink")}
        tool = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "meters.cli", "push", "stream", "--key", key,
            "--broker", mosquitto.url, "--cafile", str(mosquitto.ca.ca_file),
            "--count", "2", "--json", "--timeout", "20",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(tool.communicate(), 60)
        assert tool.returncode == 0, err
        lines = out.decode().splitlines()
        assert len(lines) == 2
        assert all(V4_ADDRESS in json.loads(line) for line in lines)
    finally:
        simulator.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(simulator.wait(), 10) == 0
