"""Diagnostics of a bus: its configuration (passwords redacted), readings and wire health."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_PASSWORD
from .coordinator import MeterLinkConfigEntry, readings_as_dict

TO_REDACT = {CONF_PASSWORD}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MeterLinkConfigEntry
) -> dict[str, Any]:
    """What a bug report about this bus needs, without the meters' passwords."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    return {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
            "subentries": [
                {
                    "subentry_type": subentry.subentry_type,
                    "title": subentry.title,
                    "unique_id": subentry.unique_id,
                    "data": async_redact_data(dict(subentry.data), TO_REDACT),
                }
                for subentry in entry.subentries.values()
            ],
        },
        "last_update_success": coordinator.last_update_success,
        "meters": coordinator.diagnostics(),
        "readings": readings_as_dict(coordinator.data),
        "bus": {"url": runtime.bus.url, "stats": asdict(runtime.bus.stats)},
    }
