"""EkmBus against the simulated bus over real TCP sockets and a real pty."""

from __future__ import annotations

import asyncio
import time

import pytest

from custom_components.meterlink.meters.ekm import commands
from custom_components.meterlink.meters.ekm.bus import BusStats, BusTiming, EkmBus
from custom_components.meterlink.meters.ekm.commands import Command
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterCommandError,
    MeterConnectionError,
    MeterTimeoutError,
    MeterUnsupportedError,
)
from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import FAST, V3_ADDRESS, V4_ADDRESS, V4_OTHER


def served_truth(sim: EkmBusSimulator, address: str, block: Block, index: int = -1) -> dict:
    frames = [frame for frame in sim.served if frame.address == address and frame.block is block]
    return frames[index].values


async def test_read_meter_v4_merges_a_over_b(bus: EkmBus, sim: EkmBusSimulator) -> None:
    reading = await bus.read_meter(V4_ADDRESS, MeterVersion.V4)
    truth_a = served_truth(sim, V4_ADDRESS, Block.V4A)
    truth_b = served_truth(sim, V4_ADDRESS, Block.V4B)
    assert reading.version is MeterVersion.V4
    assert dict(reading.fields) == {**truth_b, **truth_a}
    assert reading.fields["kWh_Tariff_1"] == truth_b["kWh_Tariff_1"]  # B energies scaled by A
    assert sim.last_served[V4_ADDRESS] == truth_b
    assert bus.stats.requests == 2
    assert bus.stats.bytes_sent == 2 * 19 + 5  # two requests and the close frame
    assert bus.stats.bytes_received == 2 * 255


async def test_read_meter_v4_without_b(bus: EkmBus, sim: EkmBusSimulator) -> None:
    reading = await bus.read_meter("300001001", MeterVersion.V4, include_b=False)
    assert dict(reading.fields) == sim.last_served[V4_ADDRESS]
    assert "CT_Ratio" not in reading.fields


async def test_read_meter_v3(bus: EkmBus, sim: EkmBusSimulator) -> None:
    reading = await bus.read_meter(V3_ADDRESS, MeterVersion.V3)
    assert reading.version is MeterVersion.V3
    assert dict(reading.fields) == sim.last_served[V3_ADDRESS]
    assert reading.model == "1017"


async def test_read_block_b_with_scale(bus: EkmBus, sim: EkmBusSimulator) -> None:
    reading = await bus.read_block(V4_ADDRESS, Block.V4B, kwh_scale=2)
    assert dict(reading.fields) == sim.last_served[V4_ADDRESS]


@pytest.mark.parametrize(
    ("address", "version"), [(V4_ADDRESS, MeterVersion.V4), (V3_ADDRESS, MeterVersion.V3)]
)
async def test_identify(bus: EkmBus, sim: EkmBusSimulator, address: str, version: str) -> None:
    reading = await bus.identify(address)
    assert reading.version is version
    assert dict(reading.fields) == sim.last_served[address]


async def test_identify_an_absent_meter_times_out(bus: EkmBus) -> None:
    bus.retries = 0
    started = time.monotonic()
    with pytest.raises(MeterTimeoutError):
        await bus.identify("000399999999")
    # One v4 and one v3 attempt, each one turnaround plus wire time: no fixed sleeps.
    assert time.monotonic() - started < 2 * FAST.response_timeout(19, 255) + 0.3
    assert bus.stats.timeouts == 2


async def test_password_ok_and_refused(bus: EkmBus) -> None:
    await bus.check_password(V4_ADDRESS, "00000000", MeterVersion.V4)
    await bus.check_password(V3_ADDRESS, "00000000", MeterVersion.V3)
    with pytest.raises(MeterAuthError):
        await bus.check_password(V4_ADDRESS, "12345678", MeterVersion.V4)


async def test_bad_password_format_is_refused_before_sending(bus: EkmBus) -> None:
    with pytest.raises(InvalidParameterError):
        await bus.check_password(V4_ADDRESS, "secret", MeterVersion.V4)
    assert bus.stats.bytes_sent == 0


async def test_relay_write_shows_in_the_next_read(bus: EkmBus, sim: EkmBusSimulator) -> None:
    before = await bus.read_block(V4_ADDRESS, Block.V4A)
    assert before.relay_closed(2) is False
    await bus.execute(V4_ADDRESS, commands.relay(2, closed=True), "00000000", MeterVersion.V4)
    after = await bus.read_block(V4_ADDRESS, Block.V4A)
    assert after.relay_closed(2) is True
    assert after.relay_closed(1) is False
    assert sim.meters[V4_ADDRESS].relays == [False, True]


async def test_timed_relay_reverts(tcp_bus: EkmBus, sim: EkmBusSimulator) -> None:
    await tcp_bus.execute(V4_ADDRESS, commands.relay(1, True, 5), "00000000", MeterVersion.V4)
    assert (await tcp_bus.read_block(V4_ADDRESS, Block.V4A)).relay_closed(1) is True
    sim.meters[V4_ADDRESS].advance(6)
    assert (await tcp_bus.read_block(V4_ADDRESS, Block.V4A)).relay_closed(1) is False


