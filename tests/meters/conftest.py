"""Fixtures for the library tests: simulated EKM buses and clients with fast bus timing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from custom_components.meterlink.meters.ekm.bus import BusTiming, EkmBus
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from simulator.ekm.meter import SimMeter
from simulator.ekm.rs485 import EkmBusSimulator

V4_ADDRESS = "000300001001"
V4_OTHER = "000300001002"
V3_ADDRESS = "000000011766"
# A silent meter costs one turnaround: keep it short so fault tests stay fast.
FAST = BusTiming(turnaround=0.05, gap=0.02)


@pytest.fixture(autouse=True)
def _loopback_allowed(socket_enabled: None) -> None:
    """The simulators listen on 127.0.0.1; Home Assistant's test plugin blocks sockets."""


def make_meters() -> list[SimMeter]:
    return [
        SimMeter(V4_ADDRESS),
        SimMeter(V4_OTHER),
        SimMeter(V3_ADDRESS, MeterVersion.V3),
    ]


@pytest.fixture
async def sim() -> AsyncIterator[EkmBusSimulator]:
    simulator = EkmBusSimulator(make_meters(), auto_advance=False)
    yield simulator
    await simulator.stop()


@pytest.fixture(params=["tcp", "pty"])
async def url(request: pytest.FixtureRequest, sim: EkmBusSimulator) -> str:
    if request.param == "tcp":
        return await sim.start_tcp()
    return await sim.start_pty()


@pytest.fixture
async def tcp_url(sim: EkmBusSimulator) -> str:
    return await sim.start_tcp()


@pytest.fixture
async def bus(url: str) -> AsyncIterator[EkmBus]:
    client = EkmBus(url, timing=FAST)
    yield client
    await client.close()


@pytest.fixture
async def tcp_bus(tcp_url: str) -> AsyncIterator[EkmBus]:
    client = EkmBus(tcp_url, timing=FAST)
    yield client
    await client.close()
