"""The normalised EKM reading shared by RS-485, EKM Push cloud and the Push3 gateway.

Values are keyed by EKM's own field names and already in physical units (kWh, V, A, W, VAR, Hz);
derived facts (import energy, signed power, relay and input states) are computed here once so
every transport and every entity agrees on them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

type FieldValue = float | int | str

# State_Watts_Dir code -> direction of (L1, L2, L3); F = forward (import), R = reverse (export).
WATTS_DIRECTIONS: dict[int, str] = {
    1: "FFF",
    2: "FFR",
    3: "FRF",
    4: "RFF",
    5: "FRR",
    6: "RFR",
    7: "RRF",
    8: "RRR",
}

# Max_Demand_Period code -> minutes.
DEMAND_PERIOD_MINUTES: dict[int, int] = {1: 15, 2: 30, 3: 60}

# Max_Demand_Rst (automatic max-demand reset) code -> interval name.
AUTO_RESET_INTERVALS: dict[int, str] = {
    0: "off",
    1: "monthly",
    2: "weekly",
    3: "daily",
    4: "hourly",
}

# Model code (two bytes as hex) -> marketing name, from EKM's tables.
MODEL_NAMES: dict[str, str] = {
    "1011": "15IDS-N",
    "1012": "25IDS-N",
    "1013": "23EDS-N",
    "1014": "15EDS-N",
    "1015": "25EDS-N",
    "1016": "23EDS-N",
    "1017": "Omnimeter I v.3",
    "1018": "5A25EDS-N",
    "1020": "25EDSP-N",
    "1022": "Omnimeter II UL v.3",
    "1024": "Omnimeter Pulse v.4",
}


def model_name(code: str) -> str:
    """A model code's marketing name; an unknown code is named as what it is."""
    return MODEL_NAMES.get(code, f"Model {code}")


class MeterVersion(StrEnum):
    """Protocol generation; v5 meters speak v4."""

    V3 = "v3"
    V4 = "v4"


def power_factor_code(kind: str, value: float) -> int:
    """EKM's integer power factor (0..200, 100 = unity, above 100 = leading/capacitive)."""
    hundredths = round(value * 100)
    return 200 - hundredths if kind == "C" else hundredths


def signed_power_factor(code: int) -> float:
    """Power factor with sign: positive lagging (inductive), negative leading (capacitive)."""
    if code > 100:
        return -round((200 - code) / 100, 2)
    return round(code / 100, 2)


@dataclass(frozen=True, slots=True)
class EkmReading:
    """One meter's values from one read (v4: the A block, optionally merged with B)."""

    address: str
    version: MeterVersion
    fields: Mapping[str, FieldValue] = field(default_factory=dict)

    def number(self, name: str) -> float | None:
        """A numeric field, or None when this reading does not carry it."""
        value = self.fields.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value

    def code(self, name: str) -> int | None:
        """An integer status field, or None."""
        value = self.fields.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def model(self) -> str | None:
        """Model code as hex, e.g. "1024"."""
        value = self.fields.get("Model")
        return value if isinstance(value, str) else None

    @property
    def model_name(self) -> str | None:
        """Human name of the model, falling back to the code."""
        code = self.model
        return None if code is None else model_name(code)

    @property
    def firmware(self) -> str | None:
        """Firmware byte as hex."""
        value = self.fields.get("Firmware")
        return value if isinstance(value, str) else None

    @property
    def firmware_version(self) -> str | None:
        """The firmware as EKM's model tables write it ("0x1c").

        No public EKM source maps the byte to a release number, so the byte is shown in EKM's
        own notation rather than as a bare "1c" that reads like a typo.
        """
        firmware = self.firmware
        return None if firmware is None else f"0x{firmware}"

    @property
    def meter_time(self) -> datetime | None:
        """The meter's own wall clock (no time zone), or None when it is not a valid date."""
        raw = self.fields.get("Meter_Time")
        if not isinstance(raw, str) or len(raw) != 14 or not raw.isdigit():
            return None
        try:
            return datetime(
                2000 + int(raw[0:2]),
                int(raw[2:4]),
                int(raw[4:6]),
                int(raw[8:10]),
                int(raw[10:12]),
                int(raw[12:14]),
            )
        except ValueError:
            return None

    @property
    def import_kwh(self) -> float | None:
        """Energy imported from the grid: kWh_Tot counts both directions."""
        return self.difference("kWh_Tot", "Rev_kWh_Tot")

    def difference(self, total: str, reverse: str) -> float | None:
        """`total` - `reverse` (say kWh_Ln_1 - Rev_kWh_Ln_1), rounded to their decimals."""
        minuend, subtrahend = self.number(total), self.number(reverse)
        if minuend is None or subtrahend is None:
            return None
        return _round_like(minuend - subtrahend, minuend, subtrahend)

    def line_direction(self, line: int) -> int | None:
        """+1 when line `line` imports, -1 when it exports, None when unknown (v3)."""
        directions = WATTS_DIRECTIONS.get(self.code("State_Watts_Dir") or 0)
        if directions is None:
            return None
        return 1 if directions[line - 1] == "F" else -1

    def net_watts(self) -> Iterator[tuple[str, int]]:
        """EKM's calculated `Net_Calc_Watts_Ln_n` (signed by State_Watts_Dir), then `_Tot`.

        Stops at the first line without a direction or watts, so the total only comes when
        every line is known.
        """
        total = 0
        for line in (1, 2, 3):
            sign = self.line_direction(line)
            watts = self.number(f"RMS_Watts_Ln_{line}")
            if sign is None or watts is None:
                return
            yield f"Net_Calc_Watts_Ln_{line}", sign * int(watts)
            total += sign * int(watts)
        yield "Net_Calc_Watts_Tot", total

    def relay_closed(self, relay: int) -> bool | None:
        """Whether output relay 1 or 2 is closed (on), from State_Out (v4)."""
        state = self.code("State_Out")
        if state is None or not 1 <= state <= 4:
            return None
        bits = state - 1
        return bool(bits & (2 if relay == 1 else 1))

    def input_low(self, pulse_input: int) -> bool | None:
        """Whether pulse input 1..3 is pulled low (closed contact), from State_Inputs (v4)."""
        if self.version is not MeterVersion.V4:
            return None
        state = self.code("State_Inputs")
        if state is None or not 0 <= state <= 7:
            return None
        return bool(state & (4 >> (pulse_input - 1)))

    @property
    def demand_period_minutes(self) -> int | None:
        """Max-demand period in minutes."""
        return DEMAND_PERIOD_MINUTES.get(self.code("Max_Demand_Period") or 0)

    @property
    def auto_reset_interval(self) -> str | None:
        """Automatic max-demand reset interval name (v4 B block)."""
        code = self.code("Max_Demand_Rst")
        return None if code is None else AUTO_RESET_INTERVALS.get(code)

    def merged_with(self, other: EkmReading) -> EkmReading:
        """Merge: fields of `self` over `other`'s, so a fresh A block wins over a cached B block."""
        return EkmReading(self.address, self.version, {**other.fields, **self.fields})


def _round_like(value: float, *operands: float) -> float:
    """Round a difference to the operands' decimals so 0.1 steps do not print as 0.09999."""
    decimals = max(_decimals(op) for op in operands)
    return round(value, decimals)


def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text else len(text.split(".")[1].rstrip("0"))
