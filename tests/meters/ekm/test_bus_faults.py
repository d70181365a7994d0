"""Bus faults: corrupt, silent, noisy and misaddressed answers, and a port that goes away."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.meterlink.meters.ekm.bus import BusTiming, EkmBus
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from custom_components.meterlink.meters.errors import (
    MeterAddressError,
    MeterAuthError,
    MeterConnectionError,
    MeterCrcError,
    MeterTimeoutError,
)
from simulator.ekm.rs485 import EkmBusSimulator, Faults

from ..conftest import FAST, V3_ADDRESS, V4_ADDRESS, make_meters


async def test_bad_crc_every_time_is_a_crc_error(tcp_bus: EkmBus, sim: EkmBusSimulator) -> None:
    sim.faults.bad_crc = 1.0
    with pytest.raises(MeterCrcError):
        await tcp_bus.read_block(V4_ADDRESS, Block.V4A)
    assert tcp_bus.stats.crc_errors == 3
    assert tcp_bus.stats.retries == 2
    assert V4_ADDRESS not in sim.last_served


async def test_bad_crc_sometimes_is_retried_away(tcp_url: str, sim: EkmBusSimulator) -> None:
    sim.faults = Faults(bad_crc=0.4, seed=7)
    async with EkmBus(tcp_url, timing=FAST, retries=6) as bus:
        for _ in range(8):
            reading = await bus.read_block(V4_ADDRESS, Block.V4A)
            assert dict(reading.fields) == sim.last_served[V4_ADDRESS]
        assert bus.stats.crc_errors > 0
        assert bus.stats.retries == bus.stats.crc_errors


async def test_silence_is_a_timeout(tcp_bus: EkmBus, sim: EkmBusSimulator) -> None:
    sim.faults.silence = 1.0
    with pytest.raises(MeterTimeoutError, match="no answer"):
        await tcp_bus.read_meter(V3_ADDRESS, MeterVersion.V3)
    assert tcp_bus.stats.timeouts == 3


async def test_silence_on_login_is_a_refusal(tcp_bus: EkmBus, sim: EkmBusSimulator) -> None:
    async def log_in_repeatedly() -> None:
        for _ in range(10):
            await tcp_bus.check_password(V4_ADDRESS, "00000000", MeterVersion.V4)

    # Reads are retried, but a login met by silence is a refusal: EKM meters refuse silently.
    sim.faults = Faults(silence=0.5, seed=3)
    with pytest.raises(MeterAuthError):
        await log_in_repeatedly()


@pytest.mark.parametrize("transport", ["tcp", "pty"])
async def test_garbage_before_the_frame_is_skipped(sim: EkmBusSimulator, transport: str) -> None:
    sim.faults = Faults(garbage=1.0, seed=11)
    url = await (sim.start_tcp() if transport == "tcp" else sim.start_pty())
    async with EkmBus(url, timing=FAST, retries=0) as bus:
        for _ in range(10):
            reading = await bus.read_meter(V4_ADDRESS, MeterVersion.V4)
            assert reading.fields["Meter_Address"] == V4_ADDRESS
        assert bus.stats.retries == 0
    assert all(frame.fault == "garbage" for frame in sim.served)


async def test_truncated_answer_then_recovery(tcp_bus: EkmBus, sim: EkmBusSimulator) -> None:
    sim.faults.truncate = 1.0
    with pytest.raises(MeterTimeoutError, match="stopped after"):
        await tcp_bus.read_block(V4_ADDRESS, Block.V4A)
    sim.faults.truncate = 0.0
    reading = await tcp_bus.read_block(V4_ADDRESS, Block.V4A)
    assert dict(reading.fields) == sim.last_served[V4_ADDRESS]


async def test_wrong_address_is_an_address_error(tcp_bus: EkmBus, sim: EkmBusSimulator) -> None:
    sim.faults.wrong_address = 1.0
    with pytest.raises(MeterAddressError):
        await tcp_bus.read_block(V4_ADDRESS, Block.V4A)
    assert tcp_bus.stats.retries == 1  # an address mismatch is retried once, not more
    sim.faults.wrong_address = 0.0
    assert (await tcp_bus.read_block(V4_ADDRESS, Block.V4A)).address == V4_ADDRESS


async def test_a_late_answer_does_not_poison_the_next_read(
    tcp_bus: EkmBus, sim: EkmBusSimulator
) -> None:
    tcp_bus.retries = 0
    sim.turnaround = 0.6  # slower than the client's patience: its answer comes too late
    with pytest.raises(MeterTimeoutError):
        await tcp_bus.read_block(V4_ADDRESS, Block.V4B, kwh_scale=2)
    sim.turnaround = 0.0
    tcp_bus.retries = 2
    # The stale B frame arrives while the A block is awaited: rejected, then asked again.
    reading = await tcp_bus.read_block(V4_ADDRESS, Block.V4A)
    assert dict(reading.fields) == sim.last_served[V4_ADDRESS]
    assert reading.fields["State_Out"] == 1


async def test_port_gone_then_back(sim: EkmBusSimulator) -> None:
    url = await sim.start_tcp()
    port = int(url.rsplit(":", 1)[1])
    async with EkmBus(url, timing=FAST) as bus:
        await bus.read_block(V4_ADDRESS, Block.V4A)
        await sim.stop()
        with pytest.raises(MeterConnectionError):
            await bus.read_block(V4_ADDRESS, Block.V4A)
        with pytest.raises(MeterConnectionError):
            await bus.read_block(V4_ADDRESS, Block.V4A)
        revived = EkmBusSimulator(make_meters(), auto_advance=False)
        try:
            await revived.start_tcp(port=port)
            reading = await bus.read_block(V4_ADDRESS, Block.V4A)
            assert dict(reading.fields) == revived.last_served[V4_ADDRESS]
            assert bus.stats.reconnects == 1
        finally:
            await revived.stop()


async def test_pty_gone(sim: EkmBusSimulator) -> None:
    url = await sim.start_pty()
    async with EkmBus(url, timing=FAST) as bus:
        await bus.read_block(V3_ADDRESS, Block.V3)
        await sim.stop()
        await asyncio.sleep(0.05)
        with pytest.raises(MeterConnectionError):
            await bus.read_block(V3_ADDRESS, Block.V3)


async def test_close_wakes_a_waiting_call(tcp_bus: EkmBus, sim: EkmBusSimulator) -> None:
    sim.faults.silence = 1.0
    slow = EkmBus(tcp_bus.url, timing=BusTiming(turnaround=30))
    task = asyncio.create_task(slow.read_block(V4_ADDRESS, Block.V4A))
    await asyncio.sleep(0.1)
    await slow.close()
    with pytest.raises(MeterConnectionError):
        await task
