"""Fixtures of the EKM Push device command and trigger tests: the cloud and a cloud entry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from homeassistant.const import CONF_API_KEY, CONF_API_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink import push_coordinator
from custom_components.meterlink.const import CONF_CONNECTION, CONNECTION_EKM_PUSH, DOMAIN
from custom_components.meterlink.push_access import gateway_identifier

from .device_api_sim import GATEWAY, SECOND_GATEWAY, WRITE_TOKEN, CloudSim, cloud_running

type CloudEntryBuilder = Callable[..., MockConfigEntry]


@pytest.fixture
async def cloud_sim(request: pytest.FixtureRequest) -> AsyncIterator[CloudSim]:
    """The EKM Push cloud with Device Settings and Trigger APIs on loopback.

    Parametrise indirectly with True for an account with two gateways.
    """
    async for sim in cloud_running(second_gateway=getattr(request, "param", False)):
        yield sim


@pytest.fixture
def make_cloud_entry(
    hass: HomeAssistant, cloud_sim: CloudSim, monkeypatch: pytest.MonkeyPatch
) -> CloudEntryBuilder:
    """Build an EKM Push (cloud) entry on the simulator, with the given token (or none)."""
    monkeypatch.setattr(push_coordinator, "API_URL", cloud_sim.url)
    monkeypatch.setattr(push_coordinator, "ACCOUNT_URL", cloud_sim.url)

    def build(token: str | None = WRITE_TOKEN, **data: Any) -> MockConfigEntry:
        entry_data: dict[str, Any] = {
            CONF_CONNECTION: CONNECTION_EKM_PUSH,
            CONF_API_KEY: cloud_sim.account_key,
            **data,
        }
        if token is not None:
            entry_data[CONF_API_TOKEN] = token
        return MockConfigEntry(
            domain=DOMAIN,
            title="EKM Push",
            unique_id=f"ekmpush-{GATEWAY}",  # as the config flow derives it (lowest gateway)
            data=entry_data,
        )

    return build


async def setup_cloud_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add and set up a cloud entry; wait for the switches (added after the token probe)."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def cloud_entry(
    hass: HomeAssistant, make_cloud_entry: CloudEntryBuilder
) -> AsyncIterator[MockConfigEntry]:
    """A loaded cloud entry with a READ/WRITE token; unloaded before the simulator stops."""
    entry = await setup_cloud_entry(hass, make_cloud_entry())
    yield entry
    if entry.state.recoverable:
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


def device_id_of(hass: HomeAssistant, entry: MockConfigEntry, identifier: str) -> str:
    """The registry id of a meter, ioStack or gateway (by MAC) device of the entry."""
    if identifier in (GATEWAY, SECOND_GATEWAY):
        identifier = gateway_identifier(identifier)
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, identifier), entry.entry_id)
    assert device is not None, identifier
    return device.id


def switch_id(hass: HomeAssistant, entry: MockConfigEntry, suffix: str) -> str | None:
    """The entity id of a cloud switch by its unique-id suffix (None: not offered)."""
    return er.async_get(hass).async_get_entity_id("switch", DOMAIN, f"{entry.unique_id}_{suffix}")
