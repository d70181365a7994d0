"""Entities only EKM Push and Push3 devices have: the ioStack's, and when a device was last read.

The meters' own values come from the EKM tables (`ekm.descriptions`): one reading model serves
RS-485, the cloud and the Push3 gateway alike. The ioStack has no such table elsewhere:
no EKM document names the ioStack's fields (ekm.md §2.6: four pulse inputs, four analog
inputs of 0-5 V, four control outputs, 1-Wire probes). The names below are the ones the
simulator serves and third-party dashboards show; every other numeric field the gateway sends
becomes a generic sensor, disabled by default, so nothing the device reports is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from homeassistant.components.binary_sensor import BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfElectricPotential, UnitOfTemperature
from homeassistant.helpers.typing import StateType

from ..meters.push import TIMESTAMP_FIELD, IoStackReading

CHANNELS: Final = (1, 2, 3, 4)
# Bookkeeping of every read, not a measurement.
NOT_MEASUREMENTS: Final = frozenset(
    {TIMESTAMP_FIELD, "Meter", "Firmware", "Good", "Date", "Time", "Protocol", "Model"}
)


@dataclass(frozen=True, kw_only=True)
class IoStackSensorEntityDescription(SensorEntityDescription):
    """A sensor of one ioStack field."""

    field: str
    value_fn: Callable[[IoStackReading], StateType]


@dataclass(frozen=True, kw_only=True)
class IoStackBinarySensorEntityDescription(BinarySensorEntityDescription):
    """An on/off ioStack field (an output or input state)."""

    field: str
    value_fn: Callable[[IoStackReading], bool | None]


def _number(name: str) -> Callable[[IoStackReading], StateType]:
    def value(reading: IoStackReading) -> StateType:
        return reading.number(name)

    return value


def _state(name: str) -> Callable[[IoStackReading], bool | None]:
    def value(reading: IoStackReading) -> bool | None:
        number = reading.number(name)
        return None if number is None else number != 0

    return value


def _pulse_count(channel: int) -> IoStackSensorEntityDescription:
    name = f"Pulse_Cnt_{channel}"
    return IoStackSensorEntityDescription(
        key=f"iostack_pulse_count_{channel}",
        translation_key=f"iostack_pulse_count_{channel}",
        field=name,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=_number(name),
    )


def _analog(channel: int) -> IoStackSensorEntityDescription:
    name = f"AI_{channel}"
    return IoStackSensorEntityDescription(
        key=f"iostack_analog_{channel}",
        translation_key=f"iostack_analog_{channel}",
        field=name,
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=_number(name),
    )


def _temperature(channel: int) -> IoStackSensorEntityDescription:
    name = f"OneWire_Temp_{channel}"
    return IoStackSensorEntityDescription(
        key=f"iostack_temperature_{channel}",
        translation_key=f"iostack_temperature_{channel}",
        field=name,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_number(name),
    )


def _output(channel: int) -> IoStackBinarySensorEntityDescription:
    name = f"State_Out_{channel}"
    return IoStackBinarySensorEntityDescription(
        key=f"iostack_output_{channel}",
        translation_key=f"iostack_output_{channel}",
        field=name,
        value_fn=_state(name),
    )


def _input(channel: int) -> IoStackBinarySensorEntityDescription:
    name = f"State_In_{channel}"
    return IoStackBinarySensorEntityDescription(
        key=f"iostack_input_{channel}",
        translation_key=f"iostack_input_{channel}",
        field=name,
        value_fn=_state(name),
    )


SENSORS: Final[tuple[IoStackSensorEntityDescription, ...]] = (
    *(_pulse_count(channel) for channel in CHANNELS),
    *(_analog(channel) for channel in CHANNELS),
    *(_temperature(channel) for channel in CHANNELS),
)
BINARY_SENSORS: Final[tuple[IoStackBinarySensorEntityDescription, ...]] = (
    *(_output(channel) for channel in CHANNELS),
    *(_input(channel) for channel in CHANNELS),
)
NAMED_FIELDS: Final = frozenset({*(d.field for d in SENSORS), *(d.field for d in BINARY_SENSORS)})
GENERIC_KEY: Final = "iostack_field"


def field_label(name: str) -> str:
    """An API field name as a user reads it: `Reliability_Ratio` → "Reliability ratio".

    Words in capitals (acronyms such as `AC`) keep them; the rest is sentence case, as Home
    Assistant names entities.
    """
    words = [word for word in name.replace("_", " ").split() if word]
    if not words:
        return name
    kept = [word if word.isupper() and len(word) > 1 else word.lower() for word in words]
    return " ".join([kept[0][:1].upper() + kept[0][1:], *kept[1:]])


def generic_sensor(name: str) -> IoStackSensorEntityDescription:
    """A field no table names: shown as a plain number, disabled until the user wants it."""
    return IoStackSensorEntityDescription(
        key=f"iostack_field_{name.lower()}",
        translation_key=GENERIC_KEY,
        field=name,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_number(name),
    )


def sensors_for(reading: IoStackReading) -> list[IoStackSensorEntityDescription]:
    """The sensors an ioStack gets: named fields it sends, then its other numeric fields."""
    found = [d for d in SENSORS if d.field in reading.fields]
    found += [
        generic_sensor(name)
        for name in sorted(reading.fields)
        if name not in NAMED_FIELDS
        and name not in NOT_MEASUREMENTS
        and reading.number(name) is not None
    ]
    return found


def binary_sensors_for(reading: IoStackReading) -> list[IoStackBinarySensorEntityDescription]:
    """The output and input states an ioStack sends."""
    return [d for d in BINARY_SENSORS if d.field in reading.fields]


LAST_READING: Final = SensorEntityDescription(
    key="last_reading",
    translation_key="last_reading",
    device_class=SensorDeviceClass.TIMESTAMP,
    entity_category=EntityCategory.DIAGNOSTIC,
    # Changes with every read of every meter (state writes, recorder rows), and Home Assistant
    # caps an entry at 10000 enabled entities: a key with 1000 meters needs the room.
    entity_registry_enabled_default=False,
)
REPORTING: Final = BinarySensorEntityDescription(
    key="reporting",
    translation_key="reporting",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)
# The Push3 gateway's own device (issue 13 #11): whether it answers, and when it last did.
GATEWAY_CONNECTED: Final = BinarySensorEntityDescription(
    key="gateway_connected",
    translation_key="gateway_connected",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)
GATEWAY_LAST_POLL: Final = SensorEntityDescription(
    key="gateway_last_poll",
    translation_key="gateway_last_poll",
    device_class=SensorDeviceClass.TIMESTAMP,
    entity_category=EntityCategory.DIAGNOSTIC,
)
