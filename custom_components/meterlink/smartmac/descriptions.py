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
from collections.abc import Callable, Iterable
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
from .options import PULSE_CHANNELS, PULSE_UNITS, SmartMacOptions

LINES = (1, 2, 3)
PROBES = (1, 2, 3, 4, 5)
RAW_TRANSLATION_KEY = "raw_value"


@dataclass(frozen=True, kw_only=True)
class SmartMacSensorEntityDescription(SensorEntityDescription):
    """A sensor: the device keys it reads (the first one present wins) and how."""

    sources: tuple[str, ...]
    convert: Callable[[float], float] = float
    pulse_channel: int | None = None  # a D105 total, scaled by the channel's options

    def exists(self, reading: SmartMacReading) -> bool:
        """Whether the device reports any of the keys this sensor reads."""
        return any(key in reading.values or key in reading.extra for key in self.sources)

    def value(self, reading: SmartMacReading) -> float | None:
        """The value in the entity's unit; None when the device sent no number."""
        for key in self.sources:
            if key in reading.values:
                return self.convert(reading.values[key])
        return None


@dataclass(frozen=True, kw_only=True)
class SmartMacSwitchEntityDescription(SwitchEntityDescription):
    """The load relay (dry contact): on or off as the device reports `pout`."""

    def exists(self, reading: SmartMacReading) -> bool:
        """Whether the device reports a relay state at all."""
        return reading.pout is not None

    @staticmethod
    def is_on(reading: SmartMacReading, polarity: RelayPolarity) -> bool | None:
        """The relay state under the user's polarity; None for an unrecognised `pout`."""
        return relay_on(reading, polarity)


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
    return SmartMacSensorEntityDescription(
        key=key,
        translation_key=key,
        sources=(sources,) if isinstance(sources, str) else sources,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=state_class,
        suggested_display_precision=precision,
        entity_registry_enabled_default=enabled,
        entity_category=category,
        convert=convert,
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
    entity_registry_enabled_default=False,
)

SWITCHES: tuple[SmartMacSwitchEntityDescription, ...] = (
    SmartMacSwitchEntityDescription(key="load_relay", translation_key="load_relay"),
)


def with_pulse_options(
    description: SmartMacSensorEntityDescription, options: SmartMacOptions
) -> SmartMacSensorEntityDescription:
    """A pulse total in the unit the user chose, scaled by the channel's pulse weight."""
    if description.pulse_channel is None:
        return description
    channel = options.pulse[description.pulse_channel]
    unit = PULSE_UNITS[channel.kind]
    weight = channel.weight
    return dataclasses.replace(
        description,
        device_class=unit.device_class,
        native_unit_of_measurement=unit.unit,
        convert=lambda count: round(count * weight, 9),
    )


def raw_sensor(key: str, reading: SmartMacReading) -> SmartMacSensorEntityDescription:
    """A generic sensor for a numeric key the table does not know, in the device's unit."""
    return dataclasses.replace(
        RAW_SENSOR,
        key=f"raw_{key}",
        sources=(key,),
        native_unit_of_measurement=reading.units.get(key) or None,
        translation_placeholders={"name": reading.names.get(key, key)},
    )


def sensor_descriptions(
    reading: SmartMacReading, options: SmartMacOptions
) -> list[SmartMacSensorEntityDescription]:
    """The sensors this device's reading yields, pulse totals in the user's units."""
    known = [
        with_pulse_options(description, options)
        for description in SENSORS
        if description.exists(reading)
    ]
    unknown = [raw_sensor(key, reading) for key in reading.values if key not in KNOWN_KEYS]
    return known + unknown


def switch_descriptions(reading: SmartMacReading) -> Iterable[SmartMacSwitchEntityDescription]:
    """The load relay, when the device reports its state."""
    return [description for description in SWITCHES if description.exists(reading)]
