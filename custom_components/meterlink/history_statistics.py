"""What every family's imported history shares: the horizon option, the metadata, the rows.

EKM Summary history (`push/history.py`) and eGauge register history (`egauge/history.py`)
both write external statistics that MeterLink owns, hour by hour with a running sum, for
closed and settled hours only, and only while the recorder is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import UnitOfEnergy
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_change
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import EnergyConverter

from .const import DOMAIN
from .meters.energy_hours import HOUR_MS, EnergyHour, Register

CONF_HISTORY = "history"  # options: how much history to import
HISTORY_YEAR, HISTORY_ALL, HISTORY_OFF = "year", "all", "off"
HISTORY_CHOICES = (HISTORY_YEAR, HISTORY_ALL, HISTORY_OFF)

SETTLE = timedelta(minutes=20)
"""An hour is imported once it ended this long ago (late uploads, the hourly compile)."""
DEFAULT_HORIZON = timedelta(days=365)
EVERYTHING = timedelta(days=365 * 30)
"""The horizon of "everything": what the source keeps clamps it."""


def horizon_of(choice: str | None) -> timedelta | None:
    """The option's horizon: one year (default), everything, or None (off)."""
    if choice == HISTORY_OFF:
        return None
    return EVERYTHING if choice == HISTORY_ALL else DEFAULT_HORIZON


@callback
def async_run_hourly(hass: HomeAssistant, entry: ConfigEntry[Any], run: Callable[[], None]) -> None:
    """`run` now (the backfill, or the catch-up after a restart) and every hour at :20.

    By :20 the hour that closed has settled (`SETTLE`); the trigger ends with the entry.
    """

    @callback
    def _start(_now: datetime | None = None) -> None:
        run()

    entry.async_on_unload(async_track_time_change(hass, _start, minute=20, second=0))
    _start()


def history_available(hass: HomeAssistant) -> bool:
    """The recorder is loaded: without it the feature is off and nothing else changes."""
    return "recorder" in hass.config.components


def closed_end_ms(now: datetime) -> int:
    """Start of the first hour not yet closed and settled as of `now` (rows stop before it)."""
    return int((now - SETTLE).timestamp() * 1000) // HOUR_MS * HOUR_MS


def energy_metadata(statistic_id: str, name: str) -> StatisticMetaData:
    """KWh sums named after the device, so the Energy dashboard's picker shows them plainly."""
    return StatisticMetaData(
        mean_type=StatisticMeanType.NONE,
        has_sum=True,
        name=name,
        source=DOMAIN,
        statistic_id=statistic_id,
        unit_class=EnergyConverter.UNIT_CLASS,
        unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    )


def hour_statistics(
    hours: Iterable[EnergyHour], register: Register, start_sum: float
) -> tuple[list[StatisticData], float]:
    """One register's rows (state: the register at the hour's end) and the sum after them."""
    total = start_sum
    rows: list[StatisticData] = []
    for hour in hours:
        imported = register is Register.IMPORT
        total += hour.import_kwh if imported else hour.export_kwh
        state = hour.import_total if imported else hour.export_total
        start = dt_util.utc_from_timestamp(hour.start_ms / 1000)
        rows.append(StatisticData(start=start, state=state, sum=total))
    return rows, total
