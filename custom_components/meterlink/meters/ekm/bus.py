"""Async client for an EKM RS-485 bus (a serial port or a serial-to-TCP bridge).

RS-485 is half duplex and shared: one request and its answer at a time, for every meter on the
wire. So each `EkmBus` owns one lock and every public call holds it for the whole meter session
(read request, optional login and write, close frame). Waiting is derived from wire time at the
bus's baud rate instead of fixed sleeps: a call returns as soon as the last byte of the answer
arrives, and a silent or garbled meter costs one turnaround plus the frame's wire time, not
seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import serialx

from ..errors import (
    InvalidParameterError,
    MeterAddressError,
    MeterAuthError,
    MeterCommandError,
    MeterConnectionError,
    MeterCrcError,
    MeterFrameError,
    MeterTimeoutError,
    MeterUnsupportedError,
)
from .commands import Command, login_frame
from .endpoint import claim, endpoint_ids, release
from .frames import (
    ACK,
    CLOSE_FRAME,
    STX,
    decode_response,
    normalize_address,
    read_request,
    scan_response,
)
from .layout import FRAME_LENGTH, Block
from .reading import EkmReading, MeterVersion

_LOGGER = logging.getLogger(__name__)

_READ_CHUNK = 4096
_CLOSE_TIMEOUT = 2.0
_SETTLE_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class BusTiming:
    """How long the bus may stay silent, derived from the serial settings.

    `turnaround` is how long a meter may think before its first byte; `gap` is how long a
    started answer may pause before it is taken as finished (truncated or garbage).
    """

    baudrate: int = 9600
    turnaround: float = 1.0
    gap: float = 0.25

    def __post_init__(self) -> None:
        if self.baudrate <= 0 or self.turnaround < 0 or self.gap <= 0:
            msg = "bus timing needs a positive baud rate and gap and a turnaround of 0 or more"
            raise InvalidParameterError(msg)

    @property
    def char_time(self) -> float:
        """Seconds per character: 7E1 is start + 7 data + parity + stop = 10 bits."""
        return 10 / self.baudrate

    def response_timeout(self, tx_bytes: int, rx_bytes: int) -> float:
        """Longest wait for a complete answer.

        Both frames on the wire, the meter's turnaround, and slack for USB adapters and
        bridges that deliver bytes in bursts.
        """
        wire = (tx_bytes + rx_bytes) * self.char_time
        return wire * 1.25 + self.turnaround + self.gap


@dataclass(slots=True)
class BusStats:
    """Counters for diagnostics: how healthy the wire is, not what the meters said."""

    requests: int = 0
    retries: int = 0
    crc_errors: int = 0
    timeouts: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    reconnects: int = 0


class _Link:
    """One open port: a pump task moves received bytes into a buffer the bus scans.

    Keeping our own buffer (instead of reading the stream on demand) lets the bus drop stale
    bytes before a request and notice a vanished port even while idle.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        stats: BusStats,
    ) -> None:
        self.buffer = bytearray()
        self.lost: str | None = None
        # An exchange was abandoned (cancelled, or its answer broke off): a late answer may
        # still be on the wire, so the next exchange first waits for the line to go quiet.
        self.dirty = False
        self._reader = reader
        self._writer = writer
        self._stats = stats
        self._arrived = asyncio.Event()
        self._pump = asyncio.create_task(self._run(), name="meterlink-ekm-bus-pump")

    async def _run(self) -> None:
        try:
            while True:
                data = await self._reader.read(_READ_CHUNK)
                if not data:
                    self.lost = "the port closed"
                    return
                self.buffer += data
                self._stats.bytes_received += len(data)
                self._arrived.set()
        except (OSError, serialx.SerialException) as err:
            self.lost = f"the port failed ({err.__class__.__name__})"
        finally:
            self._arrived.set()

    def arm(self) -> None:
        """Forget past wake-ups; call before looking at the buffer, then `wait`."""
        self._arrived.clear()

    async def wait(self, seconds: float) -> bool:
        """Wait for new bytes (or the loss of the port); False when `seconds` passed silently."""
        if seconds <= 0:
            return False
        try:
            async with asyncio.timeout(seconds):
                await self._arrived.wait()
        except TimeoutError:
            return False
        return True

    async def send(self, data: bytes) -> None:
        self.check()
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, RuntimeError, serialx.SerialException) as err:
            self.lost = f"writing failed ({err.__class__.__name__})"
            raise MeterConnectionError(self.lost) from err
        self._stats.bytes_sent += len(data)

    def check(self) -> None:
        if self.lost is not None:
            raise MeterConnectionError(self.lost)

    async def settle(self, quiet: float) -> bool:
        """After an abandoned exchange: drop bytes until `quiet` seconds pass in silence.

        Returns whether the line was dirty. Bounded, so a babbling line costs a few quiet
        periods rather than the bus.
        """
        if not self.dirty:
            return False
        for _ in range(_SETTLE_ROUNDS):
            self.buffer.clear()
            self.arm()
            if not await self.wait(quiet):
                break
        self.buffer.clear()
        self.dirty = False
        return True

    async def close(self) -> None:
        if self.lost is None:
            self.lost = "the bus was closed"
        self._arrived.set()
        self._pump.cancel()
        await asyncio.wait([self._pump])
        self._writer.close()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await self._writer.wait_closed()
        except OSError, TimeoutError, serialx.SerialException:
            _LOGGER.debug("port did not close cleanly", exc_info=True)


