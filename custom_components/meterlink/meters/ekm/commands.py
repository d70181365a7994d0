"""Sans-IO EKM command frames: password login, settings writes, setting reads.

Every builder validates its input and raises `InvalidParameterError` before a byte could be
sent. A write session on the bus is: read request (opens the meter) -> P1 login -> ACK ->
W1 write -> ACK -> close frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import InvalidParameterError
from .crc import ekm_crc
from .reading import AUTO_RESET_INTERVALS, DEMAND_PERIOD_MINUTES, MeterVersion

SOH = b"\x01"
STX = b"\x02"
ETX = b"\x03"

CT_RATIOS = (100, 200, 400, 600, 800, 1000, 1200, 1500, 2000, 3000, 4000, 5000)
PULSE_OUTPUT_RATIOS = (1, 2, 4, 5, 8, 10, 16, 20, 25, 40, 50, 80, 100, 200, 400, 800, 1600)
# The settings the meter reports, as written: minutes -> code and interval name -> code.
DEMAND_PERIODS = {minutes: str(code) for code, minutes in DEMAND_PERIOD_MINUTES.items()}
AUTO_RESET = {name: str(code) for code, name in AUTO_RESET_INTERVALS.items()}
MAX_RELAY_SECONDS = 9999
LCD_ITEM_CODES = range(1, 52)


def _framed(kind: bytes, body: bytes) -> bytes:
    covered = kind + STX + body + ETX
    return SOH + covered + ekm_crc(covered)


def login_frame(password: str) -> bytes:
    """P1: the 8-digit meter password (default 00000000)."""
    if len(password) != 8 or not (password.isascii() and password.isdigit()):
        msg = "the meter password is 8 digits"
        raise InvalidParameterError(msg)
    return _framed(b"P1", f"({password})".encode("ascii"))


def write_frame(code: str, data: str) -> bytes:
    """W1: write setting `code` (two characters) with ASCII `data`."""
    return _framed(b"W1", f"00{code}({data})".encode("ascii"))


@dataclass(frozen=True, slots=True)
class Command:
    """A validated write: code, data and what it needs from the meter."""

    code: str
    data: str
    description: str
    min_version: MeterVersion = MeterVersion.V3
    changes_settings: bool = True  # the B block (settings) must be re-read afterwards

    @property
    def frame(self) -> bytes:
        """The W1 frame on the wire."""
        return write_frame(self.code, self.data)


def _int_in(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        msg = f"{name} must be a whole number from {low} to {high}"
        raise InvalidParameterError(msg)
    return value


def relay(relay_number: int, closed: bool, seconds: int = 0) -> Command:
    """Relay 1 or 2 open/closed, for `seconds` (0 = hold until told otherwise); v4+ only."""
    _int_in("relay", relay_number, 1, 2)
    _int_in("seconds", seconds, 0, MAX_RELAY_SECONDS)
    state = "close" if closed else "open"
    return Command(
        f"8{relay_number}",
        f"{int(closed)}{seconds:04d}",
        f"{state} relay {relay_number}",
        MeterVersion.V4,
        changes_settings=False,
    )


def set_time(when: datetime) -> Command:
    """Set the meter clock; its day of week counts Sunday as 1 (ekmmeters gets this wrong)."""
    weekday = when.isoweekday() % 7 + 1
    if not 2000 <= when.year <= 2099:
        msg = "the meter clock only holds years 2000 to 2099"
        raise InvalidParameterError(msg)
    data = f"{when:%y%m%d}{weekday:02d}{when:%H%M%S}"
    return Command("60", data, "set clock", changes_settings=False)


def ct_ratio(amps: int) -> Command:
    """Current-transformer ratio in amps (one of EKM's sizes)."""
    if amps not in CT_RATIOS:
        msg = f"CT ratio must be one of {', '.join(map(str, CT_RATIOS))}"
        raise InvalidParameterError(msg)
    return Command("D0", f"{amps:04d}", "set CT ratio")


def max_demand_period(minutes: int) -> Command:
    """Max-demand averaging period: 15, 30 or 60 minutes."""
    if minutes not in DEMAND_PERIODS:
        msg = "max-demand period must be 15, 30 or 60 minutes"
        raise InvalidParameterError(msg)
    return Command("50", DEMAND_PERIODS[minutes], "set max-demand period")


def max_demand_reset() -> Command:
    """Reset the max-demand register now."""
    return Command("40", "000000", "reset max demand")


def max_demand_auto_reset(interval: str) -> Command:
    """Automatic max-demand reset: off, monthly, weekly, daily or hourly (v4)."""
    if interval not in AUTO_RESET:
        msg = f"auto-reset interval must be one of {', '.join(AUTO_RESET)}"
        raise InvalidParameterError(msg)
    return Command("D5", AUTO_RESET[interval], "set max-demand auto reset", MeterVersion.V4)


def pulse_input_ratio(pulse_input: int, ratio: int) -> Command:
    """Pulses per unit for pulse input 1..3 (v4)."""
    _int_in("pulse input", pulse_input, 1, 3)
    _int_in("pulse ratio", ratio, 1, 9999)
    return Command(f"A{pulse_input - 1}", f"{ratio:04d}", "set pulse input ratio", MeterVersion.V4)


def pulse_output_ratio(ratio: int) -> Command:
    """Pulse-output constant in impulses per kWh (CF_Ratio, v4)."""
    if ratio not in PULSE_OUTPUT_RATIOS:
        msg = f"pulse output ratio must be one of {', '.join(map(str, PULSE_OUTPUT_RATIOS))}"
        raise InvalidParameterError(msg)
    return Command("D4", f"{ratio:04d}", "set pulse output ratio", MeterVersion.V4)


def zero_resettable_kwh() -> Command:
    """Zero kWh_Rst and Rev_kWh_Rst (v4)."""
    return Command("D3", "", "zero resettable kWh", MeterVersion.V4, changes_settings=False)


def lcd_items(items: Sequence[int]) -> Command:
    """The items the meter's display cycles through (up to 40 EKM item codes, v4)."""
    if not 1 <= len(items) <= 40 or any(item not in LCD_ITEM_CODES for item in items):
        msg = "LCD items are 1 to 40 EKM item codes from 1 to 51"
        raise InvalidParameterError(msg)
    data = "".join(f"{item:02d}" for item in items).ljust(80, "0")
    return Command("D2", data, "set LCD items", MeterVersion.V4)


def schedule(number: int, periods: Sequence[tuple[int, int, int]]) -> Command:
    """Tariff schedule 1..6: up to four (hour, minute, tariff 1..4) switch points."""
    _int_in("schedule", number, 1, 6)
    if len(periods) > 4:
        msg = "a schedule has at most 4 periods"
        raise InvalidParameterError(msg)
    data = _triples(periods, (("hour", 0, 23), ("minute", 0, 59), ("tariff", 1, 4)))
    return Command(f"7{number - 1}", data, f"set schedule {number}")


def seasons(entries: Sequence[tuple[int, int, int]]) -> Command:
    """Up to four seasons: (month, day, schedule 1..6) from which a schedule applies."""
    if len(entries) > 4:
        msg = "there are at most 4 seasons"
        raise InvalidParameterError(msg)
    data = _triples(entries, (("month", 1, 12), ("day", 1, 31), ("schedule", 1, 6)))
    return Command("80", data, "set seasons")


def _triples(
    entries: Sequence[tuple[int, int, int]], ranges: tuple[tuple[str, int, int], ...]
) -> str:
    """Checked (a, b, c) entries as two digits each, zero-padded to the 48-character block."""
    parts = []
    for entry in entries:
        for (name, low, high), value in zip(ranges, entry, strict=True):
            _int_in(name, value, low, high)
        parts.append("".join(f"{value:02d}" for value in entry))
    return "".join(parts).ljust(48, "0")


def holidays(dates: Sequence[tuple[int, int]]) -> Command:
    """Up to 20 holiday dates (month, day)."""
    if len(dates) > 20:
        msg = "there are at most 20 holidays"
        raise InvalidParameterError(msg)
    parts = []
    for month, day in dates:
        _int_in("month", month, 1, 12)
        _int_in("day", day, 1, 31)
        parts.append(f"{month:02d}{day:02d}")
    return Command("B0", "".join(parts).ljust(80, "0"), "set holidays")


def weekend_holiday_schedules(weekend: int, holiday: int) -> Command:
    """Which schedule (1..6) applies on weekends and on holidays."""
    _int_in("weekend schedule", weekend, 1, 6)
    _int_in("holiday schedule", holiday, 1, 6)
    return Command("C0", f"{weekend:02d}{holiday:02d}", "set weekend and holiday schedules")
