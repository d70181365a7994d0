"""Diagnostics of a connection: its configuration with every secret redacted, and its state."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_API_TOKEN, CONF_PIN
from homeassistant.core import HomeAssistant

from .const import CONF_PASSWORD
from .runtime import MeterLinkConfigEntry

# Meter passwords, smart-MAC PINs, EKM Push keys and API tokens, wherever they are stored
# ("gateway_keys": a Push entry's per-gateway MQTT keys, push.streaming.CONF_GATEWAY_KEYS).
TO_REDACT: Final = {
    CONF_PASSWORD,
    CONF_PIN,
    CONF_API_KEY,
    CONF_API_TOKEN,
    "key",
    "token",
    "gateway_keys",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MeterLinkConfigEntry
) -> dict[str, Any]:
    """What a bug report about this connection needs, without any secret."""
    return async_redact_data(
        {
            "entry": {
                "data": dict(entry.data),
                "options": dict(entry.options),
                "subentries": [
                    {
                        "subentry_type": subentry.subentry_type,
                        "title": subentry.title,
                        "unique_id": subentry.unique_id,
                        "data": dict(subentry.data),
                    }
                    for subentry in entry.subentries.values()
                ],
            },
            **entry.runtime_data.diagnostics(),
        },
        TO_REDACT,
    )
