"""Decoders must cost time linear in their input, however it is chunked.

A stream decoder that rescans its whole buffer on every chunk is quadratic: fine in a unit
test, seconds of a blocked event loop for a large unfinished message arriving in small
chunks. This prints the cost of 1, 16 and 256 KiB fed in 1-byte, 128-byte and whole chunks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from custom_components.meterlink.meters.ekm.frames import scan_response
from custom_components.meterlink.meters.push.settings.stream import StreamDecoder

SIZES_KIB = (1, 16, 256)
CHUNKS: tuple[int | None, ...] = (1, 128, None)  # None: the whole input at once

REPEATS = 3  # best of three: a busy machine or a GC pause is no property of the decoder

type Feeder = Callable[[bytes, int | None], None]


def _timed(feed: Feeder, data: bytes, chunk: int | None) -> float:
    begin = time.perf_counter()
    feed(data, chunk)
    return time.perf_counter() - begin


def _chunks(data: bytes, size: int | None) -> list[bytes]:
    if size is None:
        return [data]
    return [data[i : i + size] for i in range(0, len(data), size)]


def _stream_bytes(data: bytes, size: int | None) -> None:
    decoder = StreamDecoder()
    for chunk in _chunks(data, size):
        decoder.feed(chunk)


def _stream_text(data: bytes, size: int | None) -> None:
    decoder = StreamDecoder()
    for chunk in _chunks(data, size):
        decoder.feed_text(chunk.decode("ascii"))


def _rs485_buffer(data: bytes, size: int | None) -> None:
    """The bus's receive loop: append, scan, drop what the scan discards."""
    buffer = bytearray()
    for chunk in _chunks(data, size):
        buffer += chunk
        scan = scan_response(bytes(buffer))
        del buffer[: scan.discard]


def _unfinished_message(size: int) -> bytes:
    """One answer whose end never comes: `{"msg_id": ..., "data": "aaaa...`."""
    head = b'{"msg_id":"8fce23ce5d0b11ebb86e4c1d96d9f4c7","success":true,"data":"'
    return head + b"a" * (size - len(head))


def _bus_noise(size: int) -> bytes:
    """7-bit line noise with an STX every 100 bytes or so (candidates that never check out)."""
    rng = random.Random(size)
    noise = bytearray(rng.randrange(0x04, 0x80) for _ in range(size))
    for index in range(0, size, 100):
        noise[index] = 0x02
    return bytes(noise)


DECODERS: tuple[tuple[str, Feeder, Callable[[int], bytes]], ...] = (
    ("device-stream bytes, unfinished message", _stream_bytes, _unfinished_message),
    ("device-stream websocket text, unfinished", _stream_text, _unfinished_message),
    ("rs485 receive buffer, noise", _rs485_buffer, _bus_noise),
)


def run() -> list[str]:
    """The figures, one line per decoder, input size and chunk size."""
    lines = [f"{'decoder':44} {'size':>7} {'chunk':>6} {'seconds':>9} {'us/KiB':>9}"]
    for name, feed, make in DECODERS:
        for kib in SIZES_KIB:
            data = make(kib * 1024)
            for chunk in CHUNKS:
                elapsed = min(_timed(feed, data, chunk) for _ in range(REPEATS))
                shown = "whole" if chunk is None else f"{chunk} B"
                lines.append(
                    f"{name:44} {kib:>4} KiB {shown:>6} {elapsed:>9.4f} {elapsed / kib * 1e6:>9.1f}"
                )
    return lines
