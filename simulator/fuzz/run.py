"""Run families: count inputs, time each one, keep the smallest input of every escape."""

from __future__ import annotations

import contextlib
import gc
import heapq
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from custom_components.meterlink.meters.errors import MeterError

from .families import Family
from .mutate import Mutator

KEEP_EVERY = 20  # one in this many inputs that parsed goes back into the mutation pool
RETIME = 5  # the slowest inputs are timed again (best of 3): a GC pause or a busy CPU is no
# property of the parser


@dataclass
class Escape:
    """A non-MeterError out of a parser; `data` is the smallest input found for it."""

    kind: str
    where: str
    message: str
    data: bytes
    count: int = 1


@dataclass
class Result:
    """What one family's run found."""

    family: str
    inputs: int = 0
    parsed: int = 0
    refused: int = 0  # typed MeterErrors: the expected outcome for most mutations
    seconds: float = 0.0
    slowest: float = 0.0
    slowest_input: bytes = b""
    candidates: list[tuple[float, bytes]] = field(default_factory=list)
    escapes: dict[tuple[str, str], Escape] = field(default_factory=dict)

    @property
    def escape_count(self) -> int:
        """Inputs that escaped (all kinds)."""
        return sum(escape.count for escape in self.escapes.values())

    @property
    def rate(self) -> float:
        """Inputs per second."""
        return self.inputs / self.seconds if self.seconds else 0.0


def run_family(
    family: Family,
    count: int,
    seed: int,
    *,
    progress: Callable[[Result], None] | None = None,
) -> Result:
    """Feed `count` inputs (the seeds first, then mutations) to one family's target."""
    seeds = family.seeds()
    rng = random.Random(f"{seed}:{family.name}")
    mutator = Mutator(seeds, rng, structured=family.structured)
    gc.collect()
    gc.freeze()  # the seeds and the library are no garbage: keep full collections short
    result = Result(family.name)
    started = time.perf_counter()
    for index in range(count):
        data = seeds[index] if index < len(seeds) else mutator.next()
        begin = time.perf_counter()
        try:
            family.target(data)
        except MeterError:
            result.refused += 1
        except Exception as err:  # finding these is the point
            _record(result, err, data)
        else:
            result.parsed += 1
            if index % KEEP_EVERY == 0:
                mutator.keep(data)
        elapsed = time.perf_counter() - begin
        if len(result.candidates) < RETIME or elapsed > result.candidates[0][0]:
            heapq.heappush(result.candidates, (elapsed, data))
            if len(result.candidates) > RETIME:
                heapq.heappop(result.candidates)
        result.inputs += 1
        if progress is not None and result.inputs % 100_000 == 0:
            result.seconds = time.perf_counter() - started
            progress(result)
    result.seconds = time.perf_counter() - started
    for _first, data in result.candidates:
        best = min(_time(family, data) for _ in range(3))
        if best > result.slowest:
            result.slowest, result.slowest_input = best, data
    return result


def _time(family: Family, data: bytes) -> float:
    begin = time.perf_counter()
    with contextlib.suppress(Exception):  # only the time matters here
        family.target(data)
    return time.perf_counter() - begin


def _record(result: Result, err: Exception, data: bytes) -> None:
    frames = traceback.extract_tb(err.__traceback__)
    frame = frames[-1] if frames else None
    where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else "?"
    key = (type(err).__name__, where)
    known = result.escapes.get(key)
    if known is None:
        result.escapes[key] = Escape(key[0], where, " ".join(str(err).split())[:200], data)
        return
    known.count += 1
    if len(data) < len(known.data):
        known.data = data
