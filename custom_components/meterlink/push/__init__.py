"""Setting up an EKM Push key (cloud) or a Push3 gateway (LAN) entry: read once, then entities."""

from __future__ import annotations

from typing import Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, Platform
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from ..const import CONNECTION_EKM_PUSH, CONNECTION_PUSH3, DOMAIN
from ..meters.push import PushClient
from ..runtime import Connection, ConnectionFlow, MeterLinkConfigEntry, PlatformSetup
from . import coordinator as push_coordinator
from .coordinator import (
    EkmPushCoordinator,
    Push3Coordinator,
    PushCoordinator,
    PushRuntimeData,
    entry_key,
    push_runtime,
)
from .entities import async_add_push_binary_sensors, async_add_push_sensors
from .flow import (
    EkmPush3ConfigFlowMixin,
    EkmPush3OptionsFlow,
    EkmPushConfigFlowMixin,
    EkmPushOptionsFlow,
)
from .history import async_start_entry_history
from .settings import DeviceSettings, create_device_settings
from .streaming import PushStreaming
from .switches import async_setup_push_switches

# What the cloud and the gateway both read; the cloud adds the write switches.
READ_PLATFORMS: Final[dict[Platform, PlatformSetup]] = {
    Platform.BINARY_SENSOR: async_add_push_binary_sensors,
    Platform.SENSOR: async_add_push_sensors,
}


async def _async_start(
    coordinator: PushCoordinator, settings: DeviceSettings | None = None
) -> PushRuntimeData:
    """First poll (ConfigEntryNotReady / ConfigEntryAuthFailed on failure)."""
    await coordinator.async_config_entry_first_refresh()
    streaming = PushStreaming.create(coordinator.hass, coordinator.config_entry, coordinator)
    streaming.async_start()  # after the first poll: the stream only adds newer reads
    return PushRuntimeData(coordinator=coordinator, settings=settings, streaming=streaming)


# Cloud clients by entry id, kept across setup retries and reloads: a client remembers when
# the service accepts its next request after a 429, so a retried setup does not ask too early.
_CLIENTS: HassKey[dict[str, tuple[str, PushClient]]] = HassKey(f"{DOMAIN}_push_clients")


def _cloud_client(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> PushClient:
    """The entry's cloud client; a new one when the key changed (reauth, reconfigure)."""
    clients = hass.data.setdefault(_CLIENTS, {})
    key = entry_key(entry)
    known = clients.get(entry.entry_id)
    if known is not None and known[0] == key:
        return known[1]
    client = push_coordinator.create_push_client(hass, key)
    clients[entry.entry_id] = (key, client)
    return client


async def async_setup_push(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> PushRuntimeData:
    """An EKM Push key: discover its devices, read them all once, keep their history."""
    client = _cloud_client(hass, entry)
    settings = create_device_settings(hass, entry, client.api_url)
    runtime = await _async_start(EkmPushCoordinator(hass, entry, client), settings)
    coordinator = runtime.coordinator
    runtime.history = async_start_entry_history(
        hass,
        entry,
        entry_key(entry),
        lambda: list(coordinator.data.meters),
        coordinator.entity_unique_id,
    )
    return runtime


async def async_setup_push3(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> PushRuntimeData:
    """A Push3 gateway: read every device on it once."""
    client = push_coordinator.create_push3_client(hass, entry.data[CONF_HOST], entry_key(entry))
    return await _async_start(Push3Coordinator(hass, entry, client))


def can_remove_push_device(entry: MeterLinkConfigEntry, identifier: str) -> bool:
    """A device may be deleted once its key or gateway no longer reports it (or not loaded)."""
    if entry.state is not ConfigEntryState.LOADED:
        return True
    return push_runtime(entry).coordinator.can_remove(identifier)


EKM_PUSH: Final = Connection(
    connection_id=CONNECTION_EKM_PUSH,
    async_setup=async_setup_push,
    # Relay, ioStack output and trigger switches, offered with a READ/WRITE API token.
    platforms={**READ_PLATFORMS, Platform.SWITCH: async_setup_push_switches},
    flow=ConnectionFlow(
        reauth=EkmPushConfigFlowMixin.async_step_ekm_push_reauth,
        reconfigure=EkmPushConfigFlowMixin.async_step_ekm_push_reconfigure,
        options_flow=EkmPushOptionsFlow,
    ),
    can_remove_device=can_remove_push_device,
)
EKM_PUSH3: Final = Connection(
    connection_id=CONNECTION_PUSH3,
    async_setup=async_setup_push3,
    platforms=READ_PLATFORMS,
    flow=ConnectionFlow(
        reauth=EkmPush3ConfigFlowMixin.async_step_ekm_push3_reauth,
        reconfigure=EkmPush3ConfigFlowMixin.async_step_ekm_push3_reconfigure,
        options_flow=EkmPush3OptionsFlow,
    ),
    can_remove_device=can_remove_push_device,
)
