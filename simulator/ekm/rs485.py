"""A simulated EKM RS-485 bus: meters behind a serial-to-TCP bridge or a pseudo-terminal.

The core (`feed`) is sans-IO: bytes a client puts on the bus in, the meters' replies out. The
TCP and pty front ends only move bytes, optionally at the real 9600-baud pace, so the client
under test runs its real serial code path. Faults corrupt replies the way a noisy or
misconfigured bus does; `last_served` records what a correct client may publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import random
import time
import tty
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from custom_components.meterlink.meters.ekm import (
    ACK,
    CLOSE_FRAME,
    Block,
    FieldValue,
    MeterVersion,
    decode_response,
    ekm_crc,
    encode_response,
)

from .meter import SimMeter

CHAR_TIME = 10 / 9600  # 7E1: 10 bits per character at 9600 baud
_PACE_CHUNK = 8  # characters handed to the transport per wake-up when pacing
_MAX_MESSAGE = 300  # a request or command longer than this is line noise
_SOH, _STX, _ETX = 0x01, 0x02, 0x03
_SUFFIX_BLOCKS = {"00": Block.V4A, "01": Block.V4B}

type _Send = Callable[[bytes], Awaitable[None]]


@dataclass
class Faults:
    """Probabilities (0..1) of corrupting a reply; mutable while the simulator runs."""

    bad_crc: float = 0.0
    truncate: float = 0.0
    silence: float = 0.0
    garbage: float = 0.0
    wrong_address: float = 0.0
    seed: int | None = None


@dataclass(frozen=True)
class ServedFrame:
    """One read answered (or deliberately not): what was meant to go out and what went wrong."""

    address: str
    block: Block
    fault: str | None
    values: dict[str, FieldValue]


@dataclass(frozen=True)
class WireEvent:
    """One message on the wire: `rx` from the client, `tx` a reply; `at` is loop time.

    An `rx` is stamped when its last byte arrived (before it waits for the bus), a `tx` when
    its first and last byte went out, so a test can see a client talk over an answer.
    """

    direction: str
    data: bytes
    at: float
    until: float | None = None


@dataclass(frozen=True)
class _Read:
    address: str
    suffix: str | None


@dataclass(frozen=True)
class _Command:
    kind: str  # "P1", "W1", "R1"
    body: str


class _Close:
    """The close frame: the open meter ends its session."""


class _Noise:
    """Bytes that are no message: the meters ignore them."""


type _Message = _Read | _Command | _Close | _Noise


@dataclass
class _Port:
    """Receive state of one client connection (bytes of a request split across reads)."""

    buffer: bytearray = field(default_factory=bytearray)


class EkmBusSimulator:
    """Meters sharing one bus: one meter session at a time, like the real wire."""

    def __init__(
        self,
        meters: Iterable[SimMeter],
        *,
        faults: Faults | None = None,
        pace: bool = False,
        turnaround: float = 0.0,
        auto_advance: bool = True,
    ) -> None:
        self.meters: dict[str, SimMeter] = {meter.address: meter for meter in meters}
        self.faults = faults or Faults()
        self.pace = pace
        self.turnaround = turnaround
        self.auto_advance = auto_advance
        self.last_served: dict[str, dict[str, FieldValue]] = {}
        self.served: list[ServedFrame] = []
        self.transcript: list[WireEvent] = []  # every message and reply, in wire order
        self._open: SimMeter | None = None
        self._logged_in = False
        self._port = _Port()
        self._random = random.Random(self.faults.seed)
        self._random_for = self.faults
        now = time.monotonic()
        self._advanced_at = dict.fromkeys(self.meters, now)
        self._bus: asyncio.Lock | None = None
        self._rx_free_at = 0.0
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._ptys: list[tuple[int, int]] = []

    # Sans-IO core ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[bytes]:
        """Bytes from the bus in, replies out (empty when the meters stay silent)."""
        return self._feed(self._port, data)

    def _feed(self, port: _Port, data: bytes, arrived: float = 0.0) -> list[bytes]:
        port.buffer += data
        replies = []
        while True:
            before = bytes(port.buffer)
            message = _take_message(port.buffer)
            if message is None:
                break
            taken = before[: len(before) - len(port.buffer)]
            self.transcript.append(WireEvent("rx", taken, arrived))
            reply = self._handle(message)
            if reply:
                replies.append(reply)
        return replies

    def _handle(self, message: _Message) -> bytes | None:
        match message:
            case _Close():
                self._open, self._logged_in = None, False
                return None
            case _Noise():
                return None
            case _Read(address, suffix):
                return self._read(address, suffix)
            case _Command("P1", body):
                meter = self._open
                if meter is None or body != f"({meter.password})":
                    return None
                self._logged_in = True
                return self._ack()
            case _Command("W1", body):
                meter = self._open
                if meter is None or not self._logged_in or len(body) < 6 or body[-1] != ")":
                    return None
                code, data = body[2:4], body[5:-1]
                if body[:2] != "00" or body[4] != "(" or not meter.apply(code, data):
                    return None
                return self._ack()
        return None  # R1 setting reads are not simulated: the meter stays silent

    def _ack(self) -> bytes | None:
        return None if self._roll(self.faults.silence) else bytes((ACK,))

    def _read(self, address: str, suffix: str | None) -> bytes | None:
        self._open, self._logged_in = None, False
        meter = self.meters.get(address)
        if meter is None:
            return None
        if meter.version is MeterVersion.V3:
            if suffix is not None:
                return None  # v3 meters ignore v4 requests
            block = Block.V3
        else:
            found = _SUFFIX_BLOCKS.get(suffix or "00")
            if found is None:
                return None
            block = found
        self._open = meter
        if self.auto_advance:
            now = time.monotonic()
            meter.advance(max(0.0, now - self._advanced_at[address]))
            self._advanced_at[address] = now
        values = meter.values(block)
        frame = encode_response(block, values, kwh_scale=meter.kwh_scale)
        truth = dict(decode_response(frame, block, kwh_scale=meter.kwh_scale).fields)
        reply, fault = self._corrupt(frame, block, values, meter)
        if self._roll(self.faults.garbage) and reply:
            reply = self._garbage() + reply
            fault = fault or "garbage"
        if fault in {None, "garbage"}:
            self.last_served[address] = truth
        self.served.append(ServedFrame(address, block, fault, truth))
        return reply

    def _corrupt(
        self, frame: bytes, block: Block, values: dict[str, FieldValue], meter: SimMeter
    ) -> tuple[bytes, str | None]:
        faults = self.faults
        if self._roll(faults.silence):
            return b"", "silence"
        if self._roll(faults.truncate):
            return frame[: self._random.randrange(1, len(frame) - 1)], "truncate"
        if self._roll(faults.bad_crc):
            return frame[:-2] + bytes(byte ^ 0x01 for byte in frame[-2:]), "bad_crc"
        if self._roll(faults.wrong_address):
            others = [address for address in self.meters if address != meter.address]
            other = others[0] if others else f"{(int(meter.address) + 1) % 10**12:012d}"
            forged = {**values, "Meter_Address": other}
            return encode_response(block, forged, kwh_scale=meter.kwh_scale), "wrong_address"
        return frame, None

    def _garbage(self) -> bytes:
        noise = bytearray(
            self._random.randrange(0, 0x80) for _ in range(self._random.randint(1, 40))
        )
        if self._random.random() < 0.5:  # a stray STX makes the client resynchronise
            noise[self._random.randrange(len(noise))] = _STX
        return bytes(noise)

    def _roll(self, probability: float) -> bool:
        if self._random_for is not self.faults:  # a new Faults object: honour its seed
            self._random, self._random_for = random.Random(self.faults.seed), self.faults
        if probability <= 0:
            return False
        return probability >= 1 or self._random.random() < probability

    # Front ends -------------------------------------------------------------------------

    async def _receive(
        self, port: _Port, data: bytes, send: _Send, arrived: float | None = None
    ) -> None:
        """Put bytes on the bus and play the replies back, one request at a time."""
        loop = asyncio.get_running_loop()
        if self._bus is None:
            self._bus = asyncio.Lock()
        if arrived is None:
            arrived = loop.time()
        async with self._bus:
            if self.pace:  # the request itself needs wire time before a meter can answer
                loop = asyncio.get_running_loop()
                self._rx_free_at = max(loop.time(), self._rx_free_at) + len(data) * CHAR_TIME
                await asyncio.sleep(self._rx_free_at - loop.time())
            for reply in self._feed(port, data, arrived):
                if self.turnaround > 0:
                    await asyncio.sleep(self.turnaround)
                started = loop.time()
                await self._emit(reply, send)
                self.transcript.append(WireEvent("tx", reply, started, loop.time()))

    async def _emit(self, reply: bytes, send: _Send) -> None:
        if not self.pace:
            await send(reply)
            return
        # Hand bytes over as they would finish arriving at 9600 baud, against a fixed start
        # time so that sleep overshoot does not accumulate into drift.
        loop = asyncio.get_running_loop()
        start, sent = loop.time(), 0
        while sent < len(reply):
            due = min(len(reply), int((loop.time() - start) / CHAR_TIME + 1e-6))
            if due > sent:
                await send(reply[sent:due])
                sent = due
            if sent < len(reply):
                wake = start + min(len(reply), sent + _PACE_CHUNK) * CHAR_TIME
                await asyncio.sleep(max(0.0, wake - loop.time()))

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen like a serial-to-TCP bridge; returns the client's `socket://` URL."""
        server = await asyncio.start_server(self._serve_tcp, host, port)
        self._servers.append(server)
        bound_port = server.sockets[0].getsockname()[1]
        return f"socket://{host}:{bound_port}"

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        port = _Port()

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        # Bytes are read (and stamped) while a reply is pending, as a wire would carry them.
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def pump() -> None:
            try:
                while data := await reader.read(4096):
                    queue.put_nowait((loop.time(), data))
            except ConnectionError, OSError:
                pass  # the client went away
            finally:
                queue.put_nowait(None)

        pump_task = asyncio.create_task(pump(), name="ekm-sim-tcp-pump")
        try:
            while (item := await queue.get()) is not None:
                await self._receive(port, item[1], send, item[0])
        except ConnectionError, OSError:
            pass  # the client went away
        finally:
            pump_task.cancel()
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def start_pty(self) -> str:
        """Serve on a pseudo-terminal; returns the slave path a serial client opens."""
        master, slave = pty.openpty()
        tty.setraw(master)
        tty.setraw(slave)  # no echo or line editing even before the client configures it
        os.set_blocking(master, False)
        self._ptys.append((master, slave))
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._pty_readable, master, queue)
        task = asyncio.create_task(self._serve_pty(master, queue), name="ekm-sim-pty")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return os.ttyname(slave)

    @staticmethod
    def _pty_readable(master: int, queue: asyncio.Queue[tuple[float, bytes]]) -> None:
        try:
            data = os.read(master, 4096)
        except BlockingIOError:
            return
        except OSError:  # no client has the slave open
            return
        if data:
            queue.put_nowait((asyncio.get_running_loop().time(), data))

    async def _serve_pty(self, master: int, queue: asyncio.Queue[tuple[float, bytes]]) -> None:
        port = _Port()

        async def send(data: bytes) -> None:
            view = memoryview(data)
            while view:
                try:
                    written = os.write(master, view)
                except BlockingIOError:
                    await asyncio.sleep(0.001)
                    continue
                view = view[written:]

        while True:
            arrived, data = await queue.get()
            try:
                await self._receive(port, data, send, arrived)
            except OSError:
                continue  # the client closed the slave mid-reply

    async def stop(self) -> None:
        """Close every endpoint: connected clients see the port disappear."""
        loop = asyncio.get_running_loop()
        for server in self._servers:
            server.close()
            server.close_clients()
        for master, _slave in self._ptys:
            loop.remove_reader(master)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for server in self._servers:
            await server.wait_closed()
        for master, slave in self._ptys:
            os.close(master)
            os.close(slave)
        self._servers.clear()
        self._ptys.clear()