async def test_settings_write_shows_in_the_b_block(tcp_bus: EkmBus) -> None:
    await tcp_bus.execute(V4_ADDRESS, commands.ct_ratio(400), "00000000", MeterVersion.V4)
    await tcp_bus.execute(V3_ADDRESS, commands.ct_ratio(800), "00000000", MeterVersion.V3)
    assert (await tcp_bus.read_meter(V4_ADDRESS, MeterVersion.V4)).fields["CT_Ratio"] == 400
    assert (await tcp_bus.read_meter(V3_ADDRESS, MeterVersion.V3)).fields["CT_Ratio"] == 800


async def test_wrong_password_blocks_the_write(tcp_bus: EkmBus, sim: EkmBusSimulator) -> None:
    with pytest.raises(MeterAuthError):
        await tcp_bus.execute(V4_ADDRESS, commands.relay(1, True), "11111111", MeterVersion.V4)
    assert sim.meters[V4_ADDRESS].relays == [False, False]


async def test_v4_command_on_a_v3_meter_sends_nothing(tcp_bus: EkmBus) -> None:
    with pytest.raises(MeterUnsupportedError):
        await tcp_bus.execute(V3_ADDRESS, commands.relay(1, True), "00000000", MeterVersion.V3)
    assert tcp_bus.stats == BusStats()


async def test_unacknowledged_write_is_a_command_error(tcp_bus: EkmBus) -> None:
    bogus = Command("D9", "1", "do something the meter does not know")
    with pytest.raises(MeterCommandError, match="did not acknowledge"):
        await tcp_bus.execute(V4_ADDRESS, bogus, "00000000", MeterVersion.V4)


async def test_concurrent_reads_and_commands_never_interleave(
    tcp_bus: EkmBus, sim: EkmBusSimulator
) -> None:
    async def toggle(relay: int, closed: bool) -> None:
        command = commands.relay(relay, closed)
        await tcp_bus.execute(V4_OTHER, command, "00000000", MeterVersion.V4)

    jobs = []
    for round_ in range(4):
        jobs += [
            tcp_bus.read_meter(V4_ADDRESS, MeterVersion.V4),
            tcp_bus.read_meter(V3_ADDRESS, MeterVersion.V3),
            toggle(1 + round_ % 2, round_ % 3 == 0),
            tcp_bus.read_meter(V4_OTHER, MeterVersion.V4),
            tcp_bus.read_block(V3_ADDRESS, Block.V3),
        ]
    results = await asyncio.gather(*jobs)
    readings = [result for result in results if result is not None]
    assert len(readings) == 16
    assert {reading.address for reading in readings} == {V4_ADDRESS, V4_OTHER, V3_ADDRESS}
    # Every v4 reading is exactly one A frame over the B frame that directly followed it.
    served = sim.served
    pairs = [
        {**served[i + 1].values, **served[i].values}
        for i in range(len(served) - 1)
        if served[i].block is Block.V4A and served[i + 1].block is Block.V4B
    ]
    for reading in readings:
        if reading.version is MeterVersion.V4:
            assert dict(reading.fields) in pairs
        else:
            assert dict(reading.fields) == sim.last_served[V3_ADDRESS]
    assert all(
        served[i].address == served[i + 1].address
        for i in range(len(served) - 1)
        if served[i].block is Block.V4A
    )
    assert tcp_bus.stats.retries == 0


async def test_paced_bus_returns_when_the_last_byte_arrives(sim: EkmBusSimulator) -> None:
    sim.pace, sim.turnaround = True, 0.005
    url = await sim.start_tcp()
    async with EkmBus(url, timing=BusTiming(turnaround=0.5, gap=0.1)) as bus:
        started = time.monotonic()
        await bus.read_block(V4_ADDRESS, Block.V4A)
        elapsed = time.monotonic() - started
    wire = (19 + 255) * 10 / 9600
    assert wire < elapsed < wire + 0.15


async def test_connect_reports_a_missing_port() -> None:
    bus = EkmBus("/dev/ttyMETERLINK-NONE", timing=FAST)
    with pytest.raises(MeterConnectionError, match="cannot open"):
        await bus.connect()
    with pytest.raises(MeterConnectionError):
        await bus.read_block(V4_ADDRESS, Block.V4A)
    await bus.close()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(InvalidParameterError):
        BusTiming(gap=0)
    with pytest.raises(InvalidParameterError):
        EkmBus("socket://127.0.0.1:1", retries=-1)
    assert BusTiming().char_time == pytest.approx(1 / 960)
    assert BusTiming(turnaround=0, gap=0.1).response_timeout(19, 255) == pytest.approx(
        274 / 960 * 1.25 + 0.1
    )
