"""The integration's actions: each family registers its own, once, in `async_setup`.

Registered whether or not an entry is loaded, so they exist (and explain themselves) before any
connection is set up.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback

from .egauge.actions import async_setup_egauge_services
from .ekm.actions import async_setup_ekm_services
from .push.actions import async_setup_push_services


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every family's actions."""
    async_setup_ekm_services(hass)
    async_setup_push_services(hass)
    async_setup_egauge_services(hass)
