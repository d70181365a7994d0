"""Every entity an EKM Omnimeter reading yields, in one table per platform.

Keyed by EKM's own field names, which RS-485, the EKM Push cloud and the Push3 gateway share,
so nothing here knows how a reading arrived. Capabilities are gated by protocol version: a v3
meter has no per-line energy, reactive values, frequency, relays, inputs or resettable
registers.

Energy conventions (EKM counts `kWh_Tot` in both directions):
* import = `kWh_Tot` - `Rev_kWh_Tot`, export = `Rev_kWh_Tot`; the same for tariffs and lines;
* power is signed per line by `State_Watts_Dir` (import positive, export negative);
* power factor is signed: lagging (inductive) positive, leading (capacitive) negative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.binary_sensor import BinarySensorEntityDescription
from homeassistant.components.button import ButtonEntityDescription
from homeassistant.components.number import NumberEntityDescription, NumberMode
from homeassistant.components.select import SelectEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.components.switch import SwitchEntityDescription
from homeassistant.components.switch.const import SwitchDeviceClass
from homeassistant.const import (
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactiveEnergy,
    UnitOfReactivePower,
)
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from ..meters.ekm import Command, EkmReading, MeterVersion, commands, signed_power_factor

LINES = (1, 2, 3)
TARIFFS = (1, 2, 3, 4)
PULSE_INPUTS = (1, 2, 3)
RELAYS = (1, 2)


def _any_version(_version: MeterVersion) -> bool:
    return True


def _v4(version: MeterVersion) -> bool:
    return version is MeterVersion.V4


@dataclass(frozen=True, kw_only=True)
class EkmSensorEntityDescription(SensorEntityDescription):
    """A sensor: how its value comes out of a reading, and which meters have it."""

    value_fn: Callable[[EkmReading], StateType | datetime]
    exists_fn: Callable[[MeterVersion], bool] = _any_version


@dataclass(frozen=True, kw_only=True)
class EkmBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A binary sensor read from a reading."""

    value_fn: Callable[[EkmReading], bool | None]
    exists_fn: Callable[[MeterVersion], bool] = _any_version


@dataclass(frozen=True, kw_only=True)
class EkmSwitchEntityDescription(SwitchEntityDescription):
    """A switch whose state is read back from the meter after every change."""

    is_on_fn: Callable[[EkmReading], bool | None]
    command_fn: Callable[[bool], Command]
    exists_fn: Callable[[MeterVersion], bool] = _any_version


@dataclass(frozen=True, kw_only=True)
class EkmSelectEntityDescription(SelectEntityDescription):
    """A meter setting chosen from a fixed list."""

    current_fn: Callable[[EkmReading], str | None]
    command_fn: Callable[[str], Command]
    exists_fn: Callable[[MeterVersion], bool] = _any_version


@dataclass(frozen=True, kw_only=True)
class EkmNumberEntityDescription(NumberEntityDescription):
    """A numeric meter setting."""

    value_fn: Callable[[EkmReading], float | None]
    command_fn: Callable[[int], Command]
    exists_fn: Callable[[MeterVersion], bool] = _any_version


@dataclass(frozen=True, kw_only=True)
class EkmButtonEntityDescription(ButtonEntityDescription):
    """A one-shot meter command."""

    command_fn: Callable[[], Command]
    exists_fn: Callable[[MeterVersion], bool] = _any_version


# Derived values -----------------------------------------------------------------------------


def line_power(reading: EkmReading, line: int) -> float | None:
    """Signed power of one line; v3 meters do not report direction, so theirs is unsigned."""
    watts = reading.number(f"RMS_Watts_Ln_{line}")
    if watts is None:
        return None
    if reading.version is MeterVersion.V3:
        return watts
    sign = reading.line_direction(line)
    return None if sign is None else sign * watts


def net_power(reading: EkmReading) -> float | None:
    """Signed total power (import positive); a v3 meter only knows the unsigned sum."""
    if reading.version is MeterVersion.V3:
        return reading.number("RMS_Watts_Tot")
    if (total := reading.number("Net_Calc_Watts_Tot")) is not None:
        return total
    lines = [line_power(reading, line) for line in LINES]
    return None if None in lines else sum(watts for watts in lines if watts is not None)


