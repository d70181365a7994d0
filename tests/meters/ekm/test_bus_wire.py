"""EkmBus at the wire level: what the simulated bus saw, byte for byte and in order.

`EkmBusSimulator.transcript` holds every message the client put on the bus (stamped when its
last byte arrived, before it waited for the bus) and every reply (stamped when it went out).
From it these tests check what comparing address sets cannot: that the client never talks
over an answer, that a meter session (read, login, write, close) is never split by another
one, and that every answer a caller got is the reply to its own request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from custom_components.meterlink.meters.ekm import commands
from custom_components.meterlink.meters.ekm.bus import BusTiming, EkmBus
from custom_components.meterlink.meters.ekm.frames import STX, decode_response, encode_response
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import EkmReading, MeterVersion
from custom_components.meterlink.meters.errors import (
    MeterAuthError,
    MeterBusInUseError,
)
from simulator.ekm.meter import SimMeter
from simulator.ekm.rs485 import EkmBusSimulator, WireEvent

V4_A = "000300001001"
V4_B = "000300001002"
V3 = "000000011766"
V4_GIVEN_UP = "000300001003"  # read only by operations that are cancelled mid-answer
PASSWORD = "00000000"
TIMING = BusTiming(turnaround=0.05, gap=0.02)
# Fast wire maths (the simulator does not pace) and a meter turnaround that leaves a
# cancelled call's answer on the wire for a while.
MIX_TIMING = BusTiming(baudrate=115200, turnaround=0.12, gap=0.02)  # slack for a busy CI
MIX_TURNAROUND = 0.01


@pytest.fixture(autouse=True)
def _loopback_allowed(socket_enabled: None) -> None:
    """The simulator listens on 127.0.0.1."""


@pytest.fixture
async def sim() -> AsyncIterator[EkmBusSimulator]:
    meters = [SimMeter(V4_A), SimMeter(V4_B), SimMeter(V3, MeterVersion.V3), SimMeter(V4_GIVEN_UP)]
    simulator = EkmBusSimulator(meters, auto_advance=True, turnaround=0.004)
    yield simulator
    await simulator.stop()


# A late answer is no acknowledgement ----------------------------------------------------------


def _late_frame_with_ack_byte() -> bytes:
    """A valid 255-byte answer whose CRC holds 0x06, as a cancelled call may leave behind."""
    meter = SimMeter(V4_B)
    for step in range(5000):
        meter.advance(7.0 + step)
        frame = encode_response(Block.V4A, meter.values(Block.V4A), kwh_scale=meter.kwh_scale)
        if 0x06 in frame:
            return frame
    raise AssertionError("no frame with a 0x06 byte")  # pragma: no cover


class _LateAnswerBus(EkmBusSimulator):
    """A bus where, instead of acknowledging, the wire carries a late answer (no ACK)."""

    late = b""

    def _ack(self) -> bytes | None:
        return self.late


@pytest.mark.parametrize("late", ["whole frame", "frame tail"])
async def test_a_0x06_inside_a_late_answer_is_no_ack(late: str) -> None:
    frame = _late_frame_with_ack_byte()
    simulator = _LateAnswerBus([SimMeter(V4_A)])
    simulator.late = frame if late == "whole frame" else frame[frame.index(0x06) - 6 :]
    url = await simulator.start_tcp()
    try:
        async with EkmBus(url, timing=TIMING, retries=0) as bus:
            with pytest.raises(MeterAuthError):
                await bus.check_password(V4_A, PASSWORD, MeterVersion.V4)
    finally:
        await simulator.stop()


# One client per wire ----------------------------------------------------------------------------


async def test_a_second_client_for_the_same_bridge_by_another_url_is_refused(
    sim: EkmBusSimulator,
) -> None:
    url = await sim.start_tcp()
    port = url.rsplit(":", 1)[1]
    first = EkmBus(url, timing=TIMING)
    second = EkmBus(f"socket://[::ffff:127.0.0.1]:{port}", timing=TIMING)
    try:
        await first.read_block(V3, Block.V3)
        with pytest.raises(MeterBusInUseError):
            await second.connect()
        with pytest.raises(MeterBusInUseError):
            await second.read_block(V3, Block.V3)
        await first.close()
        async with EkmBus(url, timing=TIMING) as third:  # free again once the first closed
            assert (await third.read_block(V3, Block.V3)).address == V3
    finally:
        await first.close()
        await second.close()


async def test_a_second_client_for_the_same_serial_device_by_a_link_is_refused(
    sim: EkmBusSimulator, tmp_path: Path
) -> None:
    path = await sim.start_pty()
    link = tmp_path / "serial-by-id"
    os.symlink(path, link)
    async with EkmBus(path, timing=TIMING) as first:
        await first.read_block(V3, Block.V3)
        with pytest.raises(MeterBusInUseError):
            await EkmBus(str(link), timing=TIMING).connect()


# 100 concurrent mixed operations ----------------------------------------------------------------


@dataclass
class _Op:
    kind: str
    address: str
    run: Callable[[], Awaitable[object]]
    frame: bytes | None = None  # the W1 frame of a write


def _operations(bus: EkmBus, sim: EkmBusSimulator, rng: random.Random) -> list[_Op]:
    v4 = [V4_A, V4_B]
    one_at_a_time = asyncio.Lock()

    async def given_up() -> object:
        """Start a read and cancel it once its request is on the wire, before the answer."""
        async with one_at_a_time:
            asked = _requests_for(sim, V4_GIVEN_UP)
            task = asyncio.create_task(bus.read_meter(V4_GIVEN_UP, MeterVersion.V4))
            while _requests_for(sim, V4_GIVEN_UP) == asked and not task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.001)  # the transcript has no event to wait on
            await asyncio.sleep(MIX_TURNAROUND / 3)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return asyncio.CancelledError()

    ops: list[_Op] = []
    for index in range(100):
        pick = rng.choice(["read", "read", "block", "relay", "setting", "login", "bad login"])
        address = rng.choice([*v4, V3])
        version = MeterVersion.V3 if address == V3 else MeterVersion.V4
        if index % 7 == 3:  # one in seven is given up while its answer is on the wire
            ops.append(_Op("cancelled", V4_GIVEN_UP, given_up))
            continue
        if pick == "read":
            op = _Op("read", address, lambda a=address, v=version: bus.read_meter(a, v))
        elif pick == "block":
            block = Block.V3 if address == V3 else Block.V4A
            op = _Op("read", address, lambda a=address, b=block: bus.read_block(a, b))
        elif pick == "relay":
            address = rng.choice(v4)
            command = commands.relay(rng.choice([1, 2]), rng.random() < 0.5)
            op = _Op(
                "write",
                address,
                lambda a=address, c=command: bus.execute(a, c, PASSWORD, MeterVersion.V4),
                command.frame,
            )
        elif pick == "setting":
            command = commands.max_demand_period(rng.choice([15, 30, 60]))
            op = _Op(
                "write",
                address,
                lambda a=address, c=command, v=version: bus.execute(a, c, PASSWORD, v),
                command.frame,
            )
        else:
            password = PASSWORD if pick == "login" else "12345678"
            op = _Op(
                pick,
                address,
                lambda a=address, p=password, v=version: bus.check_password(a, p, v),
            )
        ops.append(op)
    return ops


def _requests_for(sim: EkmBusSimulator, address: str) -> int:
    return sum(1 for e in sim.transcript if e.direction == "rx" and address.encode() in e.data)


def _message_kind(data: bytes) -> tuple[str, str]:
    """("read", address+suffix) / ("P1", "") / ("W1", frame) / ("close", "")."""
    text = data.decode("ascii", "replace")
    if "/?" in text:
        return "read", text[text.index("/?") + 2 : text.index("!")]
    if text.endswith("B0\x03u"):
        return "close", ""
    return text[text.index("\x01") + 1 : text.index("\x01") + 3], data.hex()


async def test_100_concurrent_mixed_operations_never_interleave_on_the_wire(
    sim: EkmBusSimulator,
) -> None:
    sim.turnaround = MIX_TURNAROUND
    url = await sim.start_tcp()
    rng = random.Random(11)
    async with EkmBus(url, timing=MIX_TIMING) as bus:
        ops = _operations(bus, sim, rng)
        results = await asyncio.gather(*(op.run() for op in ops), return_exceptions=True)
        stats = bus.stats

    transcript = sim.transcript
    outcomes = list(zip(ops, results, strict=True))
    cancelled = [op for op, result in outcomes if isinstance(result, asyncio.CancelledError)]
    assert len(cancelled) == 14
    assert _requests_for(sim, V4_GIVEN_UP) >= 14  # each was given up after its request
    # Nothing but the expected outcomes: a refused wrong password, or a cancellation.
    for op, result in outcomes:
        if isinstance(result, asyncio.CancelledError):
            continue
        if op.kind == "bad login":
            assert isinstance(result, MeterAuthError)
        else:
            assert not isinstance(result, BaseException), (op.kind, op.address, result)
    assert stats.retries == 0
    assert stats.timeouts == 0

    # 1. The client never talks while an answer is on its way: every message arrived after
    #    the last byte of every reply the bus handled before it.
    last_reply_end = 0.0
    for event in transcript:
        if event.direction == "tx":
            assert event.until is not None
            last_reply_end = max(last_reply_end, event.until)
        else:
            assert event.at >= last_reply_end, f"{event.data!r} was sent over an answer"

    # 2. Sessions are never split: a login or write only follows a read of the same session.
    exchanges = _exchanges(transcript)
    open_meter: str | None = None
    for (kind, detail), _reply in exchanges:
        if kind == "read":
            open_meter = detail[:12]
        elif kind == "close":
            open_meter = None
        else:
            assert open_meter is not None, f"{kind} outside a meter session"

    # 3. Every answer belongs to its request: each reading is the decoded reply (or A over B
    #    replies) to read requests for that very meter, consumed once each.
    replies = _read_replies(exchanges)
    for op, result in outcomes:
        if op.kind == "read" and isinstance(result, EkmReading):
            candidates = replies.get(op.address, [])
            assert dict(result.fields) in candidates, (
                f"a reading of {op.address} was answered by no request of it"
            )
            candidates.remove(dict(result.fields))
    # Every acknowledged write is W1 right after P1 right after a read of its own meter.
    sessions = _acknowledged_writes(exchanges)
    for op, result in outcomes:
        if op.kind == "write" and result is None:
            assert op.frame is not None
            key = (op.address, op.frame.hex())
            assert key in sessions, f"write to {op.address} not acknowledged in its own session"
            sessions.remove(key)


type _Exchange = tuple[tuple[str, str], bytes | None]


def _exchanges(transcript: list[WireEvent]) -> list[_Exchange]:
    """Each message with the reply that directly followed it (None when none did)."""
    result: list[_Exchange] = []
    for event in transcript:
        if event.direction == "rx":
            result.append((_message_kind(event.data), None))
        else:
            assert result, "a reply before any request"
            assert result[-1][1] is None, "two replies to one request"
            result[-1] = (result[-1][0], event.data)
    return result


def _read_replies(exchanges: list[_Exchange]) -> dict[str, list[dict[str, object]]]:
    """Per meter: the values a correct client may return, from each answered read request."""
    found: dict[str, list[dict[str, object]]] = {}
    scales: dict[str, int | None] = {}
    for index, ((kind, detail), reply) in enumerate(exchanges):
        if kind != "read" or not reply or reply[0] != STX:
            continue
        address, suffix = detail[:12], detail[12:]
        block = {"": Block.V3, "00": Block.V4A, "01": Block.V4B}[suffix]
        reading = decode_response(reply, block, address=address, kwh_scale=scales.get(address))
        values = dict(reading.fields)
        found.setdefault(address, []).append(values)
        if block is Block.V4A:
            scales[address] = reading.code("kWh_Scale")
            following = exchanges[index + 1] if index + 1 < len(exchanges) else None
            if following and following[0] == ("read", f"{address}01") and following[1]:
                b_reading = decode_response(
                    following[1], Block.V4B, address=address, kwh_scale=scales[address]
                )
                found[address].append({**b_reading.fields, **values})
    return found


def _acknowledged_writes(exchanges: list[_Exchange]) -> list[tuple[str, str]]:
    """(meter, W1 frame) of every write acknowledged in a read → P1 → W1 session."""
    writes: list[tuple[str, str]] = []
    for index in range(2, len(exchanges)):
        (read, read_reply), (login, login_reply), (write, write_reply) = exchanges[
            index - 2 : index + 1
        ]
        if (
            read[0] == "read"
            and read_reply
            and login[0] == "P1"
            and login_reply == b"\x06"
            and write[0] == "W1"
            and write_reply == b"\x06"
        ):
            writes.append((read[1][:12], write[1]))
    return writes
