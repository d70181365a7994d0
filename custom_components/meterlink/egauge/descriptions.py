"""Entity descriptions of eGauge registers, made per register from its type code.

The meter decides which registers exist; the type code decides the device class and unit of the
rate (power in W, voltage in V, ...) and of the cumulative value where it has one (energy in
kWh, volume in L). An unknown code still gets a plain sensor with the meter's number. Power
registers that count both ways (net) get a signed energy with state class `total` and the
derived Energy import and Energy export (`total_increasing`); one-way registers a
`total_increasing` energy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.button import ButtonEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.components.update import UpdateEntityDescription
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfIrradiance,
    UnitOfPower,
    UnitOfPressure,
    UnitOfReactiveEnergy,
    UnitOfReactivePower,
    UnitOfTemperature,
    UnitOfVolume,
    UnitOfVolumeFlowRate,
)

from ..meters.egauge import RegisterType


@dataclass(frozen=True, slots=True)
class Kind:
    """How one type code is shown in Home Assistant."""

    device_class: SensorDeviceClass | None
    unit: str | None
    scale: float = 1.0  # the meter's unit to `unit`
    precision: int | None = None


_POWER = Kind(SensorDeviceClass.POWER, UnitOfPower.WATT, precision=0)
_REACTIVE = Kind(
    SensorDeviceClass.REACTIVE_POWER, UnitOfReactivePower.VOLT_AMPERE_REACTIVE, precision=0
)
_VOLTAGE = Kind(SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, precision=1)
_CURRENT = Kind(SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, precision=2)

RATE_KINDS: dict[str, Kind] = {
    "P": _POWER,
    "S": Kind(SensorDeviceClass.APPARENT_POWER, UnitOfApparentPower.VOLT_AMPERE, precision=0),
    "var": _REACTIVE,
    "PQ": _REACTIVE,
    "V": _VOLTAGE,
    "Vdc": _VOLTAGE,
    "I": _CURRENT,
    "Idc": _CURRENT,
    "F": Kind(SensorDeviceClass.FREQUENCY, UnitOfFrequency.HERTZ, precision=2),
    "T": Kind(SensorDeviceClass.TEMPERATURE, UnitOfTemperature.CELSIUS, precision=1),
    "h": Kind(SensorDeviceClass.HUMIDITY, PERCENTAGE, precision=1),
    "Pa": Kind(SensorDeviceClass.PRESSURE, UnitOfPressure.PA, precision=0),
    "Qv": Kind(
        SensorDeviceClass.VOLUME_FLOW_RATE, UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR, 3600.0, 3
    ),
    "Ee": Kind(SensorDeviceClass.IRRADIANCE, UnitOfIrradiance.WATTS_PER_SQUARE_METER, precision=0),
    "THD": Kind(None, PERCENTAGE, precision=1),
    "%": Kind(None, PERCENTAGE, precision=1),
}
TOTAL_KINDS: dict[str, Kind] = {
    "P": Kind(SensorDeviceClass.ENERGY, UnitOfEnergy.KILO_WATT_HOUR, precision=3),
    "S": Kind(None, "kVAh", precision=3),
    "var": Kind(
        SensorDeviceClass.REACTIVE_ENERGY,
        UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
        precision=3,
    ),
    "PQ": Kind(
        SensorDeviceClass.REACTIVE_ENERGY,
        UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
        precision=3,
    ),
    "Qv": Kind(SensorDeviceClass.VOLUME, UnitOfVolume.LITERS, precision=1),
    "Ee": Kind(None, "kWh/m²", precision=3),
    "$": Kind(None, None, precision=2),
}


@dataclass(frozen=True, kw_only=True)
class EgaugeSensorDescription(SensorEntityDescription):
    """A sensor of one register; `part` says which value of it."""

    register: str
    part: str  # "rate", "total", "import", "export"
    scale: float = 1.0


def _kind_of(register_type: RegisterType, table: dict[str, Kind]) -> Kind:
    return table.get(register_type.code, Kind(None, register_type.unit or None))


def register_descriptions(
    name: str, register_type: RegisterType, *, net: bool, own_device: bool = False
) -> list[EgaugeSensorDescription]:
    """The sensors of register `name`: its rate, and its totals where the type has them.

    On a device of its own (`own_device`), the register's name is the device's, so the
    entities are named by what they are ("Power", "Energy import") instead.
    """
    if own_device:
        return [
            dataclasses.replace(
                description,
                translation_key=OWN_DEVICE_KEYS.get(description.translation_key or ""),
                translation_placeholders=None,
            )
            for description in register_descriptions(name, register_type, net=net)
        ]
    rate = _kind_of(register_type, RATE_KINDS)
    descriptions = [
        EgaugeSensorDescription(
            key=f"{name}_rate",
            translation_key="egauge_rate" if register_type.known else "egauge_value",
            translation_placeholders={"register": name},
            register=name,
            part="rate",
            device_class=rate.device_class,
            native_unit_of_measurement=rate.unit,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=rate.precision,
            scale=rate.scale,
        )
    ]
    total = TOTAL_KINDS.get(register_type.code)
    if total is None:
        return descriptions

    def cumulative(part: str, key: str, state_class: SensorStateClass) -> EgaugeSensorDescription:
        return EgaugeSensorDescription(
            key=f"{name}_{part}",
            translation_key=key,
            translation_placeholders={"register": name},
            register=name,
            part=part,
            device_class=total.device_class,
            native_unit_of_measurement=total.unit or register_type.total_unit,
            suggested_display_precision=total.precision,
            state_class=state_class,
        )

    if not net:
        key = "egauge_energy" if register_type.code == "P" else "egauge_total"
        return [*descriptions, cumulative("total", key, SensorStateClass.TOTAL_INCREASING)]
    return [
        *descriptions,
        cumulative("total", "egauge_net", SensorStateClass.TOTAL),
        cumulative("import", "egauge_import", SensorStateClass.TOTAL_INCREASING),
        cumulative("export", "egauge_export", SensorStateClass.TOTAL_INCREASING),
    ]


# Translation keys on a register's own device; None: named by the device class (or the device).
OWN_DEVICE_KEYS: dict[str, str | None] = {
    "egauge_total": "egauge_device_total",
    "egauge_net": "egauge_device_net",
    "egauge_import": "egauge_device_import",
    "egauge_export": "egauge_device_export",
}

LOCAL_KINDS: dict[str, Kind] = {"V": _VOLTAGE, "I": _CURRENT}


@dataclass(frozen=True, kw_only=True)
class EgaugeLocalDescription(SensorEntityDescription):
    """A /local sensor value (line voltage, CT current, line frequency)."""

    sensor: str
    measure: str  # "normal" or "frequency"
    value_fn: Callable[[float], float] = float


def local_descriptions(sensor: str, code: str | None) -> list[EgaugeLocalDescription]:
    """Sensors of one /local sensor; disabled by default (registers usually cover them)."""
    kind = LOCAL_KINDS.get(code or "")
    if kind is None:
        return []

    def local(measure: str, suffix: str, shown: Kind) -> EgaugeLocalDescription:
        return EgaugeLocalDescription(
            key=f"local_{sensor}{suffix}",
            translation_key=f"egauge_local{suffix}",
            translation_placeholders={"sensor": sensor},
            sensor=sensor,
            measure=measure,
            device_class=shown.device_class,
            native_unit_of_measurement=shown.unit,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=shown.precision,
            entity_registry_enabled_default=False,
            entity_category=EntityCategory.DIAGNOSTIC,
        )

    result = [local("normal", "", kind)]
    if code == "V" and "-" not in sensor:  # a line, not a line-to-line pair, has a frequency
        result.append(local("frequency", "_frequency", RATE_KINDS["F"]))
    return result


def _examples() -> tuple[SensorEntityDescription, ...]:
    """One description of every translation key the family uses (for the translation checks)."""
    from ..meters.egauge import register_type

    candidates = [
        *register_descriptions("r", register_type("P"), net=True),
        *register_descriptions("r", register_type("P"), net=False),
        *register_descriptions("r", register_type("S"), net=False),
        *register_descriptions("r", register_type("Zz"), net=False),
        *local_descriptions("L1", "V"),
        *register_descriptions("r", register_type("P"), net=True, own_device=True),
        *register_descriptions("r", register_type("S"), net=False, own_device=True),
    ]
    by_key = {d.translation_key: d for d in candidates if d.translation_key is not None}
    return tuple(by_key.values())


SENSOR_EXAMPLES: tuple[SensorEntityDescription, ...] = _examples()

BUTTONS = (
    ButtonEntityDescription(
        key="reboot", translation_key="egauge_reboot", entity_category=EntityCategory.CONFIG
    ),
    ButtonEntityDescription(
        key="resync", translation_key="egauge_resync", entity_category=EntityCategory.CONFIG
    ),
)

UPDATE = UpdateEntityDescription(
    key="firmware", translation_key="egauge_firmware", entity_category=EntityCategory.CONFIG
)