def power_factor(reading: EkmReading, line: int) -> float | None:
    """Signed power factor of one line from EKM's 0..200 code."""
    code = reading.code(f"Power_Factor_Ln_{line}")
    return None if code is None else signed_power_factor(code)


def meter_time(reading: EkmReading) -> datetime | None:
    """The meter's clock, which has no time zone: it is taken to run in Home Assistant's."""
    naive = reading.meter_time
    if naive is None:
        return None
    return naive.replace(tzinfo=dt_util.get_default_time_zone())


def _whole(value: float | None) -> str | None:
    return None if value is None else str(int(value))


def _option_of(reading: EkmReading, name: str, options: tuple[int, ...]) -> str | None:
    value = reading.number(name)
    return str(int(value)) if value is not None and int(value) in options else None


# Sensors ------------------------------------------------------------------------------------


def _energy(
    key: str,
    value_fn: Callable[[EkmReading], float | None],
    *,
    enabled: bool = False,
    exists_fn: Callable[[MeterVersion], bool] = _any_version,
) -> EkmSensorEntityDescription:
    return EkmSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=enabled,
        exists_fn=exists_fn,
        value_fn=value_fn,
    )


def _line_sensors(line: int) -> tuple[EkmSensorEntityDescription, ...]:
    return (
        _energy(
            f"line_{line}_import_energy",
            lambda r: r.difference(f"kWh_Ln_{line}", f"Rev_kWh_Ln_{line}"),
            exists_fn=_v4,
        ),
        _energy(
            f"line_{line}_export_energy",
            lambda r: r.number(f"Rev_kWh_Ln_{line}"),
            exists_fn=_v4,
        ),
        EkmSensorEntityDescription(
            key=f"line_{line}_power",
            translation_key=f"line_{line}_power",
            device_class=SensorDeviceClass.POWER,
            native_unit_of_measurement=UnitOfPower.WATT,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=0,
            entity_registry_enabled_default=False,
            value_fn=lambda r: line_power(r, line),
        ),
        EkmSensorEntityDescription(
            key=f"line_{line}_voltage",
            translation_key=f"line_{line}_voltage",
            device_class=SensorDeviceClass.VOLTAGE,
            native_unit_of_measurement=UnitOfElectricPotential.VOLT,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=1,
            entity_registry_enabled_default=line == 1,
            value_fn=lambda r: r.number(f"RMS_Volts_Ln_{line}"),
        ),
        EkmSensorEntityDescription(
            key=f"line_{line}_current",
            translation_key=f"line_{line}_current",
            device_class=SensorDeviceClass.CURRENT,
            native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=1,
            entity_registry_enabled_default=False,
            value_fn=lambda r: r.number(f"Amps_Ln_{line}"),
        ),
        EkmSensorEntityDescription(
            key=f"line_{line}_power_factor",
            translation_key=f"line_{line}_power_factor",
            device_class=SensorDeviceClass.POWER_FACTOR,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=2,
            entity_registry_enabled_default=False,
            value_fn=lambda r: power_factor(r, line),
        ),
        EkmSensorEntityDescription(
            key=f"line_{line}_reactive_power",
            translation_key=f"line_{line}_reactive_power",
            device_class=SensorDeviceClass.REACTIVE_POWER,
            native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=0,
            entity_registry_enabled_default=False,
            exists_fn=_v4,
            value_fn=lambda r: r.number(f"Reactive_Pwr_Ln_{line}"),
        ),
    )


def _tariff_sensors(tariff: int) -> tuple[EkmSensorEntityDescription, ...]:
    return (
        _energy(
            f"tariff_{tariff}_import_energy",
            lambda r: r.difference(f"kWh_Tariff_{tariff}", f"Rev_kWh_Tariff_{tariff}"),
        ),
        _energy(
            f"tariff_{tariff}_export_energy",
            lambda r: r.number(f"Rev_kWh_Tariff_{tariff}"),
        ),
    )


