"""Every entity a smart-MAC reading yields (D101, D103 standard/extended, D105), in one table.

Keyed by the device's own keys, so an entity exists exactly when the device reports its key; the
model is never guessed from a name. Values are converted to physical units here: energy from Wh
to kWh, pulse totals by the weight the user gave the channel. A numeric key this table does not
know still reaches the user as a generic sensor (disabled by default), named by the device.

Naming: D101 values and D103 totals are unsuffixed (`V`, `A`, `W`, `Wh` / `TWh`), D103 lines
carry 1..3 (`V1`, `Wh2`, `Fr3`); `r` marks the reverse (export) direction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.components.switch import SwitchEntityDescription
from homeassistant.const import (
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfTemperature,
)

from ..meters.smartmac import RelayPolarity, SmartMacReading, relay_on

LINES = (1, 2, 3)
PULSE_CHANNELS = (1, 2)  # a D105's pulse inputs
PROBES = (1, 2, 3, 4, 5)
RAW_TRANSLATION_KEY = "raw_value"


@dataclass(frozen=True, slots=True)
class PulseTotal:
    """How a D105 pulse channel's total is shown: in the user's unit, scaled by their weight."""

    unit: str | None
    device_class: SensorDeviceClass | None
    weight: float


def first_value(
    sources: tuple[str, ...], convert: Callable[[float], float]
) -> Callable[[SmartMacReading], float | None]:
    """The value of the first source key the device sent a number for, converted."""

    def value(reading: SmartMacReading) -> float | None:
        for key in sources:
            if key in reading.values:
                return convert(reading.values[key])
        return None

    return value


def reports_any(sources: tuple[str, ...]) -> Callable[[SmartMacReading], bool]:
    """Whether the device reports any of the keys (a number or not)."""
    return lambda reading: any(key in reading.values or key in reading.extra for key in sources)


@dataclass(frozen=True, kw_only=True)
class SmartMacSensorEntityDescription(SensorEntityDescription):
    """A sensor: the device keys it reads (the first one present wins) and how."""

    sources: tuple[str, ...]
    exists_fn: Callable[[SmartMacReading], bool]
    value_fn: Callable[[SmartMacReading], float | None]
    pulse_channel: int | None = None  # a D105 total, scaled by the channel's settings


@dataclass(frozen=True, kw_only=True)
class SmartMacSwitchEntityDescription(SwitchEntityDescription):
    """The load relay (dry contact): on or off as the device reports `pout`."""

    exists_fn: Callable[[SmartMacReading], bool]
    # The relay state under the user's polarity; None for an unrecognised `pout`.
    is_on_fn: Callable[[SmartMacReading, RelayPolarity], bool | None]


def kwh(watt_hours: float) -> float:
    """Wh as the device counts them, in kWh for the Energy dashboard (exact to the Wh)."""
    return round(watt_hours / 1000, 3)


def _sensor(
    key: str,
    sources: tuple[str, ...] | str,
    device_class: SensorDeviceClass | None,
    unit: str | None,
    *,
    precision: int | None = None,
    enabled: bool = True,
    state_class: SensorStateClass | None = SensorStateClass.MEASUREMENT,
    category: EntityCategory | None = None,
    convert: Callable[[float], float] = float,
) -> SmartMacSensorEntityDescription:
    keys = (sources,) if isinstance(sources, str) else sources
    return SmartMacSensorEntityDescription(
        key=key,
        translation_key=key,
        sources=keys,
        exists_fn=reports_any(keys),
        value_fn=first_value(keys, convert),
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=state_class,
        suggested_display_precision=precision,
        entity_registry_enabled_default=enabled,
        entity_category=category,
    )


def _energy(
    key: str, sources: tuple[str, ...] | str, *, enabled: bool = True
) -> SmartMacSensorEntityDescription:
    return _sensor(
        key,
        sources,
        SensorDeviceClass.ENERGY,
        UnitOfEnergy.KILO_WATT_HOUR,
        precision=3,
        enabled=enabled,
        state_class=SensorStateClass.TOTAL_INCREASING,
        convert=kwh,
    )


def _quantities(prefix: str, suffix: str, *, line: bool) -> list[SmartMacSensorEntityDescription]:
    """Voltage, current, power, reverse power, power factor, frequency of a line or the total."""
    return [
        _sensor(f"{prefix}voltage", f"V{suffix}", SensorDeviceClass.VOLTAGE, "V", precision=1),
        _sensor(
            f"{prefix}current",
            f"A{suffix}",
            SensorDeviceClass.CURRENT,
            UnitOfElectricCurrent.AMPERE,
            precision=2,
        ),
        _sensor(
            f"{prefix}power", f"W{suffix}", SensorDeviceClass.POWER, UnitOfPower.WATT, precision=0
        ),
        _sensor(
            f"{prefix}reverse_power",
            f"rW{suffix}",
            SensorDeviceClass.POWER,
            UnitOfPower.WATT,
            precision=0,
            enabled=not line,
        ),
        _sensor(
            f"{prefix}power_factor",
            f"PF{suffix}",
            SensorDeviceClass.POWER_FACTOR,
            None,
            precision=2,
        ),
    ]


def _line(line: int) -> list[SmartMacSensorEntityDescription]:
    return [
        *_quantities(f"line_{line}_", str(line), line=True),
        _sensor(
            f"line_{line}_frequency",
            f"Fr{line}",
            SensorDeviceClass.FREQUENCY,
            UnitOfFrequency.HERTZ,
            precision=2,
            enabled=False,
        ),
        _energy(f"line_{line}_import_energy", f"Wh{line}", enabled=False),
        _energy(f"line_{line}_export_energy", f"rWh{line}", enabled=False),
    ]


def _pulse(channel: int) -> list[SmartMacSensorEntityDescription]:
    return [
        _sensor(f"pulse_channel_{channel}", f"Ch{channel}", None, None),
        SmartMacSensorEntityDescription(
            key=f"pulse_channel_{channel}_total",
            translation_key=f"pulse_channel_{channel}_total",
            sources=(f"TCh{channel}",),
            exists_fn=reports_any((f"TCh{channel}",)),
            value_fn=first_value((f"TCh{channel}",), float),
            state_class=SensorStateClass.TOTAL_INCREASING,
            pulse_channel=channel,
        ),
    ]


SENSORS: tuple[SmartMacSensorEntityDescription, ...] = (
    # D101 values, D103 totals: voltage exists on a D101 only, energy is `Wh` there, `TWh` here.
    *_quantities("", "", line=False),
    _sensor(
        "frequency",
        ("Fr", "Fr1", "Fr2", "Fr3"),  # one grid: a D103 shows its first line's
        SensorDeviceClass.FREQUENCY,
        UnitOfFrequency.HERTZ,
        precision=2,
    ),
    _energy("import_energy", ("TWh", "Wh")),
    _energy("export_energy", ("rTWh", "rWh")),
    *(sensor for line in LINES for sensor in _line(line)),
    _sensor(
        "device_temperature",
        "T",
        SensorDeviceClass.TEMPERATURE,
        UnitOfTemperature.CELSIUS,
        precision=0,
        category=EntityCategory.DIAGNOSTIC,
    ),
    # D105: pulse channels, temperature probes, analog input.
    *(sensor for channel in PULSE_CHANNELS for sensor in _pulse(channel)),
    *(
        _sensor(
            f"temperature_{probe}",
            f"T{probe}",
            SensorDeviceClass.TEMPERATURE,
            UnitOfTemperature.CELSIUS,
            precision=1,
        )
        for probe in PROBES
    ),
    _sensor(
        "analog_input",
        "ADC",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        precision=2,
    ),
)

KNOWN_KEYS = frozenset(key for description in SENSORS for key in description.sources)
# Lifetime counters (energy and pulse totals): never published lower than before.
COUNTER_KEYS = frozenset(
    key
    for description in SENSORS
    if description.state_class is SensorStateClass.TOTAL_INCREASING
    for key in description.sources
)

RAW_SENSOR = SmartMacSensorEntityDescription(
    key="raw",
    translation_key=RAW_TRANSLATION_KEY,
    sources=(),
    exists_fn=lambda _reading: False,  # made per unknown key by `raw_sensor`
    value_fn=lambda _reading: None,
    entity_registry_enabled_default=False,
)

SWITCHES: tuple[SmartMacSwitchEntityDescription, ...] = (
    SmartMacSwitchEntityDescription(
        key="load_relay",
        translation_key="load_relay",
        exists_fn=lambda reading: reading.pout is not None,
        is_on_fn=relay_on,
    ),
)


def with_pulse_total(
    description: SmartMacSensorEntityDescription, pulses: Mapping[int, PulseTotal]
) -> SmartMacSensorEntityDescription:
    """A pulse total in the unit the user chose, scaled by the channel's pulse weight."""
    if description.pulse_channel is None:
        return description
    total = pulses[description.pulse_channel]
    weight = total.weight
    return dataclasses.replace(
        description,
        device_class=total.device_class,
        native_unit_of_measurement=total.unit,
        value_fn=first_value(description.sources, lambda count: round(count * weight, 9)),
    )


def raw_sensor(key: str, reading: SmartMacReading) -> SmartMacSensorEntityDescription:
    """A generic sensor for a numeric key the table does not know, in the device's unit."""
    return dataclasses.replace(
        RAW_SENSOR,
        key=f"raw_{key}",
        sources=(key,),
        exists_fn=reports_any((key,)),
        value_fn=first_value((key,), float),
        native_unit_of_measurement=reading.units.get(key) or None,
        translation_placeholders={"name": reading.names.get(key, key)},
    )


def sensor_descriptions(
    reading: SmartMacReading, pulses: Mapping[int, PulseTotal]
) -> list[SmartMacSensorEntityDescription]:
    """The sensors this device's reading yields, pulse totals as `pulses` says."""
    known = [
        with_pulse_total(description, pulses)
        for description in SENSORS
        if description.exists_fn(reading)
    ]
    unknown = [raw_sensor(key, reading) for key in reading.values if key not in KNOWN_KEYS]
    return known + unknown


def switch_descriptions(reading: SmartMacReading) -> Iterable[SmartMacSwitchEntityDescription]:
    """The load relay, when the device reports its state."""
    return [description for description in SWITCHES if description.exists_fn(reading)]
