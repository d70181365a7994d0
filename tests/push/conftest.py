"""Fixtures of the EKM Push and Push3 tests: the clouds, the gateway, and their entries.

`push_simulator`/`push3_simulator` serve readings (readMeter, Account, the Push3 local API);
`cloud_sim` adds the Device Settings and Trigger APIs over the same meters (`cloud_sim.py`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from homeassistant.const import CONF_API_KEY, CONF_API_TOKEN, CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import (
    CONF_CONNECTION,
    CONF_SCAN_INTERVAL,
    CONNECTION_EKM_PUSH,
    CONNECTION_PUSH3,
    DOMAIN,
)
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from custom_components.meterlink.push import coordinator as push_coordinator
from custom_components.meterlink.push.coordinator import cloud_gateway_id as gateway_identifier
from simulator.ekm.meter import SimMeter
from simulator.ekm.push3 import Push3Simulator
from simulator.ekm.push_cloud import PushSimulator, SimIoStack

from ..conftest import V3_ADDRESS, V4_ADDRESS
from .cloud_sim import GATEWAY, SECOND_GATEWAY, WRITE_TOKEN, CloudSim, cloud_running

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


# EKM Push (cloud) and Push3 (LAN) ------------------------------------------------------------

IOSTACK_ADDRESS = "000000900001"


@pytest.fixture
async def push_simulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PushSimulator]:
    """A fake EKM Push cloud with a v4 meter, a v3 meter and an ioStack on one gateway."""
    simulator = PushSimulator(
        [SimMeter(V4_ADDRESS), SimMeter(V3_ADDRESS, MeterVersion.V3)],
        [SimIoStack(IOSTACK_ADDRESS)],
        clock=lambda: time.time(),  # looked up per call: follows a frozen test clock  # noqa: PLW0108
    )
    url = await simulator.start()
    monkeypatch.setattr(push_coordinator, "API_URL", url)
    monkeypatch.setattr(push_coordinator, "ACCOUNT_URL", url)
    yield simulator
    await simulator.stop()


@pytest.fixture
async def push3_simulator(push_simulator: PushSimulator) -> AsyncIterator[Push3Simulator]:
    """The local API of the cloud simulator's gateway."""
    gateway = Push3Simulator(push_simulator)
    await gateway.start()
    yield gateway
    await gateway.stop()


def push_entry(
    simulator: PushSimulator, *, key: str | None = None, options: dict[str, Any] | None = None
) -> MockConfigEntry:
    """A cloud entry for the simulator's account key, as the config flow creates it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="EKM Push test",
        unique_id=f"ekmpush-{next(iter(simulator.gateways))}",
        data={
            CONF_CONNECTION: CONNECTION_EKM_PUSH,
            CONF_API_KEY: key or simulator.account_key,
            CONF_API_TOKEN: "secret-token",
        },
        options={CONF_SCAN_INTERVAL: 60, push_coordinator.CONF_EXCLUDED: [], **(options or {})},
    )


def push3_entry(gateway: Push3Simulator, *, key: str | None = None) -> MockConfigEntry:
    """A Push3 entry for the simulated gateway."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Push3 test",
        unique_id=f"push3-{min(gateway.devices)}",
        data={
            CONF_CONNECTION: CONNECTION_PUSH3,
            CONF_HOST: gateway.host,
            CONF_API_KEY: key or gateway.key,
        },
        options={CONF_SCAN_INTERVAL: 30},
    )