def _take_message(buffer: bytearray) -> _Message | None:
    """Remove and return the first complete message; None when more bytes are needed.

    Line noise before a message is dropped, like a UART that only wakes on a start character.
    """
    while buffer:
        starts = [i for i in (buffer.find(b"/"), buffer.find(_SOH)) if i != -1]
        if not starts:
            buffer.clear()
            return None
        del buffer[: min(starts)]
        message = _take_request(buffer) if buffer[0] == ord("/") else _take_soh(buffer)
        if not isinstance(message, _Noise):
            return message
    return None


def _take_request(buffer: bytearray) -> _Message | None:
    """A read request `/?` + 12 digits (+ 2 for v4) + `!CR LF` at the start of `buffer`."""
    end = buffer.find(b"!\r\n")
    if end == -1:
        if len(buffer) > _MAX_MESSAGE:
            del buffer[:1]
            return _Noise()
        return None
    body = buffer[2:end].decode("ascii", "replace")
    valid = buffer[1:2] == b"?" and body.isdigit() and len(body) in {12, 14}
    del buffer[: end + 3]
    return _Read(body[:12], body[12:] or None) if valid else _Noise()


def _take_soh(buffer: bytearray) -> _Message | None:
    """A SOH message at the start of `buffer`: the close frame, or P1/W1/R1 with a CRC."""
    if buffer[1:2] == b"B":
        if len(buffer) < len(CLOSE_FRAME) and CLOSE_FRAME.startswith(buffer):
            return None
        if buffer.startswith(CLOSE_FRAME):
            del buffer[: len(CLOSE_FRAME)]
            return _Close()
        del buffer[:1]
        return _Noise()
    etx = buffer.find(_ETX)
    if etx == -1 or len(buffer) < etx + 3:
        if len(buffer) > _MAX_MESSAGE:
            del buffer[:1]
            return _Noise()
        return None
    frame = bytes(buffer[: etx + 3])
    del buffer[: etx + 3]
    kind = frame[1:3].decode("ascii", "replace")
    if kind not in {"P1", "W1", "R1"} or frame[3:4] != bytes((_STX,)):
        return _Noise()
    if ekm_crc(frame[1:-2]) != frame[-2:]:
        return _Noise()  # a damaged command is ignored; the meter stays open
    return _Command(kind, frame[4:etx].decode("ascii", "replace"))
