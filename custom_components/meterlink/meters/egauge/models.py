"""Typed eGauge answers: register types and their quanta, readings, history, /local, tokens.

The meter stores every register as a signed 64-bit counter of "rate unit x seconds" in units of
the type's quantum, and reports counters as decimal strings so no JSON library rounds them. The
tables here are the vendor's (plus `PQ`, `Vdc`, `Idc` and `dT` from the official egauge-python
table); a code outside them is kept as a generic register with its raw numbers, because a meter
with a newer firmware must still be readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

INT64_MODULUS = 2**63
"""The vendor recommends taking counter differences modulo 2^63 (counters may wrap)."""

_HALF = INT64_MODULUS // 2


@dataclass(frozen=True, slots=True)
class RegisterType:
    """One type code: the rate's unit and quantum, and the cumulative display unit if any.

    `per_total` is how many (rate unit x s) make one `total_unit` (3.6e6 W·s per kWh), so a
    counter becomes a total as `counter x quantum / per_total`.
    """

    code: str
    quantity: str
    unit: str
    quantum: float
    total_unit: str | None = None
    per_total: float = 1.0
    accumulated: bool = True
    known: bool = True

    def total(self, counter: int) -> float | None:
        """The cumulative value in `total_unit`, or None when the type has no such unit."""
        if self.total_unit is None:
            return None
        return counter * self.quantum / self.per_total

    def amount(self, counter: int) -> float:
        """The counter in rate unit x seconds (W·s for power): what history deltas average."""
        return counter * self.quantum


_KWH = 3.6e6
_HOUR = 3600.0

TYPES: Mapping[str, RegisterType] = {
    t.code: t
    for t in (
        RegisterType("#", "whole number", "", 1),
        RegisterType("#3", "number", "", 0.001),
        RegisterType("%", "percentage", "%", 0.001),
        RegisterType("$", "money", "$/s", 2**-29, "$", 1.0),
        RegisterType("a", "angle", "°", 0.001),
        RegisterType("aq", "air quality", "s", 0.001),
        RegisterType("d", "discrete", "", 1, accumulated=False),
        RegisterType("Ee", "irradiance", "W/m²", 1, "kWh/m²", _KWH),
        RegisterType("F", "frequency", "Hz", 0.001),
        RegisterType("h", "relative humidity", "%", 0.001),
        RegisterType("I", "current", "A", 0.001, "Ah", _HOUR),
        RegisterType("m", "mass", "g", 0.001),
        RegisterType("P", "power", "W", 1, "kWh", _KWH),
        RegisterType("Pa", "pressure", "Pa", 1),
        RegisterType("ppm", "parts per million", "ppm", 0.001),
        RegisterType("var", "reactive power", "var", 1, "kvarh", _KWH),
        RegisterType("Q", "mass flow", "g/s", 1),
        RegisterType("Qe", "charge", "Ah", 0.001),
        RegisterType("Qv", "volume flow", "m³/s", 1e-9, "L", 0.001),
        RegisterType("R", "resistance", "Ω", 1),
        RegisterType("S", "apparent power", "VA", 1, "kVAh", _KWH),
        RegisterType("T", "temperature", "°C", 0.001),
        RegisterType("THD", "total harmonic distortion", "%", 0.001),
        RegisterType("V", "voltage", "V", 0.001, "Vh", _HOUR),
        RegisterType("v", "speed", "m/s", 0.001),
        # Not in the vendor's table, but in egauge-python's (the official Python client).
        RegisterType("PQ", "reactive power", "var", 1, "kvarh", _KWH),
        RegisterType("Vdc", "DC voltage", "V", 0.001, "Vh", _HOUR),
        RegisterType("Idc", "DC current", "A", 0.001, "Ah", _HOUR),
        RegisterType("dT", "temperature difference", "°C", 0.001),
    )
}


def register_type(code: str) -> RegisterType:
    """The type of `code`; an unknown code is generic (raw numbers, no unit, no total)."""
    known = TYPES.get(code)
    if known is not None:
        return known
    return RegisterType(code, "unknown", "", 1, known=False)


def counter_delta(newer: int, older: int) -> int:
    """`newer - older` modulo 2^63 as a signed number: right across an int64 wrap."""
    return (newer - older + _HALF) % INT64_MODULUS - _HALF


@dataclass(frozen=True, slots=True)
class Register:
    """A register as the meter lists it; virtual registers have no database id (`did`)."""

    name: str
    type: RegisterType
    idx: int
    did: int | None = None
    formula: str | None = None

    @property
    def virtual(self) -> bool:
        """Computed by the meter from other registers (`use`, `gen`), not stored."""
        return self.did is None


@dataclass(frozen=True, slots=True)
class RegisterValue:
    """One register's rate and counter from one answer; either may be missing (None)."""

    register: Register
    rate: float | None = None
    counter: int | None = None

    @property
    def total(self) -> float | None:
        """The counter in the type's cumulative display unit (kWh for power), if it has one."""
        if self.counter is None:
            return None
        return self.register.type.total(self.counter)


