"""Point the EKM Push (cloud) connection at the simulator.

Once the cloud connection is registered in `CONNECTIONS` (its own branch), its clients are
pointed at the simulator. Until then a small stand-in with the same shape is registered: a
coordinator that discovers and reads the key's devices with the library's PushClient, and the
devices (meters, ioStacks, gateways) the switches attach to.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import timedelta

import pytest
from homeassistant.const import CONF_API_KEY, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from custom_components.meterlink import CONNECTIONS
from custom_components.meterlink.const import CONNECTION_EKM_PUSH, DOMAIN, LOGGER
from custom_components.meterlink.meters.push.client import PushClient
from custom_components.meterlink.meters.push.models import PushInventory, PushReadings
from custom_components.meterlink.push_access import gateway_identifier
from custom_components.meterlink.runtime import (
    Connection,
    MeterLinkConfigEntry,
    MeterLinkRuntimeData,
)


class StandInCoordinator(DataUpdateCoordinator[PushReadings]):
    """Discover once, then read every device of the key."""

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry, client: PushClient):
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name="EKM Push stand-in",
            update_interval=timedelta(seconds=60),
        )
        self.client = client
        self.inventory: PushInventory | None = None

    async def _async_update_data(self) -> PushReadings:
        if self.inventory is None:
            self.inventory = await self.client.discover()
            registry = dr.async_get(self.hass)
            assert self.config_entry is not None
            for gateway in self.inventory.gateways:
                registry.async_get_or_create(
                    config_entry_id=self.config_entry.entry_id,
                    identifiers={(DOMAIN, gateway_identifier(gateway.mac))},
                    name=f"Push3 {gateway.mac}",
                )
                for address in (*gateway.meters, *gateway.iostacks):
                    registry.async_get_or_create(
                        config_entry_id=self.config_entry.entry_id,
                        identifiers={(DOMAIN, address)},
                        name=f"Meter {address[-4:]}" if address in gateway.meters else "ioStack",
                    )
        return await self.client.read(self.inventory.devices)


@dataclass
class StandInRuntime(MeterLinkRuntimeData):
    """The stand-in's runtime data."""

    coordinator: StandInCoordinator


def use_cloud(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Make the cloud connection (or the stand-in) talk to the simulator at `url`."""
    if CONNECTION_EKM_PUSH in CONNECTIONS:
        push_coordinator = importlib.import_module("custom_components.meterlink.push_coordinator")
        monkeypatch.setattr(push_coordinator, "API_URL", url)
        monkeypatch.setattr(push_coordinator, "ACCOUNT_URL", url)
        return

    async def setup(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> StandInRuntime:
        client = PushClient(
            async_get_clientsession(hass), entry.data[CONF_API_KEY], api_url=url, account_url=url
        )
        coordinator = StandInCoordinator(hass, entry, client)
        await coordinator.async_config_entry_first_refresh()
        return StandInRuntime(coordinator=coordinator)

    monkeypatch.setitem(CONNECTIONS, CONNECTION_EKM_PUSH, Connection(setup, (Platform.SWITCH,)))