def _pulse_count(pulse_input: int) -> EkmSensorEntityDescription:
    return EkmSensorEntityDescription(
        key=f"pulse_count_{pulse_input}",
        translation_key=f"pulse_count_{pulse_input}",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
        value_fn=lambda r: r.number(f"Pulse_Cnt_{pulse_input}"),
    )


SENSORS: tuple[EkmSensorEntityDescription, ...] = (
    _energy("import_energy", lambda r: r.import_kwh, enabled=True),
    _energy("export_energy", lambda r: r.number("Rev_kWh_Tot"), enabled=True),
    _energy("total_energy", lambda r: r.number("kWh_Tot")),
    *(sensor for tariff in TARIFFS for sensor in _tariff_sensors(tariff)),
    EkmSensorEntityDescription(
        key="reactive_energy",
        translation_key="reactive_energy",
        device_class=SensorDeviceClass.REACTIVE_ENERGY,
        native_unit_of_measurement=UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
        exists_fn=_v4,
        value_fn=lambda r: r.number("Reactive_Energy_Tot"),
    ),
    _energy("resettable_energy", lambda r: r.number("kWh_Rst"), exists_fn=_v4),
    _energy("resettable_export_energy", lambda r: r.number("Rev_kWh_Rst"), exists_fn=_v4),
    EkmSensorEntityDescription(
        key="power",
        translation_key="power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=net_power,
    ),
    *(sensor for line in LINES for sensor in _line_sensors(line)),
    EkmSensorEntityDescription(
        key="reactive_power",
        translation_key="reactive_power",
        device_class=SensorDeviceClass.REACTIVE_POWER,
        native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        exists_fn=_v4,
        value_fn=lambda r: r.number("Reactive_Pwr_Tot"),
    ),
    EkmSensorEntityDescription(
        key="frequency",
        translation_key="frequency",
        device_class=SensorDeviceClass.FREQUENCY,
        native_unit_of_measurement=UnitOfFrequency.HERTZ,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        exists_fn=_v4,
        value_fn=lambda r: r.number("Line_Freq"),
    ),
    EkmSensorEntityDescription(
        key="max_demand",
        translation_key="max_demand",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda r: r.number("RMS_Watts_Max_Demand"),
    ),
    *(_pulse_count(pulse_input) for pulse_input in PULSE_INPUTS),
    EkmSensorEntityDescription(
        key="meter_time",
        translation_key="meter_time",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,  # changes every poll: opt in to check drift
        value_fn=meter_time,
    ),
    EkmSensorEntityDescription(
        key="firmware",
        translation_key="firmware",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda r: r.firmware_version,
    ),
)

# Binary sensors -----------------------------------------------------------------------------


def _pulse_input(pulse_input: int) -> EkmBinarySensorEntityDescription:
    return EkmBinarySensorEntityDescription(
        key=f"pulse_input_{pulse_input}",
        translation_key=f"pulse_input_{pulse_input}",
        exists_fn=_v4,
        value_fn=lambda r: r.input_low(pulse_input),
    )


BINARY_SENSORS: tuple[EkmBinarySensorEntityDescription, ...] = tuple(
    _pulse_input(pulse_input) for pulse_input in PULSE_INPUTS
)

# Switches -----------------------------------------------------------------------------------


def _relay(relay: int) -> EkmSwitchEntityDescription:
    return EkmSwitchEntityDescription(
        key=f"relay_{relay}",
        translation_key=f"relay_{relay}",
        # The set_relay picker offers devices with these (services.yaml); cloud relays and
        # ioStack outputs, which set_relay does not switch, have none.
        device_class=SwitchDeviceClass.SWITCH,
        exists_fn=_v4,
        is_on_fn=lambda r: r.relay_closed(relay),
        command_fn=lambda closed: commands.relay(relay, closed, 0),
    )


SWITCHES: tuple[EkmSwitchEntityDescription, ...] = tuple(_relay(relay) for relay in RELAYS)

