"""Sans-IO: hourly import/export energy from cumulative register samples, whatever their source.

The EKM Summary API (15-minute buckets) and eGauge register history both give cumulative
registers at points in time. Summing per-bucket differences loses the energy between buckets
and all of a missing bucket's, so energy here is always the difference of register values:
an hour's energy is its last register value minus the register value before it, which may lie
hours back when buckets are missing. That puts the energy of a gap into the next hour that has
data: never lost, never invented, and the hours add up to the register's change.

A register that goes down is never turned into a negative hour. A small dip (a glitch, a late
row) is held: the previous value stays the baseline, so nothing is counted twice when the
register comes back. A large drop (below `RESET_RATIO` of the held value: a meter swap or a
register reset) becomes the new baseline; both are reported so the caller can raise a repair.

Samples are `(as_of_ms, import, export)`: the register values at `as_of_ms` (a bucket's end,
an eGauge row's time). A sample belongs to the hour that ends at or after it, so a register
read at 13:00:00 is the end of the 12:00 hour, and an EKM bucket 12:45-13:00 too. Order and
duplicates of the input do not matter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

HOUR_MS = 3_600_000
RESET_RATIO = 0.9
"""A register below this share of its held value was reset or swapped (HA's own rule)."""
DIGITS = 9
"""Energies are rounded to this many decimals of a kWh: finer than any register (an eGauge
counts 1 W·s, 2.8e-7 kWh), so only float dust (1234.56 - 1234.12 = 0.43999...) goes."""


class Register(StrEnum):
    """Which of a meter's two energy registers."""

    IMPORT = "import"
    EXPORT = "export"


@dataclass(frozen=True, slots=True)
class RegisterSample:
    """Cumulative import and export registers (kWh) as of `as_of_ms` (epoch ms, UTC).

    Either register may be None when the source lacked it; that register then skips the sample.
    """

    as_of_ms: int
    import_kwh: float | None
    export_kwh: float | None


@dataclass(frozen=True, slots=True)
class Baseline:
    """The registers before the first sample (end of an earlier hour, or the first read)."""

    import_kwh: float | None
    export_kwh: float | None


@dataclass(frozen=True, slots=True)
class EnergyHour:
    """One UTC hour that has data: its energies and the registers at its end.

    A total never goes below the previous hour's except at a reset (a dip shows the held
    value, as the live sensors do); a register the hour had no value for repeats its total.
    """

    start_ms: int
    import_kwh: float
    export_kwh: float
    import_total: float
    export_total: float


@dataclass(frozen=True, slots=True)
class RegisterDrop:
    """A register went down at `as_of_ms`: `held` (a dip) or a reset to a new baseline."""

    register: Register
    as_of_ms: int
    before: float
    after: float
    reset: bool


@dataclass(frozen=True, slots=True)
class HourlyEnergy:
    """The hours in time order and every drop seen on the way."""

    hours: tuple[EnergyHour, ...]
    drops: tuple[RegisterDrop, ...]
    end: Baseline
    """The held registers after the last sample: the baseline to continue from."""


def hour_of(as_of_ms: int) -> int:
    """Start (epoch ms) of the hour a sample as of `as_of_ms` closes or lies in."""
    return (as_of_ms - 1) // HOUR_MS * HOUR_MS


class _Meter:
    """One register's running state: the held value, and the energy of the current hour."""

    def __init__(self, register: Register, baseline: float | None) -> None:
        self.register = register
        self.held = baseline
        self.energy = 0.0
        self.drops: list[RegisterDrop] = []

    def take(self, as_of_ms: int, value: float | None) -> bool:
        """Count one value; False when there is none (the sample lacks this register)."""
        if value is None or not math.isfinite(value):
            return False
        if self.held is None:  # no earlier value at all: this read is the baseline
            self.held = value
        elif value >= self.held:
            self.energy += value - self.held
            self.held = value
        else:
            reset = value < self.held * RESET_RATIO
            self.drops.append(RegisterDrop(self.register, as_of_ms, self.held, value, reset))
            if reset:
                self.held = value
        return True

    def close_hour(self) -> tuple[float, float]:
        energy, self.energy = max(0.0, round(self.energy, DIGITS)), 0.0
        return energy, self.held if self.held is not None else 0.0


def hourly_energy(
    samples: Iterable[RegisterSample], *, baseline: Baseline | None = None
) -> HourlyEnergy:
    """The hours that have samples, oldest first, with energy by the register-end rule.

    Without a `baseline` the first sample of each register only sets it (its hour gets the
    energy after it): pass the registers before the first sample to count its hour fully.
    """
    ordered = _unique(samples)
    imports = _Meter(Register.IMPORT, baseline.import_kwh if baseline else None)
    exports = _Meter(Register.EXPORT, baseline.export_kwh if baseline else None)
    hours: list[EnergyHour] = []
    index = 0
    while index < len(ordered):
        hour = hour_of(ordered[index].as_of_ms)
        has_data = False
        while index < len(ordered) and hour_of(ordered[index].as_of_ms) == hour:
            sample = ordered[index]
            has_data |= imports.take(sample.as_of_ms, sample.import_kwh)
            has_data |= exports.take(sample.as_of_ms, sample.export_kwh)
            index += 1
        if not has_data:
            continue
        import_kwh, import_total = imports.close_hour()
        export_kwh, export_total = exports.close_hour()
        hours.append(EnergyHour(hour, import_kwh, export_kwh, import_total, export_total))
    drops = tuple(sorted([*imports.drops, *exports.drops], key=_when))
    return HourlyEnergy(tuple(hours), drops, Baseline(imports.held, exports.held))


def _when(drop: RegisterDrop) -> tuple[int, str]:
    return drop.as_of_ms, drop.register.value


def _unique(samples: Iterable[RegisterSample]) -> Sequence[RegisterSample]:
    """Time order, one sample per instant (of copies at one instant the largest values win)."""
    by_time: dict[int, RegisterSample] = {}
    for sample in samples:
        kept = by_time.get(sample.as_of_ms)
        if kept is None or _rank(sample) > _rank(kept):
            by_time[sample.as_of_ms] = sample
    return [by_time[when] for when in sorted(by_time)]


def _rank(sample: RegisterSample) -> tuple[float, float]:
    return (
        -math.inf if sample.import_kwh is None else sample.import_kwh,
        -math.inf if sample.export_kwh is None else sample.export_kwh,
    )
