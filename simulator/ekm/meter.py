"""A simulated EKM Omnimeter (v3 or v4): its registers, how they evolve, and its settings.

Energy registers are integer counts of the frame's resolution (0.1 kWh on v3, 10^-kWh_Scale
on v4) that only ever grow by whole counts, the way a meter's registers do, so every total in
a frame equals the sum of its parts exactly: kWh_Tot = sum of kWh_Ln, tariffs add up to the
totals. `values()` is what the next frame will carry, already quantised, i.e. the truth a
client must reproduce.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from custom_components.meterlink.meters.ekm import (
    CT_RATIOS,
    DEMAND_PERIODS,
    MAX_RELAY_SECONDS,
    PULSE_OUTPUT_RATIOS,
    Block,
    FieldValue,
    MeterVersion,
    normalize_address,
)

LINES = (1, 2, 3)
TARIFFS = (1, 2, 3, 4)
_DEFAULTS = {MeterVersion.V3: ("1017", "14"), MeterVersion.V4: ("1024", "1c")}
_POW10 = (1, 10, 100, 1000)
_V4_ONLY = frozenset({"81", "82", "A0", "A1", "A2", "D2", "D3", "D4", "D5"})
_SCHEDULE_CODES = frozenset(f"7{n}" for n in range(8))

type _Store = Callable[[str], object]
type _Handler = Callable[[SimMeter, str], bool]


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


@dataclass
class SimMeter:
    """One meter on the simulated bus; mutate its public fields to stage a scenario.

    Powers are signed per line (positive imports, negative exports); power factors are signed
    (positive lagging 'L', negative leading 'C'). Jitter from a generator seeded by the address
    keeps runs reproducible.
    """

    address: str
    version: MeterVersion = MeterVersion.V4
    password: str = "00000000"
    model: str = ""
    firmware: str = ""
    kwh_scale: int = 2
    clock: datetime = field(default_factory=_now)
    volts: list[float] = field(default_factory=lambda: [120.2, 121.0, 119.6])
    watts: list[float] = field(default_factory=lambda: [850.0, 420.0, -310.0])
    power_factor: list[float] = field(default_factory=lambda: [0.95, 1.0, -0.9])
    line_freq: float = 60.0
    pulse_rates: list[float] = field(default_factory=lambda: [0.5, 0.05, 0.0])
    inputs_low: list[bool] = field(default_factory=lambda: [False, True, False])
    relays: list[bool] = field(default_factory=lambda: [False, False])
    ct_ratio: int = 200
    pulse_ratios: list[int] = field(default_factory=lambda: [1, 10, 100])
    cf_ratio: int = 800
    demand_period: int = 1  # code: 1 = 15, 2 = 30, 3 = 60 minutes
    demand_auto_reset: int = 0  # code: 0 off .. 4 hourly
    max_demand: float = 0.0
    lcd_items: list[int] = field(default_factory=lambda: [1, 2, 12])
    schedules: dict[str, str] = field(default_factory=dict)  # W1 code ("70".."77") -> data
    seasons: str = ""
    holidays: str = ""
    weekend_holiday: str = ""
    jitter: bool = True

    def __post_init__(self) -> None:
        self.address = normalize_address(self.address)
        default_model, default_firmware = _DEFAULTS[self.version]
        self.model = self.model or default_model
        self.firmware = self.firmware or default_firmware
        if self.version is MeterVersion.V3:
            self.kwh_scale = 1  # v3 energy always has one decimal
        if not 0 <= self.kwh_scale <= 3:
            msg = "kwh_scale is 0 to 3 decimals"
            raise ValueError(msg)
        seed = int(self.address)
        self._random = random.Random(seed)
        base = 1000 + seed % 9000
        # Energy already on the meter, as kWh floats (the registers are floors of these).
        self._fwd_kwh = [base * 1.0 + line * 37.25 for line in LINES]
        self._rev_kwh = [base / 10 + line * 3.5 for line in LINES]
        self._kvarh = base / 4
        self._pulses = [float(seed % 1000 * input_ + 10) for input_ in LINES]
        self._elapsed = 0.0
        self._relay_revert: list[float | None] = [None, None]
        self._jitter_v = [0.0, 0.0, 0.0]
        self._jitter_w = [0.0, 0.0, 0.0]
        total, reverse = self._total_counts(), self._rev_counts()
        # Everything so far went to tariffs 1 and 2 (60/40), resettable registers start at 0.
        share, rev_share = total * 2 // 5, reverse * 2 // 5
        self._tariff = [total - share, share, 0, 0]
        self._rev_tariff = [reverse - rev_share, rev_share, 0, 0]
        self._rst_base = (total, reverse)

    # Evolution ------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass: integrate power into the registers, count pulses, run timers."""
        if seconds < 0:
            msg = "time only moves forward"
            raise ValueError(msg)
        total_before, rev_before = self._total_counts(), self._rev_counts()
        hours = seconds / 3600
        for index, watts in enumerate(self.line_watts()):
            kwh = abs(watts) * hours / 1000
            if watts >= 0:
                self._fwd_kwh[index] += kwh
            else:
                self._rev_kwh[index] += kwh
        self._kvarh += sum(self._line_var()) * hours / 1000
        tariff = self.current_tariff() - 1
        self._tariff[tariff] += self._total_counts() - total_before
        self._rev_tariff[tariff] += self._rev_counts() - rev_before
        for index, rate in enumerate(self.pulse_rates):
            self._pulses[index] += rate * seconds
        self.max_demand = max(self.max_demand, float(sum(abs(w) for w in self.line_watts())))
        self.clock += timedelta(seconds=seconds)
        self._elapsed += seconds
        for index, revert_at in enumerate(self._relay_revert):
            if revert_at is not None and self._elapsed >= revert_at:
                self.relays[index] = not self.relays[index]
                self._relay_revert[index] = None
        if self.jitter and seconds > 0:
            self._jitter_v = [self._random.uniform(-0.6, 0.6) for _ in LINES]
            self._jitter_w = [self._random.uniform(-0.02, 0.02) for _ in LINES]

    def line_watts(self) -> list[float]:
        """Signed power per line right now (nominal plus jitter)."""
        return [w * (1 + j) for w, j in zip(self.watts, self._jitter_w, strict=True)]

    def line_volts(self) -> list[float]:
        """Voltage per line right now."""
        return [max(0.0, v + j) for v, j in zip(self.volts, self._jitter_v, strict=True)]

    def _line_var(self) -> list[float]:
        result = []
        for watts, pf in zip(self.line_watts(), self.power_factor, strict=True):
            cos = min(1.0, max(0.01, abs(pf)))
            result.append(abs(watts) * math.tan(math.acos(cos)))
        return result

    def _line_amps(self) -> list[float]:
        result = []
        for watts, volts, pf in zip(
            self.line_watts(), self.line_volts(), self.power_factor, strict=True
        ):
            cos = min(1.0, max(0.01, abs(pf)))
            result.append(abs(watts) / (volts * cos) if volts > 0 else 0.0)
        return result

    def current_tariff(self) -> int:
        """Tariff 1..4 in force now: from schedule 1 when one was written, else tariff 1."""
        data = self.schedules.get("70", "")
        tariff = 1
        now = self.clock.hour * 60 + self.clock.minute
        for start in range(0, min(len(data), 24), 6):
            hour, minute, number = (
                int(data[start : start + 2]),
                int(data[start + 2 : start + 4]),
                int(data[start + 4 : start + 6]),
            )
            if 1 <= number <= 4 and hour * 60 + minute <= now:
                tariff = number
        return tariff

    # Registers -----------------------------------------------------------------------------

    def _counts(self, kwh: float) -> int:
        return math.floor(kwh * _POW10[self.kwh_scale] + 1e-9)

    def _total_counts(self) -> int:
        return sum(
            self._counts(f) + self._counts(r)
            for f, r in zip(self._fwd_kwh, self._rev_kwh, strict=True)
        )

    def _rev_counts(self) -> int:
        return sum(self._counts(r) for r in self._rev_kwh)

    def _kwh(self, counts: int) -> FieldValue:
        """Counts as the decoder will compute them (int when the scale has no decimals)."""
        return counts / _POW10[self.kwh_scale] if self.kwh_scale else counts

    # Frames -------------------------------------------------------------------------------

    def values(self, block: Block) -> dict[str, FieldValue]:
        """The values the next `block` frame carries, quantised as encode_response will."""
        values: dict[str, FieldValue] = {
            "Model": self.model,
            "Firmware": self.firmware,
            "Meter_Address": self.address,
            "Meter_Time": self.meter_time(),
        }
        values.update(self._instantaneous())
        match block:
            case Block.V3:
                values.update(self._energy_totals())
                values.update(self._tariffs())
                values.update(self._settings())
                values.update(self._pulse_counts())
                values["State_Inputs"] = self._inputs_code()
                values["Meter_Status_Code"] = 0
            case Block.V4A:
                values.update(self._energy_totals())
                values.update(self._v4a_energy())
                values.update(self._pulse_counts())
                values.update(self._reactive())
                values["Line_Freq"] = _fixed(self.line_freq, 2)
                values["State_Inputs"] = self._inputs_code()
                values["State_Watts_Dir"] = self._watts_dir_code()
                values["State_Out"] = 1 + (int(self.relays[0]) << 1 | int(self.relays[1]))
            case Block.V4B:
                values.update(self._tariffs())
                values.update(self._settings())
                values["Max_Demand_Rst"] = self.demand_auto_reset
                values["CF_Ratio"] = self.cf_ratio
                for status in ("A", "B", "C"):
                    values[f"Meter_Status_Code_{status}"] = 0
        return values

    def meter_time(self) -> str:
        """Meter_Time as the meter formats it (day of week with Sunday = 01)."""
        weekday = self.clock.isoweekday() % 7 + 1
        return f"{self.clock:%y%m%d}{weekday:02d}{self.clock:%H%M%S}"

    def _instantaneous(self) -> dict[str, FieldValue]:
        values: dict[str, FieldValue] = {}
        watts = [round(abs(w)) for w in self.line_watts()]
        for line, volts, amps, line_watts, pf in zip(
            LINES, self.line_volts(), self._line_amps(), watts, self.power_factor, strict=True
        ):
            values[f"RMS_Volts_Ln_{line}"] = _fixed(volts, 1)
            values[f"Amps_Ln_{line}"] = _fixed(amps, 1)
            values[f"RMS_Watts_Ln_{line}"] = line_watts
            values[f"Cos_Theta_Ln_{line}"] = _power_factor(pf)
        values["RMS_Watts_Tot"] = sum(watts)
        return values

    def _energy_totals(self) -> dict[str, FieldValue]:
        return {
            "kWh_Tot": self._kwh(self._total_counts()),
            "Rev_kWh_Tot": self._kwh(self._rev_counts()),
        }

    def _v4a_energy(self) -> dict[str, FieldValue]:
        values: dict[str, FieldValue] = {
            "Reactive_Energy_Tot": self._kwh(self._counts(self._kvarh))
        }
        for line, fwd, rev in zip(LINES, self._fwd_kwh, self._rev_kwh, strict=True):
            values[f"kWh_Ln_{line}"] = self._kwh(self._counts(fwd) + self._counts(rev))
            values[f"Rev_kWh_Ln_{line}"] = self._kwh(self._counts(rev))
        total_base, rev_base = self._rst_base
        values["kWh_Rst"] = self._kwh(self._total_counts() - total_base)
        values["Rev_kWh_Rst"] = self._kwh(self._rev_counts() - rev_base)
        return values

    def _tariffs(self) -> dict[str, FieldValue]:
        values: dict[str, FieldValue] = {}
        for tariff, counts, rev_counts in zip(TARIFFS, self._tariff, self._rev_tariff, strict=True):
            values[f"kWh_Tariff_{tariff}"] = self._kwh(counts)
            values[f"Rev_kWh_Tariff_{tariff}"] = self._kwh(rev_counts)
        return values

    def _settings(self) -> dict[str, FieldValue]:
        values: dict[str, FieldValue] = {
            "RMS_Watts_Max_Demand": _fixed(self.max_demand, 1),
            "Max_Demand_Period": self.demand_period,
            "CT_Ratio": self.ct_ratio,
        }
        for index, ratio in zip(LINES, self.pulse_ratios, strict=True):
            values[f"Pulse_Ratio_{index}"] = ratio
        return values

    def _pulse_counts(self) -> dict[str, FieldValue]:
        return {
            f"Pulse_Cnt_{n}": math.floor(count)
            for n, count in zip(LINES, self._pulses, strict=True)
        }

    def _reactive(self) -> dict[str, FieldValue]:
        var = [round(v) for v in self._line_var()]
        values: dict[str, FieldValue] = {
            f"Reactive_Pwr_Ln_{n}": v for n, v in zip(LINES, var, strict=True)
        }
        values["Reactive_Pwr_Tot"] = sum(var)
        return values

    def _inputs_code(self) -> int:
        low = self.inputs_low
        return int(low[0]) << 2 | int(low[1]) << 1 | int(low[2])

    def _watts_dir_code(self) -> int:
        pattern = "".join("F" if w >= 0 else "R" for w in self.line_watts())
        return {"FFF": 1, "FFR": 2, "FRF": 3, "RFF": 4, "FRR": 5, "RFR": 6, "RRF": 7, "RRR": 8}[
            pattern
        ]

    # Settings writes ----------------------------------------------------------------------

    def apply(self, code: str, data: str) -> bool:
        """Carry out a W1 write; False (the meter stays silent) for unknown codes or bad data."""
        if self.version is MeterVersion.V3 and code in _V4_ONLY:
            return False
        if code in _SCHEDULE_CODES:
            return self._store_digits(data, 48, lambda d: self.schedules.__setitem__(code, d))
        handler = _HANDLERS.get(code)
        return handler(self, data) if handler is not None else False

    def _store_digits(self, data: str, length: int, store: _Store) -> bool:
        if len(data) != length or not data.isdigit():
            return False
        store(data)
        return True

    def _relay(self, index: int, data: str) -> bool:
        if len(data) != 5 or not data.isdigit() or data[0] not in "01":
            return False
        seconds = int(data[1:])
        if seconds > MAX_RELAY_SECONDS:
            return False
        self.relays[index] = data[0] == "1"
        self._relay_revert[index] = self._elapsed + seconds if seconds else None
        return True

    def _set_clock(self, data: str) -> bool:
        if len(data) != 14 or not data.isdigit():
            return False
        try:
            when = datetime.strptime(data[:6] + data[8:], "%y%m%d%H%M%S")
        except ValueError:
            return False
        if int(data[6:8]) != when.isoweekday() % 7 + 1:
            return False  # stricter than a meter, so ekmmeters' Monday-based weekday bug shows
        self.clock = when
        return True

    def _set_int(self, data: str, width: int, allowed: range | tuple[int, ...], attr: str) -> bool:
        if len(data) != width or not data.isdigit() or int(data) not in allowed:
            return False
        setattr(self, attr, int(data))
        return True

    def _set_pulse_ratio(self, index: int, data: str) -> bool:
        if len(data) != 4 or not data.isdigit() or int(data) == 0:
            return False
        self.pulse_ratios[index] = int(data)
        return True

    def _zero_resettable(self, data: str) -> bool:
        if data:
            return False
        self._rst_base = (self._total_counts(), self._rev_counts())
        return True

    def _reset_demand(self, data: str) -> bool:
        if len(data) != 6 or not data.isdigit():
            return False
        self.max_demand = 0.0
        return True

    def _set_lcd(self, data: str) -> bool:
        if len(data) != 80 or not data.isdigit():
            return False
        items = [int(data[i : i + 2]) for i in range(0, 80, 2)]
        self.lcd_items = [item for item in items if item]
        return True

    def _set_password(self, data: str) -> bool:
        if len(data) != 8 or not data.isdigit():
            return False
        self.password = data
        return True


