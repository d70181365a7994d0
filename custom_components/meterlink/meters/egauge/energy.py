"""Import and export energy of net registers, from the meter's own finest history.

A net register (grid power that flows both ways) counts one signed number. The Energy dashboard
needs consumption and return separately, and both must never decrease. Splitting the signed
counter by the sign of each poll's change would net out everything that happened between two
polls (30 s of export hidden in 30 s of import), so the split is made from the meter's history
rows instead: 1 s rows for the last hour (what the meter keeps in memory), 1 min rows beyond
(after an outage or a Home Assistant restart). Each row-to-row change goes wholly to import or
export, so with 1 s rows the result is what the meter itself measured.

Counter changes are taken modulo 2^63 (counters may wrap). A change no installation can make in
the time between two rows (a `db zero`, a restored backup) is a reset and counted as nothing,
and so is a moved epoch, because a reset is not energy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from itertools import pairwise

from .models import HistoryRow, Register, counter_delta

SECOND_ROWS_SPAN = 3600
"""Seconds of 1 s rows a meter keeps (in volatile memory: a reboot clears them)."""

MINUTE_ROWS_SPAN = 86400
"""Seconds of 1 min rows a catch-up asks for at most (64 registers: about 1 MB)."""

NOW = math.inf
"""A range end that the meter reads as its own `now`."""

_MARGIN = 120  # seconds of the 1 s window left unused, so a slow poll does not fall out of it
MAX_POWER = 2e6
"""Watts beyond any register an eGauge measures (a 2000 A 480 V service is 1.7 MW): a faster
change between two rows is a reset, not energy."""


class Direction(StrEnum):
    """How a register's counter has moved over the history looked at."""

    UP = "up"  # only increases: total_increasing as it is
    DOWN = "down"  # only decreases: a load wired negative (offer the sign flip)
    BOTH = "both"  # a net register: signed total plus import/export
    FLAT = "flat"  # no change seen


def direction(rows: Sequence[HistoryRow], name: str) -> Direction:
    """The direction of register `name` over `rows` (any order)."""
    ordered = sorted((row for row in rows if name in row.counters), key=lambda row: row.ts)
    ups = downs = False
    for older, newer in pairwise(ordered):
        change = counter_delta(newer.counters[name], older.counters[name])
        ups, downs = ups or change > 0, downs or change < 0
    if ups and downs:
        return Direction.BOTH
    if ups:
        return Direction.UP
    return Direction.DOWN if downs else Direction.FLAT


def catch_up_ranges(last: float | None, now: float) -> list[tuple[float, float, float]]:
    """The history ranges that cover (`last`, now], youngest first.

    1 s rows for the window in which the meter keeps them, 1 min rows before it. The youngest
    range ends at the meter's own `now` (`NOW`), so a skewed or estimated clock on our side
    cannot cut it short; `now` (our estimate of the meter's clock) only places the window.
    The first poll (`last` None) needs no history (an empty list: the current row only), as
    there is nothing to split yet.
    """
    if last is None:
        return []
    window_start = float(int(now)) - (SECOND_ROWS_SPAN - _MARGIN)
    if last >= window_start:
        return [(last, 1, NOW)]
    minute_end = window_start - window_start % 60
    # A longer gap starts the minute rows a day back: the change before them is one step
    # (nothing is lost, it is only split by its net sign), and the answer stays small.
    start = max(last - last % 60, minute_end - MINUTE_ROWS_SPAN)
    return [(minute_end, 1, NOW), (start, 60, minute_end)]


@dataclass(frozen=True, slots=True)
class NetEnergy:
    """Imported and exported amounts of one register in counter units (W·s for power)."""

    imported: int = 0
    exported: int = 0


@dataclass(frozen=True, slots=True)
class SplitState:
    """Where the split stands: the last row used and every register's running totals.

    It is what a caller stores (Home Assistant restores it after a restart) so that energy is
    neither lost nor counted twice.
    """

    ts: float | None = None
    counters: Mapping[str, int] = field(default_factory=dict)
    totals: Mapping[str, NetEnergy] = field(default_factory=dict)
    resets: int = 0


def split(
    state: SplitState,
    rows: Iterable[HistoryRow],
    registers: Iterable[Register],
) -> SplitState:
    """`state` advanced by the history `rows` newer than it, for `registers`.

    Rows may come in any order and overlap what was already used. A register missing from a
    row keeps its last counter, and the next row that has it continues from there.
    """
    final = state
    for step in split_steps(state, rows, registers):
        final = step
    return SplitState(final.ts, dict(final.counters), dict(final.totals), final.resets)


def split_steps(
    state: SplitState,
    rows: Iterable[HistoryRow],
    registers: Iterable[Register],
) -> Iterator[SplitState]:
    """`split`, one state per row used, oldest first: running import/export totals per row.

    Hourly history is built from these. The yielded state's mappings are the live ones (no
    copy per row, as a year of 1 min rows is half a million): read them before advancing.
    """
    names = [register.name for register in registers]
    ordered = sorted(rows, key=lambda row: row.ts)
    ts = state.ts
    counters = dict(state.counters)
    totals = dict(state.totals)
    last_seen = dict.fromkeys(counters, ts)
    resets = state.resets
    for row in ordered:
        if ts is not None and row.ts <= ts:
            continue
        for name in names:
            value = row.counters.get(name)
            if value is None:
                continue
            previous = counters.get(name)
            seen = last_seen.get(name)
            counters[name], last_seen[name] = value, row.ts
            if previous is None or seen is None:
                continue
            change = counter_delta(value, previous)
            if abs(change) > MAX_POWER * max(row.ts - seen, 1.0):
                resets += 1
                continue
            total = totals.get(name, NetEnergy())
            if change > 0:
                totals[name] = replace(total, imported=total.imported + change)
            elif change < 0:
                totals[name] = replace(total, exported=total.exported - change)
        ts = row.ts
        yield SplitState(ts, counters, totals, resets)


def rebase(state: SplitState) -> SplitState:
    """The state after an epoch move: totals kept, counter baselines dropped (a reset)."""
    return SplitState(state.ts, {}, state.totals, state.resets + 1)
