"""Fixtures shared by the Home Assistant tests of every family, and the EKM bus they all use.

The RS-485 bus is the default entry of the shared tests (setup, unload, diagnostics, actions):
the integration talks to `simulator.ekm.rs485.EkmBusSimulator` through a real socket and the
real bus client; only the bus timing is shortened, so a silent meter costs milliseconds. The
Push and smart-MAC simulators and entries are in `push/conftest.py` and `smartmac/conftest.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest
from homeassistant.config_entries import ConfigSubentry, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import EntityDescription
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

# Imported before the hass fixture puts phacc's testing_config on sys.path, whose own
# `custom_components` package would otherwise shadow the repository's.
import custom_components  # noqa: F401
from custom_components.meterlink.const import (
    CONF_CONNECTION,
    CONF_MODEL,
    CONF_PASSWORD,
    CONF_SCAN_INTERVAL,
    CONNECTION_EKM_RS485,
    DOMAIN,
)
from custom_components.meterlink.ekm import bus as coordinator_module
from custom_components.meterlink.ekm import descriptions as ekm
from custom_components.meterlink.ekm.const import (
    CONF_ADDRESS,
    CONF_PORT,
    CONF_SETTINGS_INTERVAL,
    CONF_VERSION,
    SUBENTRY_METER,
)
from custom_components.meterlink.meters.ekm.bus import BusTiming, EkmBus
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import EkmReading, FieldValue, MeterVersion
from custom_components.meterlink.push import streaming as push_streaming
from simulator.ekm.meter import SimMeter
from simulator.ekm.rs485 import EkmBusSimulator

V4_ADDRESS = "000300001001"
V4_OTHER = "000300001002"  # configured without a password
V3_ADDRESS = "000000011766"
PASSWORD = "00000000"

# Loopback answers arrive within a millisecond; a silent meter costs turnaround + gap + wire
# time, so the baud rate only shortens the wire-time allowance (the socket ignores it).
FAST_TIMING = BusTiming(baudrate=921600, turnaround=0.05, gap=0.02)

type MeterSpec = tuple[str, MeterVersion, str | None]
DEFAULT_METERS: tuple[MeterSpec, ...] = (
    (V4_ADDRESS, MeterVersion.V4, PASSWORD),
    (V4_OTHER, MeterVersion.V4, None),
    (V3_ADDRESS, MeterVersion.V3, PASSWORD),
)


def _in_library_tests(request: pytest.FixtureRequest) -> bool:
    return "meters" in request.node.path.relative_to(request.config.rootpath).parts[1:2]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """Let Home Assistant load the integration from the repository (HA tests only)."""
    if not _in_library_tests(request):
        request.getfixturevalue("enable_custom_integrations")


@pytest.fixture(autouse=True)
def no_streaming_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries poll only, unless a test streams (tests/push/test_streaming.py, real broker)."""
    monkeypatch.setattr(push_streaming, "streaming_default", lambda entry: False)


@pytest.fixture(autouse=True)
def loopback_allowed(socket_enabled: None) -> None:
    """The simulator listens on 127.0.0.1; the test plugin blocks sockets otherwise."""


