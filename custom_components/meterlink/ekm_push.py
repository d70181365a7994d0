"""Setting up an EKM Push key (cloud) or a Push3 gateway (LAN) entry: read once, then entities."""

from __future__ import annotations

from typing import Final

from homeassistant.const import CONF_HOST, Platform
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from . import push_coordinator
from .const import DOMAIN
from .meters.push.client import PushClient
from .push.history import async_start_entry_history
from .push_coordinator import (
    EkmPushCoordinator,
    Push3Coordinator,
    PushCoordinator,
    PushRuntimeData,
    entry_key,
)
from .runtime import Connection, MeterLinkConfigEntry

# Read-only for now: relays and settings through sendCommand come with the next release.
PLATFORMS: Final = (Platform.BINARY_SENSOR, Platform.SENSOR)


async def _async_start(coordinator: PushCoordinator) -> PushRuntimeData:
    """First poll (ConfigEntryNotReady / ConfigEntryAuthFailed on failure)."""
    await coordinator.async_config_entry_first_refresh()
    return PushRuntimeData(coordinator=coordinator)


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
    runtime = await _async_start(EkmPushCoordinator(hass, entry, _cloud_client(hass, entry)))
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
    runtime = getattr(entry, "runtime_data", None)  # unset while the entry is not loaded
    if isinstance(runtime, PushRuntimeData):
        return runtime.coordinator.can_remove(identifier)
    return True


EKM_PUSH: Final = Connection(
    async_setup=async_setup_push,
    # Relay, ioStack output and trigger switches, offered with a READ/WRITE API token.
    platforms=(*PLATFORMS, Platform.SWITCH),
    can_remove_device=can_remove_push_device,
)
EKM_PUSH3: Final = Connection(
    async_setup=async_setup_push3, platforms=PLATFORMS, can_remove_device=can_remove_push_device
)
