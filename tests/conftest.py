"""Fixtures for the Home Assistant tests: a simulated EKM bus on loopback TCP and config entries.

The integration talks to `simulator.ekm_rs485.EkmBusSimulator` through a real socket and the
real bus client; only the bus timing is shortened, so a silent meter costs milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest
from homeassistant.config_entries import ConfigSubentry, ConfigSubentryData
from homeassistant.const import CONF_API_KEY, CONF_API_TOKEN, CONF_DEVICE_ID, CONF_HOST, CONF_PIN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import EntityDescription
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

# Imported before the hass fixture puts phacc's testing_config on sys.path, whose own
# `custom_components` package would otherwise shadow the repository's.
import custom_components  # noqa: F401
from custom_components.meterlink import coordinator as coordinator_module
from custom_components.meterlink import push_coordinator, smartmac_link
from custom_components.meterlink.const import (
    CONF_ADDRESS,
    CONF_CONNECTION,
    CONF_MODEL,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_SCAN_INTERVAL,
    CONF_SETTINGS_INTERVAL,
    CONF_VERSION,
    CONNECTION_EKM_PUSH,
    CONNECTION_EKM_RS485,
    CONNECTION_PUSH3,
    CONNECTION_SMARTMAC,
    DOMAIN,
    SUBENTRY_METER,
)
from custom_components.meterlink.descriptions import ekm
from custom_components.meterlink.meters.ekm.bus import BusTiming, EkmBus
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import EkmReading, FieldValue, MeterVersion
from custom_components.meterlink.meters.smartmac import SmartMacModel
from custom_components.meterlink.smartmac_options import CONF_EXTENDED, default_options
from simulator.ekm_meter import SimMeter
from simulator.ekm_push import PushSimulator, SimIoStack
from simulator.ekm_rs485 import EkmBusSimulator
from simulator.push3 import Push3Simulator
from simulator.smartmac import SimSmartMac, SmartMacSimulator

from .device_api_fixtures import cloud_entry, cloud_sim, make_cloud_entry  # noqa: F401

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
    parts = request.node.path.relative_to(request.config.rootpath).parts[1:2]
    return "lib" in parts or "meters" in parts


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """Let Home Assistant load the integration from the repository (HA tests only)."""
    if not _in_library_tests(request):
        request.getfixturevalue("enable_custom_integrations")


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


# smart-MAC ------------------------------------------------------------------------------------
#
# The simulated devices and the integration's clients share one fake monotonic clock: the
# client's request budget sleeps by moving it and the simulator's rate limit reads it, so a
# minute-long budget is exercised in milliseconds and checked from the device's side too.

SMARTMAC_PIN = "937451"
SMARTMAC_D103X = "1728053249"  # D103 extended
SMARTMAC_D103 = "1728053250"  # D103 standard
SMARTMAC_D101 = "1728053251"
SMARTMAC_D105 = "1728053252"
SMARTMAC_MODELS: dict[str, tuple[SmartMacModel, bool]] = {
    SMARTMAC_D103X: (SmartMacModel.D103, True),
    SMARTMAC_D103: (SmartMacModel.D103, False),
    SMARTMAC_D101: (SmartMacModel.D101, False),
    SMARTMAC_D105: (SmartMacModel.D105, False),
}


class SmartMacClock:
    """Monotonic seconds that only move when the budget sleeps or a test advances them."""

    def __init__(self) -> None:
        self.now = 10_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Yield first, so a call made meanwhile sees the wait still ahead (as in real time).
        self.sleeps.append(seconds)
        await asyncio.sleep(0)
        self.now += seconds


def make_smartmac_devices() -> list[SimSmartMac]:
    """One device of every model, each on its own port (so each can go offline alone)."""
    return [
        SimSmartMac(devid, model, extended, SMARTMAC_PIN, own_port=True)
        for devid, (model, extended) in SMARTMAC_MODELS.items()
    ]


@pytest.fixture
def smartmac_clock(monkeypatch: pytest.MonkeyPatch) -> SmartMacClock:
    """The fake clock, given to every smart-MAC client the integration creates."""
    clock = SmartMacClock()
    monkeypatch.setattr(
        smartmac_link, "TIMING", smartmac_link.ClientTiming(clock, clock.sleep, 0.5)
    )
    return clock


@pytest.fixture
async def smartmac_sim(smartmac_clock: SmartMacClock) -> AsyncIterator[SmartMacSimulator]:
    """The four simulated devices on loopback, on the fake clock."""
    simulator = SmartMacSimulator(make_smartmac_devices(), clock=smartmac_clock)
    await simulator.start()
    yield simulator
    await simulator.stop()


type SmartMacEntryBuilder = Callable[..., MockConfigEntry]


@pytest.fixture
def make_smartmac_entry(smartmac_sim: SmartMacSimulator) -> SmartMacEntryBuilder:
    """Build a smart-MAC entry as the config flow creates it, for one simulated device."""

    def build(devid: str = SMARTMAC_D103X, **options: Any) -> MockConfigEntry:
        model, extended = SMARTMAC_MODELS[devid]
        return MockConfigEntry(
            domain=DOMAIN,
            title=f"smart-MAC {model.value} {devid}",
            unique_id=devid,
            data={
                CONF_CONNECTION: CONNECTION_SMARTMAC,
                CONF_HOST: smartmac_sim.host_for(devid),
                CONF_DEVICE_ID: devid,
                CONF_PIN: SMARTMAC_PIN,
                CONF_MODEL: model.value,
                CONF_EXTENDED: extended,
            },
            options={**default_options(model, extended), **options},
        )

    return build


async def smartmac_tick(hass: HomeAssistant, clock: SmartMacClock, seconds: float) -> None:
    """Let `seconds` pass for the devices and the budget, and fire what HA scheduled by then."""
    clock.now += seconds
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done(wait_background_tasks=True)


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
