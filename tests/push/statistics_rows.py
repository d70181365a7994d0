"""Reading hourly statistics back from the recorder in tests (after it has written)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)


async def hourly_rows(
    hass: HomeAssistant, statistic_id: str, since: datetime
) -> list[dict[str, Any]]:
    """The statistic's hourly rows (start, end, state, sum) from `since` on, oldest first."""
    await async_wait_recording_done(hass)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        since,
        None,
        {statistic_id},
        "hour",
        None,
        {"state", "sum"},
    )
    return [dict(row) for row in rows.get(statistic_id, [])]
