"""A reading as the `read_meter` action answers it: the entities' values, then the raw fields.

The physical values come from the same description tables the entities use (signed power and
power factor, import/export energy, demand period in minutes, meter time as ISO 8601), keyed by
the entities' keys, so the answer never disagrees with what the sensors show. EKM's own fields
(codes and all) stay available under `raw` for anyone who needs the meter's exact words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.const import UnitOfTime

from ..meters.ekm import EkmReading
from .descriptions import BINARY_SENSORS, NUMBERS, SELECTS, SENSORS, SWITCHES

# Settings whose select options are numbers of a unit (the select entity itself has no unit).
SETTING_UNITS: dict[str, str] = {"max_demand_period": str(UnitOfTime.MINUTES)}


def _plain(value: Any) -> Any:
    """A JSON-friendly value: times as ISO 8601, numeric options as numbers."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def physical_values(reading: EkmReading) -> tuple[dict[str, Any], dict[str, str]]:
    """Every entity value this meter has, by entity key, and the units of those that have one."""
    version = reading.version
    values: dict[str, Any] = {}
    units: dict[str, str] = {}
    for sensor in SENSORS:
        if sensor.exists_fn(version):
            values[sensor.key] = _plain(sensor.value_fn(reading))
            if sensor.native_unit_of_measurement is not None:
                units[sensor.key] = str(sensor.native_unit_of_measurement)
    for binary in BINARY_SENSORS:
        if binary.exists_fn(version):
            values[binary.key] = binary.value_fn(reading)
    for switch in SWITCHES:
        if switch.exists_fn(version):
            values[switch.key] = switch.is_on_fn(reading)
    for select in SELECTS:
        if select.exists_fn(version):
            values[select.key] = _plain(select.current_fn(reading))
    for number in NUMBERS:
        if number.exists_fn(version):
            values[number.key] = number.value_fn(reading)
    units.update((key, unit) for key, unit in SETTING_UNITS.items() if key in values)
    return values, units


def read_meter_response(reading: EkmReading) -> dict[str, Any]:
    """The `read_meter` answer: identity, physical values with units, and EKM's raw fields."""
    values, units = physical_values(reading)
    return {
        "address": reading.address,
        "version": reading.version.value,
        "model": reading.model_name,
        "values": values,
        "units": units,
        "raw": dict(reading.fields),
    }