def _setter(attr: str) -> _Handler:
    def store(meter: SimMeter, data: str) -> bool:
        return meter._store_digits(data, _LENGTHS[attr], lambda d: setattr(meter, attr, d))

    return store


_LENGTHS = {"seasons": 48, "holidays": 80, "weekend_holiday": 4}

_HANDLERS: dict[str, _Handler] = {
    "81": lambda m, d: m._relay(0, d),
    "82": lambda m, d: m._relay(1, d),
    "60": SimMeter._set_clock,
    "D0": lambda m, d: m._set_int(d, 4, CT_RATIOS, "ct_ratio"),
    "50": lambda m, d: m._set_int(
        d, 1, tuple(int(c) for c in DEMAND_PERIODS.values()), "demand_period"
    ),
    "40": SimMeter._reset_demand,
    "D5": lambda m, d: m._set_int(d, 1, range(5), "demand_auto_reset"),
    "A0": lambda m, d: m._set_pulse_ratio(0, d),
    "A1": lambda m, d: m._set_pulse_ratio(1, d),
    "A2": lambda m, d: m._set_pulse_ratio(2, d),
    "D4": lambda m, d: m._set_int(d, 4, PULSE_OUTPUT_RATIOS, "cf_ratio"),
    "D3": SimMeter._zero_resettable,
    "D2": SimMeter._set_lcd,
    "80": _setter("seasons"),
    "B0": _setter("holidays"),
    "C0": _setter("weekend_holiday"),
    "20": SimMeter._set_password,
}


def _fixed(value: float, decimals: int) -> float:
    """Quantise exactly as the decoder divides the frame's digits."""
    return round(max(0.0, value) * _POW10[decimals]) / _POW10[decimals]


def _power_factor(value: float) -> float:
    """Signed power factor at the frame's resolution (0.01; |pf| >= 1 is unity)."""
    hundredths = round(abs(value) * 100)
    if hundredths >= 100:
        return 1.0
    return -hundredths / 100 if value < 0 else hundredths / 100
