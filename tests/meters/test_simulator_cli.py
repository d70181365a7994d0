"""`python -m simulator ekm-rs485` as a separate process, the way scripts and demos run it."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from custom_components.meterlink.meters.ekm.bus import EkmBus
from custom_components.meterlink.meters.ekm.reading import MeterVersion

from .conftest import FAST

ROOT = Path(__file__).resolve().parents[2]


async def test_simulator_process_serves_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "ekm-rs485", "--tcp", "127.0.0.1:0", "--pty",
        "--meter", "300001005:v4", "--meter", "000000011766:v3",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        lines = [
            (await asyncio.wait_for(process.stdout.readline(), 30)).decode().split()
            for _ in range(2)
        ]
        endpoints = {transport: endpoint for _kind, transport, endpoint in lines}
        assert endpoints["tcp"].startswith("socket://127.0.0.1:")
        assert endpoints["pty"].startswith("/dev/pts/")
        for url in endpoints.values():
            async with EkmBus(url, timing=FAST) as bus:
                reading = await bus.read_meter("300001005", MeterVersion.V4)
                assert reading.address == "000300001005"
                assert (await bus.identify("000000011766")).version is MeterVersion.V3
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
