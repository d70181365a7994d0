"""What a loaded config entry keeps, whatever transport reaches its meters.

Every connection type (an RS-485 bus, a smart-MAC device, an EKM Push key, a Push3 gateway) is
one config entry with its own runtime data, a subclass of `MeterLinkRuntimeData`. The shared code
(setup, unload, platforms) only needs what the base class offers; code that belongs to one
transport narrows the entry's runtime data with `runtime_of`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .const import CONF_CONNECTION, CONNECTION_EKM_RS485


class MeterLinkRuntimeData:
    """Base of every entry's runtime data: a coordinator, and a connection to close."""

    coordinator: DataUpdateCoordinator[Any]

    async def async_close(self) -> None:
        """Release the connection (a serial port, a stream) when the entry unloads."""

    def diagnostics(self) -> dict[str, Any]:
        """What a bug report needs beyond the entry itself; never keys, PINs or passwords."""
        return {"last_update_success": self.coordinator.last_update_success}


type MeterLinkConfigEntry = ConfigEntry[MeterLinkRuntimeData]

# A platform's setup for one connection type: add that connection's entities of the platform.
type PlatformSetup = Callable[[MeterLinkConfigEntry, AddConfigEntryEntitiesCallback], None]


# A flow step of the connection's mixin, called on the config flow (`step(flow, data)`).
type FlowStep = Callable[[Any, Mapping[str, Any]], Awaitable[ConfigFlowResult]]
type OptionalFlowStep = Callable[[Any, dict[str, Any] | None], Awaitable[ConfigFlowResult]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionFlow:
    """The config-flow side of a connection type; `config_flow` dispatches through it.

    The menu option is the connection id, and the flow's mixin has a step of that name.
    """

    reauth: FlowStep
    reconfigure: OptionalFlowStep
    options_flow: type[OptionsFlow]
    subentry_flows: Mapping[str, type[ConfigSubentryFlow]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Connection:
    """Everything the shared code needs of one connection type; its family module makes it."""

    # The stored connection id (entry data "connection"); never changes.
    connection_id: str
    # Opens the connection, reads once (raising ConfigEntryNotReady / ConfigEntryAuthFailed)
    # and returns the runtime data; the platforms are forwarded afterwards.
    async_setup: Callable[[HomeAssistant, MeterLinkConfigEntry], Awaitable[MeterLinkRuntimeData]]
    # The platforms this connection has entities on, each with how it adds them.
    platforms: Mapping[Platform, PlatformSetup]
    # Its config-flow steps, options flow and subentry flows.
    flow: ConnectionFlow
    # Whether a device of this entry may be deleted by the user (it is no longer reported).
    can_remove_device: Callable[[MeterLinkConfigEntry, str], bool] = lambda _entry, _ident: False


def connection_of(entry: ConfigEntry) -> str:
    """The entry's connection type (entries made before there was a choice are RS-485 buses)."""
    connection: str = entry.data.get(CONF_CONNECTION, CONNECTION_EKM_RS485)
    return connection


def runtime_of[RuntimeT: MeterLinkRuntimeData](
    entry: MeterLinkConfigEntry, kind: type[RuntimeT]
) -> RuntimeT:
    """The entry's runtime data as the transport's own class (a programming error otherwise)."""
    runtime = entry.runtime_data
    if not isinstance(runtime, kind):
        msg = f"{entry.title} is a {connection_of(entry)} entry, not {kind.__name__}"
        raise TypeError(msg)
    return runtime