@dataclass(frozen=True, slots=True)
class Reading:
    """The answer of one /register request: the meter's time and every register's values.

    `ts` is the meter's own clock (it may be skewed against ours); `counters_ts` is the time of
    the counter row when the request asked for one.
    """

    ts: float
    values: Mapping[str, RegisterValue]
    counters_ts: float | None = None

    @property
    def registers(self) -> tuple[Register, ...]:
        """Every register in the answer, in index order."""
        return tuple(value.register for value in self.values.values())


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """Counters of every returned register at one point of the meter's time."""

    ts: float
    counters: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class History:
    """History rows youngest first, across all requested ranges (duplicates removed)."""

    registers: tuple[Register, ...]
    rows: tuple[HistoryRow, ...]


@dataclass(frozen=True, slots=True)
class EpochMismatch:
    """The `if=epoch==` condition failed: the counters' epoch moved (a reset, not energy)."""

    current: str


@dataclass(frozen=True, slots=True)
class LocalValue:
    """One sensor of /local (a line voltage `L1`, a CT `S3`, `L1-L2`, ...)."""

    type: str | None
    normal: float | None = None
    mean: float | None = None
    frequency: float | None = None


@dataclass(frozen=True, slots=True)
class LocalReading:
    """The sensor-level snapshot of /local: per-line values, energy pairs and CTid status."""

    ts: float
    values: Mapping[str, LocalValue]
    energy: Mapping[str, float] = field(default_factory=dict)
    apparent: Mapping[str, float] = field(default_factory=dict)
    ctid: str | None = None


@dataclass(frozen=True, slots=True)
class Rights:
    """What the logged-in user may do: `save` gates every /cmd, `ctrl` the controls."""

    user: str
    rights: frozenset[str]

    @property
    def save(self) -> bool:
        """May change the meter and run /cmd operations."""
        return "save" in self.rights


@dataclass(frozen=True, slots=True)
class Version:
    """/sys/version: firmware, hardware and kernel as the meter names them."""

    firmware: str
    hardware: str | None = None
    kernel: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateOffer:
    """`update list`: the newest version available and the minimum it may be installed from."""

    version: str
    minimum: str | None = None


@dataclass(frozen=True, slots=True)
class OperationStatus:
    """/sys/status/<token>: how far a long operation has come and how it ended.

    `info` and `error` are the vendor's short tags; `info_text` and `error_text` are their
    English translations (with `args` filled in) for people.
    """

    done: bool
    ts: float | None = None
    progress: float | None = None
    info: str | None = None
    error: str | None = None
    args: tuple[str, ...] = ()
    info_text: str | None = None
    error_text: str | None = None


@dataclass(frozen=True, slots=True)
class CommandAnswer:
    """The immediate answer to a /cmd POST: a status, a token to follow, or an offer."""

    document: Mapping[str, object]
    token: str | None = None