class EkmBus:
    """One RS-485 bus with any number of EKM meters on it."""

    def __init__(
        self,
        url: str,
        *,
        timing: BusTiming | None = None,
        retries: int = 2,
        connect_timeout: float = 5.0,
    ) -> None:
        if retries < 0:
            msg = "retries must be 0 or more"
            raise InvalidParameterError(msg)
        self.url = url
        self.timing = timing or BusTiming()
        self.retries = retries
        self.connect_timeout = connect_timeout
        self.stats = BusStats()
        self._lock = asyncio.Lock()
        self._link: _Link | None = None
        self._was_lost = False

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the port now; calls open it lazily anyway, this reports a bad URL early."""
        async with self._lock:
            await self._ensure_link()

    async def close(self) -> None:
        """Close the port; a later call reopens it. Wakes a call waiting on the bus."""
        link, self._link = self._link, None
        release(self)
        if link is not None:
            await link.close()

    async def read_block(
        self, address: str, block: Block, *, kwh_scale: int | None = None
    ) -> EkmReading:
        """One response block; B-block energies need the A block's `kwh_scale`."""
        address = normalize_address(address)
        async with self._lock:
            try:
                return await self._read(address, block, kwh_scale, self.retries + 1)
            finally:
                await self._end_session()

    async def read_meter(
        self, address: str, version: MeterVersion, *, include_b: bool = True
    ) -> EkmReading:
        """A complete reading: v4 A (merged over B when asked), or the single v3 block."""
        address = normalize_address(address)
        attempts = self.retries + 1
        async with self._lock:
            try:
                if version is MeterVersion.V3:
                    return await self._read(address, Block.V3, None, attempts)
                reading_a = await self._read(address, Block.V4A, None, attempts)
                if not include_b:
                    return reading_a
                scale = reading_a.code("kWh_Scale")
                reading_b = await self._read(address, Block.V4B, scale, attempts)
                return reading_a.merged_with(reading_b)
            finally:
                await self._end_session()

    async def identify(self, address: str) -> EkmReading:
        """Find out which protocol a meter speaks; the reading's `version` tells.

        v4 first: a v3 meter ignores suffixed requests (costing one timeout), while a v4 meter
        would answer a v3 request with an A block that cannot be decoded as v3.
        """
        address = normalize_address(address)
        async with self._lock:
            try:
                last_error: MeterFrameError | MeterTimeoutError | None = None
                for attempt in range(self.retries + 1):
                    if attempt:
                        self.stats.retries += 1
                    for block in (Block.V4A, Block.V3):
                        try:
                            return await self._read(address, block, None, 1)
                        except (MeterTimeoutError, MeterFrameError) as err:
                            last_error = err
                raise last_error or MeterTimeoutError(f"meter {address} did not answer")
            finally:
                await self._end_session()

    async def check_password(self, address: str, password: str, version: MeterVersion) -> None:
        """Log in and log out again: MeterAuthError when the meter does not acknowledge."""
        address = normalize_address(address)
        login = login_frame(password)
        async with self._lock:
            try:
                await self._open_meter(address, version)
                await self._login(login)
            finally:
                await self._end_session()

    async def execute(
        self, address: str, command: Command, password: str, version: MeterVersion
    ) -> None:
        """Send one settings write: read (opens the meter), P1 login, W1 write, close."""
        address = normalize_address(address)
        if command.min_version is MeterVersion.V4 and version is MeterVersion.V3:
            msg = f"a v3 meter cannot {command.description}"
            raise MeterUnsupportedError(msg)
        login = login_frame(password)
        async with self._lock:
            try:
                await self._open_meter(address, version)
                await self._login(login)
                link = await self._ensure_link()
                if not await self._exchange_ack(link, command.frame):
                    msg = f"meter {address} did not acknowledge: {command.description}"
                    raise MeterCommandError(msg)
                _LOGGER.debug("meter %s acknowledged: %s", address, command.description)
            finally:
                await self._end_session()

    # Sessions ---------------------------------------------------------------------------

    async def _open_meter(self, address: str, version: MeterVersion) -> None:
        block = Block.V3 if version is MeterVersion.V3 else Block.V4A
        await self._read(address, block, None, self.retries + 1)

    async def _login(self, login: bytes) -> None:
        link = await self._ensure_link()
        if not await self._exchange_ack(link, login):
            msg = "the meter refused the password"
            raise MeterAuthError(msg)

    async def _end_session(self) -> None:
        """Send the close frame so no meter stays open; nothing answers it.

        After an abandoned exchange the close frame waits for the next call's `settle`:
        sent now, it would collide with the answer still on the wire.
        """
        link = self._link
        if link is None or link.lost is not None or link.dirty:
            return
        try:
            await link.send(CLOSE_FRAME)
        except MeterConnectionError:
            _LOGGER.debug("could not send the close frame on %s", self.url)

    async def _read(
        self, address: str, block: Block, kwh_scale: int | None, attempts: int
    ) -> EkmReading:
        request = read_request(address, block)
        last_error: MeterFrameError | MeterTimeoutError | None = None
        address_retried = False
        for attempt in range(attempts):
            if attempt:
                self.stats.retries += 1
                _LOGGER.debug("retrying %s read of %s after: %s", block, address, last_error)
            link = await self._ensure_link()
            try:
                frame = await self._exchange_frame(link, request)
                return decode_response(frame, block, address=address, kwh_scale=kwh_scale)
            except MeterAddressError as err:
                # Two meters sharing an address, or a late answer: one more try at most.
                if address_retried or attempt + 1 == attempts:
                    raise
                address_retried = True
                last_error = err
            except (MeterFrameError, MeterTimeoutError) as err:
                last_error = err
        raise last_error or MeterTimeoutError(f"meter {address} did not answer")

    # Wire -------------------------------------------------------------------------------

    async def _ensure_link(self) -> _Link:
        link = self._link
        if link is not None and link.lost is None:
            return link
        if link is not None:
            _LOGGER.debug("reopening %s: %s", self.url, link.lost)
            self._link = None
            self._was_lost = True
            await link.close()
        claim(self, await endpoint_ids(self.url), self.url)
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await serialx.open_serial_connection(
                    self.url,
                    baudrate=self.timing.baudrate,
                    parity=serialx.Parity.EVEN,
                    stopbits=serialx.StopBits.ONE,
                    byte_size=7,
                    connect_timeout=self.connect_timeout,
                )
        except (OSError, TimeoutError, ValueError, serialx.SerialException) as err:
            release(self)
            msg = f"cannot open {self.url}: {err.__class__.__name__}: {err}"
            raise MeterConnectionError(msg) from err
        except BaseException:
            release(self)
            raise
        if self._was_lost:
            self.stats.reconnects += 1
            self._was_lost = False
            _LOGGER.info("reconnected to %s", self.url)
        self._link = _Link(reader, writer, self.stats)
        return self._link

    async def _exchange_frame(self, link: _Link, request: bytes) -> bytes:
        """Send a read request and wait for the first valid 255-byte frame.

        Garbage before STX and rejected candidates are dropped as they are found; a candidate
        that fails its trailer or CRC is only reported after `gap` of silence, because a real
        frame may follow the garbage.
        """
        loop = asyncio.get_running_loop()
        await self._settle(link)
        link.buffer.clear()  # stale bytes from an earlier, abandoned answer
        with _abandoned_marks(link):
            await link.send(request)
            self.stats.requests += 1
            deadline = loop.time() + self.timing.response_timeout(len(request), FRAME_LENGTH)
            return await self._await_frame(link, request, deadline)

    async def _await_frame(self, link: _Link, request: bytes, deadline: float) -> bytes:
        loop = asyncio.get_running_loop()
        rejected: MeterFrameError | None = None
        started = False
        while True:
            link.arm()
            if link.buffer:
                started = True
                scan = scan_response(bytes(link.buffer))
                del link.buffer[: scan.discard]
                if scan.frame is not None:
                    return scan.frame
                rejected = scan.rejected or rejected
            link.check()
            remaining = deadline - loop.time()
            if await link.wait(min(remaining, self.timing.gap) if started else remaining):
                continue
            if rejected is not None:
                if isinstance(rejected, MeterCrcError):
                    self.stats.crc_errors += 1
                raise rejected
            self.stats.timeouts += 1
            if started:
                msg = f"the answer stopped after {len(link.buffer)} of {FRAME_LENGTH} bytes"
            else:
                timeout = self.timing.response_timeout(len(request), FRAME_LENGTH)
                msg = f"no answer within {timeout:.2f} s"
            raise MeterTimeoutError(msg)

    async def _exchange_ack(self, link: _Link, frame: bytes) -> bool:
        """Send a P1/W1 frame; True when the meter answers ACK. Never logs the frame.

        The answer is one byte (ekm.md §1: "a lone 0x06"). Only an ACK that is the first byte
        after the request counts: a 0x06 inside a late 255-byte answer (its CRC, say) is no
        acknowledgement, and whole late frames in front of the answer are dropped.
        """
        loop = asyncio.get_running_loop()
        await self._settle(link)
        link.buffer.clear()
        with _abandoned_marks(link):
            await link.send(frame)
            self.stats.requests += 1
            deadline = loop.time() + self.timing.response_timeout(len(frame), 1)
            started = False
            while True:
                link.arm()
                verdict = _ack_verdict(link.buffer)
                if verdict is not None:
                    link.buffer.clear()
                    return verdict
                started = started or bool(link.buffer)
                link.check()
                remaining = deadline - loop.time()
                if not await link.wait(min(remaining, self.timing.gap) if started else remaining):
                    if link.buffer:
                        link.dirty = True  # part of a late frame: let it pass first
                    return False

    async def _settle(self, link: _Link) -> None:
        """Wait out a late answer of an abandoned exchange, then close whatever it opened."""
        quiet = self.timing.response_timeout(0, FRAME_LENGTH)
        if await link.settle(quiet):
            _LOGGER.debug("waited for a late answer to pass on %s", self.url)
            await link.send(CLOSE_FRAME)


def _ack_verdict(buffer: bytearray) -> bool | None:
    """True for an ACK, False for any other answer, None while undecided.

    Whole late frames (STX + 254 bytes) at the front are dropped; a partial one waits.
    """
    while buffer and buffer[0] == STX:
        if len(buffer) < FRAME_LENGTH:
            return None
        del buffer[:FRAME_LENGTH]
    if not buffer:
        return None
    return buffer[0] == ACK


@contextmanager
def _abandoned_marks(link: _Link) -> Iterator[None]:
    """Mark the link dirty when the caller gives up on an exchange (task cancellation)."""
    try:
        yield
    except asyncio.CancelledError:
        link.dirty = True
        raise