@pytest.fixture(autouse=True)
def fast_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build every bus (the integration's and the config flow's) with fast timing."""

    def create_bus(url: str) -> EkmBus:
        return EkmBus(url, timing=FAST_TIMING, retries=2, connect_timeout=2.0)

    monkeypatch.setattr(coordinator_module, "create_bus", create_bus)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create every entity enabled, including those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


def make_sim_meters() -> list[SimMeter]:
    """The simulated meters: two v4 and one v3."""
    return [
        SimMeter(V4_ADDRESS),
        SimMeter(V4_OTHER),
        SimMeter(V3_ADDRESS, MeterVersion.V3),
    ]


@pytest.fixture
async def ekm_simulator() -> AsyncIterator[EkmBusSimulator]:
    """A bus with two v4 meters and a v3 meter whose values only change when told to."""
    simulator = EkmBusSimulator(make_sim_meters(), auto_advance=False)
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ekm_url(ekm_simulator: EkmBusSimulator) -> str:
    """The simulator listening on loopback TCP, as a serial-bridge URL."""
    return await ekm_simulator.start_tcp()


def meter_subentry(address: str, version: MeterVersion, password: str | None) -> ConfigSubentryData:
    """A meter subentry as the config flow creates it."""
    data: dict[str, Any] = {
        CONF_ADDRESS: address,
        CONF_VERSION: version.value,
        CONF_MODEL: "1024" if version is MeterVersion.V4 else "1017",
    }
    if password is not None:
        data[CONF_PASSWORD] = password
    return ConfigSubentryData(
        data=data,
        subentry_type=SUBENTRY_METER,
        title=f"EKM meter {address}",
        unique_id=address,
    )


def add_meter(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    address: str,
    version: MeterVersion,
    password: str | None,
) -> ConfigSubentry:
    """Add a meter subentry the way the subentry flow does (no reload)."""
    data = meter_subentry(address, version, password)
    subentry = ConfigSubentry(
        data=MappingProxyType(data["data"]),
        subentry_type=data["subentry_type"],
        title=data["title"],
        unique_id=data["unique_id"],
    )
    hass.config_entries.async_add_subentry(entry, subentry)
    return subentry


type ConfigEntryBuilder = Callable[..., MockConfigEntry]


@pytest.fixture
def make_config_entry(ekm_url: str) -> ConfigEntryBuilder:
    """Build a bus entry on the simulator with the given meters and options."""

    def build(
        meters: Iterable[MeterSpec] = DEFAULT_METERS,
        *,
        scan_interval: int = 10,
        settings_interval: int = 300,
        url: str | None = None,
    ) -> MockConfigEntry:
        return MockConfigEntry(
            domain=DOMAIN,
            title="EKM bus",
            unique_id=url or ekm_url,
            data={CONF_CONNECTION: CONNECTION_EKM_RS485, CONF_PORT: url or ekm_url},
            options={
                CONF_SCAN_INTERVAL: scan_interval,
                CONF_SETTINGS_INTERVAL: settings_interval,
            },
            subentries_data=[meter_subentry(*meter) for meter in meters],
        )

    return build


@pytest.fixture
def mock_config_entry(make_config_entry: ConfigEntryBuilder) -> MockConfigEntry:
    """The default bus entry: all three simulated meters."""
    return make_config_entry()


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add an entry and set it up."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """The default entry, set up; unloaded afterwards so the port closes before the simulator."""
    await setup_entry(hass, mock_config_entry)
    yield mock_config_entry
    if mock_config_entry.state.recoverable:
        await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done()


# Truth and states -----------------------------------------------------------------------------

VALID_FAULTS = (None, "garbage")  # frames a correct client decodes


def served_truth(simulator: EkmBusSimulator, address: str) -> EkmReading:
    """What the integration may publish for a meter: its last valid A block over its last B.

    `last_served` only keeps the last frame of any block, so the served log is searched for the
    newest valid frame of each block instead.
    """
    version = simulator.meters[address].version
    main: dict[str, FieldValue] | None = None
    settings: dict[str, FieldValue] | None = None
    for frame in reversed(simulator.served):
        if frame.address != address or frame.fault not in VALID_FAULTS:
            continue
        if frame.block is Block.V4B:
            settings = settings if settings is not None else frame.values
        else:
            main = main if main is not None else frame.values
        if main is not None and (settings is not None or version is MeterVersion.V3):
            break
    assert main is not None, f"meter {address} never answered"
    return EkmReading(address, version, {**(settings or {}), **main})


@dataclass(frozen=True)
class MeterEntity:
    """One entity of a meter with the description that derives its expected state."""

    entity_id: str
    platform: str
    description: EntityDescription


DESCRIPTIONS: dict[str, tuple[Any, ...]] = {
    "sensor": ekm.SENSORS,
    "binary_sensor": ekm.BINARY_SENSORS,
    "switch": ekm.SWITCHES,
    "select": ekm.SELECTS,
    "number": ekm.NUMBERS,
    "button": ekm.BUTTONS,
}


def meter_entities(hass: HomeAssistant, address: str) -> list[MeterEntity]:
    """Every registered entity of one meter."""
    registry = er.async_get(hass)
    found = []
    for platform, descriptions in DESCRIPTIONS.items():
        for description in descriptions:
            entity_id = registry.async_get_entity_id(
                platform, DOMAIN, f"{address}_{description.key}"
            )
            if entity_id is not None:
                found.append(MeterEntity(entity_id, platform, description))
    return found


def entity_id_of(hass: HomeAssistant, platform: str, address: str, key: str) -> str:
    """The entity id of one meter's entity, by description key."""
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{address}_{key}")
    assert entity_id is not None, f"{platform} {key} of {address} is not registered"
    return entity_id


def expected_value(entity: MeterEntity, reading: EkmReading) -> Any:
    """The value an entity must show for a reading, derived by its description."""
    description: Any = entity.description
    match entity.platform:
        case "sensor" | "binary_sensor" | "number":
            return description.value_fn(reading)
        case "switch":
            return description.is_on_fn(reading)
        case "select":
            return description.current_fn(reading)
    return None  # buttons have no state of their own


def state_matches(state: str, expected: Any, platform: str) -> bool:
    """Whether a state string shows `expected` (numbers compare as numbers, exactly)."""
    if platform == "button":
        return True
    if expected is None:
        return state == "unknown"
    if isinstance(expected, bool):
        return state == ("on" if expected else "off")
    if isinstance(expected, datetime):
        return state == dt_util.as_utc(expected).isoformat(timespec="seconds")
    if isinstance(expected, int | float):
        try:
            return float(state) == float(expected)
        except ValueError:
            return False
    return state == str(expected)


def mismatches(hass: HomeAssistant, simulator: EkmBusSimulator, address: str) -> list[str]:
    """Entities of a meter whose state is not what the simulator's last answers say."""
    truth = served_truth(simulator, address)
    wrong = []
    for entity in meter_entities(hass, address):
        state = hass.states.get(entity.entity_id)
        if state is None:
            continue  # disabled
        expected = expected_value(entity, truth)
        if not state_matches(state.state, expected, entity.platform):
            wrong.append(f"{entity.entity_id}={state.state!r}, expected {expected!r}")
    return wrong