# Selects ------------------------------------------------------------------------------------

DEMAND_PERIOD_OPTIONS = tuple(str(minutes) for minutes in commands.DEMAND_PERIODS)

SELECTS: tuple[EkmSelectEntityDescription, ...] = (
    EkmSelectEntityDescription(
        key="ct_ratio",
        translation_key="ct_ratio",
        entity_category=EntityCategory.CONFIG,
        options=[str(amps) for amps in commands.CT_RATIOS],
        current_fn=lambda r: _option_of(r, "CT_Ratio", commands.CT_RATIOS),
        command_fn=lambda option: commands.ct_ratio(int(option)),
    ),
    EkmSelectEntityDescription(
        key="max_demand_period",
        translation_key="max_demand_period",
        entity_category=EntityCategory.CONFIG,
        options=list(DEMAND_PERIOD_OPTIONS),
        current_fn=lambda r: _whole(r.demand_period_minutes),
        command_fn=lambda option: commands.max_demand_period(int(option)),
    ),
    EkmSelectEntityDescription(
        key="max_demand_auto_reset",
        translation_key="max_demand_auto_reset",
        entity_category=EntityCategory.CONFIG,
        options=list(commands.AUTO_RESET),
        exists_fn=_v4,
        current_fn=lambda r: r.auto_reset_interval,
        command_fn=commands.max_demand_auto_reset,
    ),
    EkmSelectEntityDescription(
        key="pulse_output_ratio",
        translation_key="pulse_output_ratio",
        entity_category=EntityCategory.CONFIG,
        options=[str(ratio) for ratio in commands.PULSE_OUTPUT_RATIOS],
        exists_fn=_v4,
        current_fn=lambda r: _option_of(r, "CF_Ratio", commands.PULSE_OUTPUT_RATIOS),
        command_fn=lambda option: commands.pulse_output_ratio(int(option)),
    ),
)

# Numbers ------------------------------------------------------------------------------------


def _pulse_ratio(pulse_input: int) -> EkmNumberEntityDescription:
    return EkmNumberEntityDescription(
        key=f"pulse_input_{pulse_input}_ratio",
        translation_key=f"pulse_input_{pulse_input}_ratio",
        entity_category=EntityCategory.CONFIG,
        native_min_value=1,
        native_max_value=9999,
        native_step=1,
        mode=NumberMode.BOX,
        exists_fn=_v4,
        value_fn=lambda r: r.number(f"Pulse_Ratio_{pulse_input}"),
        command_fn=lambda ratio: commands.pulse_input_ratio(pulse_input, ratio),
    )


NUMBERS: tuple[EkmNumberEntityDescription, ...] = tuple(
    _pulse_ratio(pulse_input) for pulse_input in PULSE_INPUTS
)

# Buttons ------------------------------------------------------------------------------------


def clock_command(when: datetime | None = None) -> Command:
    """Set the meter clock to `when` (default: now), as wall time in HA's time zone.

    The meter has no notion of time zones, so an aware time is converted to Home Assistant's
    zone first and a naive one is taken to be in it already.
    """
    when = dt_util.now() if when is None else when
    if when.tzinfo is not None:
        when = dt_util.as_local(when)
    return commands.set_time(when.replace(tzinfo=None, microsecond=0))


BUTTONS: tuple[EkmButtonEntityDescription, ...] = (
    EkmButtonEntityDescription(
        key="reset_max_demand",
        translation_key="reset_max_demand",
        entity_category=EntityCategory.CONFIG,
        command_fn=commands.max_demand_reset,
    ),
    EkmButtonEntityDescription(
        key="set_clock",
        translation_key="set_clock",
        entity_category=EntityCategory.CONFIG,
        command_fn=clock_command,
    ),
    EkmButtonEntityDescription(
        key="zero_resettable_energy",
        translation_key="zero_resettable_energy",
        entity_category=EntityCategory.CONFIG,
        exists_fn=_v4,
        command_fn=commands.zero_resettable_kwh,
    ),
)
