"""Hourly import/export energy of every power register from the meter's own history rows.

The rows (`time=start:step:stop`) carry each register's signed counter. The split of those
counters into imported and exported amounts is `energy.split_steps` (positive movement is
import, negative export, int64 wrap and resets handled there), and the hours are the register-
end arithmetic of `energy_hours` that the EKM Summary history uses too, so both families count
an hour the same way.

The import and export totals start from the register itself: import at the first row is the
positive part of the counter, export its negative part, and both only grow from there. So a
one-way register's import total is its kWh counter and, for any register, import minus export
is the counter, until a reset (which counts as nothing, never as negative energy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..energy_hours import Baseline, HourlyEnergy, RegisterSample, hourly_energy
from ..errors import InvalidParameterError, MeterFrameError
from .client import EgaugeClient
from .energy import SplitState, split_steps
from .models import EpochMismatch, HistoryRow, Register

LOOKBACK = 86400
"""Seconds before the range searched for the row the first hour is counted from."""

ROW_CELLS = 200_000
"""Counter cells per request (rows x registers): well under the client's 4 MB body limit."""


def power_registers(registers: Iterable[Register]) -> list[Register]:
    """The registers whose counters are energy (type P, virtual `use`/`gen` included)."""
    return [register for register in registers if register.type.code == "P"]


def register_samples(rows: Iterable[HistoryRow], register: Register) -> list[RegisterSample]:
    """The register's cumulative import and export (kWh) at every row that has it."""
    ordered = sorted((row for row in rows if register.name in row.counters), key=_ts)
    if not ordered:
        return []
    first = ordered[0].counters[register.name]
    to_kwh = register.type.quantum / 3.6e6
    import_base, export_base = max(first, 0), max(-first, 0)
    samples = []
    for state in split_steps(SplitState(), ordered, [register]):
        assert state.ts is not None
        moved = state.totals.get(register.name)
        imported = moved.imported if moved else 0
        exported = moved.exported if moved else 0
        samples.append(
            RegisterSample(
                _ms(state.ts),
                (import_base + imported) * to_kwh,
                (export_base + exported) * to_kwh,
            )
        )
    return samples


def register_hours(
    rows: Sequence[HistoryRow], registers: Iterable[Register], start: float, stop: float
) -> dict[str, HourlyEnergy]:
    """Every power register's hours that start in [start, stop) (Unix seconds).

    `rows` should reach back before `start` (see `LOOKBACK`): the latest row before the range
    is the baseline of its first hour, so the hours add up to the register's change.
    """
    result: dict[str, HourlyEnergy] = {}
    for register in power_registers(registers):
        samples = register_samples(rows, register)
        if not samples:
            result[register.name] = hourly_energy(())
            continue
        # The oldest row is the baseline only: its own hour (before any data) is not an hour.
        first = samples[0]
        energy = hourly_energy(samples[1:], baseline=Baseline(first.import_kwh, first.export_kwh))
        hours = tuple(h for h in energy.hours if start * 1000 <= h.start_ms < stop * 1000)
        result[register.name] = HourlyEnergy(hours, energy.drops, energy.end)
    return result


@dataclass(frozen=True, slots=True)
class RegisterHistory:
    """What `fetch_rows` read: the register list and every row, oldest first."""

    registers: tuple[Register, ...]
    rows: tuple[HistoryRow, ...]
    requests: int


def chunks(start: float, stop: float, step: int, rows: int) -> list[tuple[float, float, float]]:
    """`(start, step, stop)` ranges of at most `rows` rows each covering [start, stop]."""
    if step < 1 or stop < start:
        msg = "a history range needs --to after --from and a step of at least 1 s"
        raise InvalidParameterError(msg)
    span = step * max(rows - 1, 0)
    result = []
    low = float(start)
    while low <= stop:
        high = min(low + span, float(stop))
        result.append((low, float(step), high))
        low = high + step
    return result


async def fetch_rows(
    client: EgaugeClient, start: float, stop: float, step: int, *, lookback: float = LOOKBACK
) -> RegisterHistory:
    """Counter rows every `step` s over [start - lookback, stop], in requests of bounded size."""
    registers = await client.registers()
    per_request = max(2, ROW_CELLS // max(len(registers), 1))
    rows: dict[float, HistoryRow] = {}
    requests = 0
    for window in chunks(start - lookback, stop, step, per_request):
        history = await client.history([window])
        requests += 1
        if isinstance(history, EpochMismatch):  # pragma: no cover - no condition was sent
            msg = "the meter answered a condition that was not asked"
            raise MeterFrameError(msg)
        for row in history.rows:
            rows.setdefault(row.ts, row)
    return RegisterHistory(registers, tuple(rows[ts] for ts in sorted(rows)), requests + 1)


def _ts(row: HistoryRow) -> float:
    return row.ts


def _ms(ts: float) -> int:
    return round(ts * 1000)


def totals_of(energy: Mapping[str, HourlyEnergy]) -> dict[str, tuple[float, float]]:
    """Import and export kWh of each register over its hours (what a summary line shows)."""
    return {
        name: (sum(h.import_kwh for h in e.hours), sum(h.export_kwh for h in e.hours))
        for name, e in energy.items()
    }
