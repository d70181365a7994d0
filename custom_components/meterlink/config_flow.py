"""Config flow for MeterLink: one config entry per connection, the menu of connection types.

The user step is a menu of the connection types (`connections.CONNECTIONS`, in menu order);
each option is the first step of that family's flow mixin (`ekm.flow`, `push.flow`,
`smartmac.flow`). Reauth, reconfigure, options and subentries are dispatched through the
entry's `Connection`, so nothing here knows a family's steps. Every family tests what the user
typed against the real device before anything is stored, and no secret appears in errors,
placeholders or logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback

from .connections import CONNECTIONS
from .const import DOMAIN
from .egauge.flow import EgaugeConfigFlowMixin
from .ekm.flow import EkmRs485ConfigFlowMixin
from .push.flow import EkmPush3ConfigFlowMixin, EkmPushConfigFlowMixin
from .runtime import connection_of
from .smartmac.flow import SmartMacConfigFlowMixin


class MeterLinkConfigFlow(
    EkmRs485ConfigFlowMixin,
    EkmPushConfigFlowMixin,
    EkmPush3ConfigFlowMixin,
    SmartMacConfigFlowMixin,
    EgaugeConfigFlowMixin,
    ConfigFlow,
    domain=DOMAIN,
):
    """Set up a connection (menu of types), then its meters."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Poll intervals and the like are options: they change without re-testing input."""
        return CONNECTIONS[connection_of(config_entry)].flow.options_flow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Meters are added to and removed from a bus as subentries."""
        return dict(CONNECTIONS[connection_of(config_entry)].flow.subentry_flows)

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask how the meters are reached; each menu option is the first step of that type."""
        return self.async_show_menu(step_id="user", menu_options=list(CONNECTIONS))

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Started by the runtime when a password, PIN or key was refused."""
        connection = CONNECTIONS[connection_of(self._get_reauth_entry())]
        return await connection.flow.reauth(self, entry_data)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change how the connection is reached (each type has its own step)."""
        connection = CONNECTIONS[connection_of(self._get_reconfigure_entry())]
        return await connection.flow.reconfigure(self, user_input)
