"""What a smart-MAC entry stores besides host, device ID and PIN, and how it is read back.

The poll interval is bounded below by the device's request budget (a standard device accepts one
request a minute, an extended one every 6 s), so an interval the model cannot serve is never
used, whatever the stored options say. Pulse channels (D105) count pulses; what a pulse weighs,
and in which unit, only the user knows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import UnitOfEnergy, UnitOfVolume

from ..const import CONF_MODEL, CONF_SCAN_INTERVAL
from ..meters.smartmac import (
    DEFAULT_RELAY_POLARITY,
    STANDARD_INTERVAL,
    RelayPolarity,
    SmartMacModel,
    request_interval,
)
from .descriptions import PULSE_CHANNELS, PulseTotal

# Entry data (besides CONF_CONNECTION, CONF_HOST, CONF_DEVICE_ID, CONF_PIN)
CONF_EXTENDED: Final = "extended"  # the device answered with extended-version keys

# Options
CONF_RELAY_POLARITY: Final = "relay_polarity"
MAX_SCAN_INTERVAL: Final = 3600
DEFAULT_EXTENDED_SCAN_INTERVAL: Final = 10  # leaves room in the 6 s budget for relay commands
DEFAULT_PULSE_WEIGHT: Final = 1.0


def conf_pulse_kind(channel: int) -> str:
    """Option key: what the pulses of `channel` measure."""
    return f"pulse_{channel}_kind"


def conf_pulse_weight(channel: int) -> str:
    """Option key: how much one pulse of `channel` is, in the kind's unit."""
    return f"pulse_{channel}_weight"


class PulseKind(StrEnum):
    """What a D105 pulse channel counts, which decides the total's unit and device class."""

    PULSES = "pulses"
    ENERGY = "energy"  # kWh
    GAS = "gas"  # m³
    WATER_M3 = "water_m3"
    WATER_L = "water_l"


@dataclass(frozen=True, slots=True)
class PulseUnit:
    """Unit and device class of a pulse channel's total."""

    unit: str | None
    device_class: SensorDeviceClass | None


PULSE_UNITS: Final[dict[PulseKind, PulseUnit]] = {
    PulseKind.PULSES: PulseUnit(None, None),
    PulseKind.ENERGY: PulseUnit(UnitOfEnergy.KILO_WATT_HOUR, SensorDeviceClass.ENERGY),
    PulseKind.GAS: PulseUnit(UnitOfVolume.CUBIC_METERS, SensorDeviceClass.GAS),
    PulseKind.WATER_M3: PulseUnit(UnitOfVolume.CUBIC_METERS, SensorDeviceClass.WATER),
    PulseKind.WATER_L: PulseUnit(UnitOfVolume.LITERS, SensorDeviceClass.WATER),
}


@dataclass(frozen=True, slots=True)
class PulseChannel:
    """One channel's setting: what a pulse is and how much of it."""

    kind: PulseKind = PulseKind.PULSES
    weight: float = DEFAULT_PULSE_WEIGHT


def min_scan_interval(extended: bool) -> int:
    """The shortest poll interval the device's request budget allows."""
    return int(request_interval(extended))


def default_scan_interval(extended: bool) -> int:
    """The poll interval a new entry starts with."""
    return DEFAULT_EXTENDED_SCAN_INTERVAL if extended else int(STANDARD_INTERVAL)


def clamp_scan_interval(seconds: float, extended: bool) -> int:
    """`seconds` within what the model allows (its budget) and an hour."""
    return int(min(max(seconds, min_scan_interval(extended)), MAX_SCAN_INTERVAL) + 0.5)


def default_options(model: SmartMacModel, extended: bool) -> dict[str, Any]:
    """The options a new entry gets; pulse settings only for a pulse counter."""
    options: dict[str, Any] = {
        CONF_SCAN_INTERVAL: default_scan_interval(extended),
    }  # no relay polarity: only a choice the user made is stored, the default may improve
    if model is SmartMacModel.D105:
        for channel in PULSE_CHANNELS:
            options[conf_pulse_kind(channel)] = PulseKind.PULSES.value
            options[conf_pulse_weight(channel)] = DEFAULT_PULSE_WEIGHT
    return options


def model_of(data: Mapping[str, Any]) -> SmartMacModel:
    """The model stored in the entry (unknown when the first reading did not tell)."""
    try:
        return SmartMacModel(data.get(CONF_MODEL, SmartMacModel.UNKNOWN.value))
    except ValueError:
        return SmartMacModel.UNKNOWN


@dataclass(frozen=True, slots=True)
class SmartMacOptions:
    """An entry's options, with defaults for anything missing and the interval clamped."""

    scan_interval: int
    relay_polarity: RelayPolarity
    pulse: Mapping[int, PulseChannel]

    @classmethod
    def from_entry(cls, data: Mapping[str, Any], options: Mapping[str, Any]) -> SmartMacOptions:
        """Read the options of an entry whose data says which model it is.

        Whatever is stored (an older version, a hand-edited file), the result is usable: a
        value that makes no sense is replaced by its default rather than failing the setup.
        """
        extended = data.get(CONF_EXTENDED) is True
        interval = _number(options.get(CONF_SCAN_INTERVAL), default_scan_interval(extended))
        polarity = _member(RelayPolarity, options.get(CONF_RELAY_POLARITY), DEFAULT_RELAY_POLARITY)
        pulse: dict[int, PulseChannel] = {}
        for channel in PULSE_CHANNELS:
            kind = _member(PulseKind, options.get(conf_pulse_kind(channel)), PulseKind.PULSES)
            weight = _number(options.get(conf_pulse_weight(channel)), DEFAULT_PULSE_WEIGHT)
            pulse[channel] = PulseChannel(kind, weight if weight > 0 else DEFAULT_PULSE_WEIGHT)
        return cls(clamp_scan_interval(interval, extended), polarity, pulse)

    def pulse_totals(self) -> dict[int, PulseTotal]:
        """How each pulse channel's total is shown, for the description table."""
        return {
            channel: PulseTotal(
                PULSE_UNITS[setting.kind].unit,
                PULSE_UNITS[setting.kind].device_class,
                setting.weight,
            )
            for channel, setting in self.pulse.items()
        }


def _number(value: object, default: float) -> float:
    """A finite number from stored options (bools are not numbers here), else `default`."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return default


def _member[EnumT: StrEnum](kind: type[EnumT], value: object, default: EnumT) -> EnumT:
    """The enum member a stored string names, else `default`."""
    try:
        return kind(value) if isinstance(value, str) else default
    except ValueError:
        return default
