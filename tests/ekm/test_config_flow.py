"""The config flow, subentry flow and options flow, driven through Home Assistant's flow managers.

Meters are checked against the simulated bus on loopback TCP with the real bus client, so what
passes here is what the user's hardware would see. Every result is also checked against
translations/en.json: each step, field, error and abort has text, every field has a
description, and every placeholder the text uses is supplied.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, Mock, patch

import pytest
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_USB,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import (
    CONF_CONNECTION,
    CONF_MODEL,
    CONF_PASSWORD,
    CONF_SCAN_INTERVAL,
    CONNECTION_EKM_RS485,
    DOMAIN,
)
from custom_components.meterlink.ekm import bus as coordinator_module
from custom_components.meterlink.ekm.const import (
    CONF_ADDRESS,
    CONF_PORT,
    CONF_SETTINGS_INTERVAL,
    CONF_USB_ID,
    CONF_VERSION,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SETTINGS_INTERVAL,
    SUBENTRY_METER,
)
from custom_components.meterlink.ekm.flow import bus_title
from custom_components.meterlink.meters.ekm.bus import EkmBus
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from custom_components.meterlink.meters.errors import MeterConnectionError
from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import PASSWORD, V3_ADDRESS, V4_ADDRESS, V4_OTHER, ConfigEntryBuilder, setup_entry

NEW_PASSWORD = "12345678"
MISSING = "000300009999"  # no meter answers at this address
DEAD_PORT = "socket://127.0.0.1:1"  # nothing listens: connection refused
TTY = "/dev/ttyUSB0"
BY_ID = "/dev/serial/by-id/usb-FTDI_USB-RS485_Cable_A1B2C3-if00-port0"
USB_INFO = UsbServiceInfo(
    device=TTY,
    vid="0403",
    pid="6001",
    serial_number="A1B2C3",
    manufacturer="FTDI",
    description="USB-RS485 Cable",
)
USB_ID = "0403:6001:A1B2C3"

TRANSLATIONS: dict[str, Any] = json.loads(
    (
        Path(__file__).parents[2] / "custom_components" / "meterlink" / "translations" / "en.json"
    ).read_text(encoding="utf-8")
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


# Helpers -------------------------------------------------------------------------------------


def _check_text(text: str, placeholders: set[str]) -> None:
    missing = set(_PLACEHOLDER.findall(text)) - placeholders
    assert not missing, f"{text!r} needs placeholders {missing}"


def check_translated(result: Any, section: dict[str, Any]) -> None:
    """Everything this result shows has English text whose placeholders are supplied."""
    placeholders = set(result.get("description_placeholders") or {})
    if result["type"] is FlowResultType.ABORT:
        if result.get("translation_domain") is None:
            _check_text(section["abort"][result["reason"]], placeholders)
        return
    if result["type"] is FlowResultType.CREATE_ENTRY:
        return
    step = section["step"][result["step_id"]]
    for key in ("title", "description"):
        if key in step:
            _check_text(step[key], placeholders)
    if result["type"] is FlowResultType.MENU:
        assert set(result["menu_options"]) <= set(step["menu_options"])
        return
    if result["type"] is FlowResultType.FORM:
        for field in result["data_schema"].schema if result["data_schema"] else ():
            assert str(field) in step["data"], f"{result['step_id']}: {field} has no label"
            assert str(field) in step["data_description"], f"{field} has no description"
        for error in (result["errors"] or {}).values():
            _check_text(section["error"][error], placeholders)


def check_config(result: Any) -> Any:
    check_translated(result, TRANSLATIONS["config"])
    return result


def check_meter(result: Any) -> Any:
    check_translated(result, TRANSLATIONS["config_subentries"][SUBENTRY_METER])
    return result


def check_options(result: Any) -> Any:
    check_translated(result, TRANSLATIONS["options"])
    return result


def suggested(result: Any, field: str) -> Any:
    """The value a form pre-fills in `field` (None when it pre-fills nothing)."""
    for key in result["data_schema"].schema:
        if str(key) == field:
            return (key.description or {}).get("suggested_value")
    raise AssertionError(f"no field {field}")


def subentry_by_address(entry: MockConfigEntry, address: str) -> Any:
    return next(s for s in entry.subentries.values() if s.unique_id == address)


@pytest.fixture
async def mock_setup_entry(hass: HomeAssistant) -> AsyncIterator[AsyncMock]:
    """Creating or reloading an entry does not open the bus: these tests are about the flow."""
    with (
        patch("custom_components.meterlink.async_setup_entry", return_value=True) as mock,
        patch("custom_components.meterlink.async_unload_entry", return_value=True),
    ):
        yield mock
        await hass.async_block_till_done()
        for entry in hass.config_entries.async_entries(DOMAIN):
            if entry.state is ConfigEntryState.LOADED:
                await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
def by_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter at /dev/ttyUSB0 has a /dev/serial/by-id link; other paths have none."""
    monkeypatch.setattr(
        "homeassistant.components.usb.get_serial_by_id",
        lambda path: BY_ID if path == TTY else path,
    )


@pytest.fixture
def by_id_is_simulator(monkeypatch: pytest.MonkeyPatch, ekm_url: str) -> None:
    """Buses opened on a /dev path reach the simulator (no real adapter in the tests)."""
    fast = coordinator_module.create_bus
    monkeypatch.setattr(
        coordinator_module,
        "create_bus",
        lambda url: fast(ekm_url if url.startswith("/dev/") else url),
    )


@pytest.fixture
async def empty_bus_url() -> AsyncIterator[str]:
    """A second bus that opens fine but has no meters on it."""
    simulator = EkmBusSimulator([], auto_advance=False)
    yield await simulator.start_tcp()
    await simulator.stop()


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder
) -> AsyncIterator[MockConfigEntry]:
    """A bus set up for real with two of the three meters; unloaded before the simulator stops."""
    entry = make_config_entry(
        meters=[(V4_ADDRESS, MeterVersion.V4, PASSWORD), (V3_ADDRESS, MeterVersion.V3, PASSWORD)]
    )
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    yield entry
    await hass.async_block_till_done()
    if entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(entry.entry_id)


@contextmanager
def only_the_running_bus() -> Iterator[Mock]:
    """While active, opening a second bus fails: the loaded entry's own bus must be used.

    Reloads the flow schedules run after the block, with the normal factory again.
    """
    factory = Mock(side_effect=AssertionError("a temporary bus was opened"))
    with patch.object(coordinator_module, "create_bus", factory):
        yield factory


async def start_user_flow(hass: HomeAssistant) -> Any:
    """Open the menu and pick the RS-485 bus."""
    result = check_config(
        await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    )
    assert result["type"] is FlowResultType.MENU
    assert CONNECTION_EKM_RS485 in result["menu_options"]
    result = check_config(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": CONNECTION_EKM_RS485}
        )
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == CONNECTION_EKM_RS485
    assert result["errors"] == {}
    return result


async def submit(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> Any:
    return check_config(await hass.config_entries.flow.async_configure(flow_id, user_input))


# Error staging: each returns a context manager that is active for the failing submission only.


@contextmanager
def _faulty_crc(sim: EkmBusSimulator) -> Iterator[None]:
    """Every answer arrives with a broken CRC (a second meter on the address, noise, ...)."""
    sim.faults.bad_crc = 1.0
    try:
        yield
    finally:
        sim.faults.bad_crc = 0.0


def _raise_in(method: str, error: Exception) -> Callable[[EkmBusSimulator], Any]:
    return lambda _sim: patch.object(EkmBus, method, side_effect=error)


def _wrong_meter_password(sim: EkmBusSimulator) -> AbstractContextManager[None]:
    """The meter's password was changed; the test's recovery step sets it back."""
    sim.meters[V4_ADDRESS].password = NEW_PASSWORD
    return nullcontext()


# User flow: menu -> ekm_rs485 -> ekm_rs485_confirm -------------------------------------------


@pytest.mark.parametrize(
    ("password", "stored"),
    [(PASSWORD, {CONF_PASSWORD: PASSWORD}), ("", {})],
    ids=["with_password", "without_password"],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_creates_bus_with_meters(
    hass: HomeAssistant, ekm_url: str, password: str, stored: dict[str, str]
) -> None:
    result = await start_user_flow(hass)
    result = await submit(
        hass,
        result["flow_id"],
        {
            CONF_PORT: f" {ekm_url} ",
            "meters": "300001001, 300001002\n000000011766 300001001",
            CONF_PASSWORD: password,
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ekm_rs485_confirm"
    assert result["data_schema"] is None
    listed = result["description_placeholders"]["meters"].splitlines()
    assert listed == [
        "- Omnimeter Pulse v.4 300001001 (v4, address 000300001001)",
        "- Omnimeter Pulse v.4 300001002 (v4, address 000300001002)",
        "- Omnimeter I v.3 000011766 (v3, address 000000011766)",
    ]

    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.title == f"EKM RS-485 bus ({ekm_url})"
    assert entry.unique_id == ekm_url
    assert entry.data == {CONF_CONNECTION: CONNECTION_EKM_RS485, CONF_PORT: ekm_url}
    assert entry.options == {
        CONF_SCAN_INTERVAL: DEFAULT_SCAN_INTERVAL,
        CONF_SETTINGS_INTERVAL: DEFAULT_SETTINGS_INTERVAL,
    }
    meters = {s.unique_id: s for s in entry.subentries.values()}
    assert list(meters) == [V4_ADDRESS, V4_OTHER, V3_ADDRESS]
    assert meters[V4_ADDRESS].subentry_type == SUBENTRY_METER
    # Issue 13 #11: the subentry is the meter's place on the bus; the device carries the model.
    assert meters[V4_ADDRESS].title == "Meter 300001001"
    assert dict(meters[V4_ADDRESS].data) == {
        CONF_ADDRESS: V4_ADDRESS,
        CONF_VERSION: "v4",
        CONF_MODEL: "1024",
        **stored,
    }
    assert dict(meters[V3_ADDRESS].data) == {
        CONF_ADDRESS: V3_ADDRESS,
        CONF_VERSION: "v3",
        CONF_MODEL: "1017",
        **stored,
    }


@pytest.mark.parametrize(
    ("user_input", "stage", "errors", "address"),
    [
        ({"meters": "30000100x"}, None, {"meters": "invalid_address"}, "30000100x"),
        ({"meters": "12345678"}, None, {"meters": "invalid_address"}, "12345678"),
        ({"meters": " , \n"}, None, {"meters": "no_meters"}, None),
        ({CONF_PASSWORD: "1234"}, None, {CONF_PASSWORD: "invalid_password_format"}, None),
        ({"meters": "300009999"}, None, {"meters": "meter_not_found"}, MISSING),
        ({}, _wrong_meter_password, {CONF_PASSWORD: "invalid_password"}, V4_ADDRESS),
        ({CONF_PORT: DEAD_PORT}, None, {CONF_PORT: "port_cannot_open"}, None),
        ({}, _faulty_crc, {"meters": "invalid_response"}, V4_ADDRESS),
        (
            {},
            _raise_in("identify", MeterConnectionError("port went away")),
            {CONF_PORT: "cannot_connect"},
            None,
        ),
        ({}, _raise_in("identify", RuntimeError("bug")), {"base": "unknown"}, None),
        ({}, _raise_in("connect", RuntimeError("bug")), {"base": "unknown"}, None),
    ],
    ids=[
        "bad_address",
        "short_address",
        "no_address",
        "bad_password_format",
        "meter_not_found",
        "wrong_password",
        "port_cannot_open",
        "invalid_response",
        "connection_lost",
        "unexpected_identify",
        "unexpected_connect",
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_errors_then_recovers(
    hass: HomeAssistant,
    ekm_url: str,
    ekm_simulator: EkmBusSimulator,
    user_input: dict[str, str],
    stage: Callable[[EkmBusSimulator], AbstractContextManager[Any]] | None,
    errors: dict[str, str],
    address: str | None,
) -> None:
    good = {CONF_PORT: ekm_url, "meters": "300001001", CONF_PASSWORD: PASSWORD}
    result = await start_user_flow(hass)
    with stage(ekm_simulator) if stage else nullcontext():
        result = await submit(hass, result["flow_id"], good | user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == CONNECTION_EKM_RS485
    assert result["errors"] == errors
    assert result["description_placeholders"].get(CONF_ADDRESS) == address
    # What was typed stays in the form, the password too (the browser shows it masked).
    assert suggested(result, "meters") == (good | user_input)["meters"]
    assert suggested(result, CONF_PASSWORD) == (good | user_input).get(CONF_PASSWORD)

    ekm_simulator.meters[V4_ADDRESS].password = PASSWORD
    result = await submit(hass, result["flow_id"], good)
    assert result["step_id"] == "ekm_rs485_confirm"
    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [s.unique_id for s in result["result"].subentries.values()] == [V4_ADDRESS]


async def test_passwords_stay_out_of_errors_and_logs(
    hass: HomeAssistant,
    ekm_url: str,
    ekm_simulator: EkmBusSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused or failing login shows an error key; the typed password is never echoed."""
    caplog.set_level(logging.DEBUG)
    typed = "97531864"
    ekm_simulator.meters[V4_ADDRESS].password = "24681357"
    result = await start_user_flow(hass)
    result = await submit(
        hass, result["flow_id"], {CONF_PORT: ekm_url, "meters": "300001001", CONF_PASSWORD: typed}
    )
    assert result["errors"] == {CONF_PASSWORD: "invalid_password"}
    with patch.object(EkmBus, "check_password", side_effect=RuntimeError("bug")):
        result = await submit(
            hass,
            result["flow_id"],
            {CONF_PORT: ekm_url, "meters": "300001001", CONF_PASSWORD: typed},
        )
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error while testing the connection" in caplog.text
    assert typed not in caplog.text
    assert typed not in repr(result)


async def test_user_flow_bridge_url_beside_the_picker(hass: HomeAssistant, ekm_url: str) -> None:
    """A network bridge is typed into its own field, so the adapter picker never flags it."""
    result = await start_user_flow(hass)
    result = await submit(hass, result["flow_id"], {"meters": "300001001"})
    assert result["errors"] == {CONF_PORT: "no_port"}
    result = await submit(hass, result["flow_id"], {"bridge_url": DEAD_PORT, "meters": "300001001"})
    assert result["errors"] == {"bridge_url": "port_cannot_open"}
    assert result["description_placeholders"]["bus_port"] == DEAD_PORT
    assert suggested(result, "bridge_url") == DEAD_PORT
    assert suggested(result, CONF_PORT) is None
    # A URL typed into the picker (as before) comes back in the bridge field.
    result = await submit(hass, result["flow_id"], {CONF_PORT: DEAD_PORT, "meters": "300001001"})
    assert result["errors"] == {CONF_PORT: "port_cannot_open"}
    assert suggested(result, "bridge_url") == DEAD_PORT
    result = await submit(hass, result["flow_id"], {"bridge_url": ekm_url, "meters": "300001001"})
    assert result["step_id"] == "ekm_rs485_confirm"


async def test_user_flow_bus_already_configured(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder, ekm_url: str
) -> None:
    make_config_entry(meters=[]).add_to_hass(hass)
    result = await start_user_flow(hass)
    result = await submit(hass, result["flow_id"], {CONF_PORT: ekm_url, "meters": "300001001"})
    # A field error that keeps the form (issue 13 #6), naming the port.
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_PORT: "bus_already_configured"}
    assert result["description_placeholders"]["bus_port"] == ekm_url


@pytest.mark.usefixtures("by_id")
async def test_user_flow_same_adapter_by_another_path(hass: HomeAssistant) -> None:
    """/dev/ttyUSB0 and its by-id link are the same bus: the bus is identified by the link."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=BY_ID,
        data={CONF_CONNECTION: CONNECTION_EKM_RS485, CONF_PORT: BY_ID},
    ).add_to_hass(hass)
    result = await start_user_flow(hass)
    result = await submit(hass, result["flow_id"], {CONF_PORT: TTY, "meters": "300001001"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_PORT: "bus_already_configured"}


@pytest.mark.usefixtures("by_id", "mock_setup_entry")
async def test_user_flow_device_without_by_id_link(hass: HomeAssistant, ekm_url: str) -> None:
    """A device path without a by-id link is its own identity (and here cannot be opened)."""
    result = await start_user_flow(hass)
    result = await submit(
        hass, result["flow_id"], {CONF_PORT: "/dev/ttyNOPE0", "meters": "300001001"}
    )
    assert result["errors"] == {CONF_PORT: "port_cannot_open"}
    assert result["description_placeholders"]["bus_port"] == "/dev/ttyNOPE0"
    flow = hass.config_entries.flow.async_get(result["flow_id"])
    assert flow["context"]["unique_id"] == "/dev/ttyNOPE0"


async def test_user_flow_meter_on_another_bus(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder, ekm_url: str
) -> None:
    other = make_config_entry(meters=[(V4_OTHER, MeterVersion.V4, None)], url=DEAD_PORT)
    other.add_to_hass(hass)
    result = await start_user_flow(hass)
    result = await submit(
        hass, result["flow_id"], {CONF_PORT: ekm_url, "meters": "300001001 300001002"}
    )
    # A field error that keeps the form (issue 13 #6): the addresses are corrected there.
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"meters": "meter_already_configured"}
    assert result["description_placeholders"] == {CONF_ADDRESS: V4_OTHER, "entry": other.title}


async def test_user_flow_confirm_after_bus_was_added_elsewhere(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder, ekm_url: str
) -> None:
    """The confirmation re-checks: another flow may have added the bus meanwhile."""
    result = await start_user_flow(hass)
    result = await submit(hass, result["flow_id"], {CONF_PORT: ekm_url, "meters": "300001001"})
    assert result["step_id"] == "ekm_rs485_confirm"
    make_config_entry(meters=[]).add_to_hass(hass)
    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# USB discovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "extra_data"),
    [(BY_ID, {CONF_USB_ID: USB_ID}), (None, {})],
    ids=["discovered_port", "port_changed_by_user"],
)
@pytest.mark.usefixtures("by_id", "by_id_is_simulator", "mock_setup_entry")
async def test_usb_discovery_new_adapter(
    hass: HomeAssistant,
    make_config_entry: ConfigEntryBuilder,
    ekm_url: str,
    port: str | None,
    extra_data: dict[str, str],
) -> None:
    # An unrelated bus (a network bridge) is left alone.
    make_config_entry(meters=[], url=DEAD_PORT).add_to_hass(hass)
    result = check_config(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=USB_INFO
        )
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "usb_confirm"
    assert result["description_placeholders"] == {CONF_PORT: BY_ID}
    flow = hass.config_entries.flow.async_get(result["flow_id"])
    assert "confirm_only" not in flow["context"]  # the meters are still to be entered
    assert flow["context"]["title_placeholders"] == {"name": "USB-RS485 Cable"}
    assert flow["context"]["unique_id"] == BY_ID

    result = await submit(hass, result["flow_id"], {})
    assert result["step_id"] == CONNECTION_EKM_RS485
    assert suggested(result, CONF_PORT) == BY_ID

    port = port or ekm_url
    result = await submit(hass, result["flow_id"], {CONF_PORT: port, "meters": "300001001"})
    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == port
    assert result["result"].data == {
        CONF_CONNECTION: CONNECTION_EKM_RS485,
        CONF_PORT: port,
        **extra_data,
    }


@pytest.mark.usefixtures("by_id", "by_id_is_simulator", "mock_setup_entry")
async def test_usb_discovery_without_serial_number(hass: HomeAssistant) -> None:
    """VID:PID alone names a chip model, not an adapter: no usb_id, the title falls back."""
    info = UsbServiceInfo(
        device="/dev/ttyUSB5",
        vid="1A86",
        pid="7523",
        serial_number=None,
        manufacturer=None,
        description=None,
    )
    result = check_config(
        await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USB}, data=info)
    )
    assert result["step_id"] == "usb_confirm"
    flow = hass.config_entries.flow.async_get(result["flow_id"])
    assert flow["context"]["title_placeholders"] == {"name": "/dev/ttyUSB5"}
    result = await submit(hass, result["flow_id"], {})
    result = await submit(
        hass, result["flow_id"], {CONF_PORT: "/dev/ttyUSB5", "meters": "300001001"}
    )
    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].data == {
        CONF_CONNECTION: CONNECTION_EKM_RS485,
        CONF_PORT: "/dev/ttyUSB5",
    }


@pytest.mark.usefixtures("by_id", "mock_setup_entry")
async def test_usb_discovery_known_by_id(hass: HomeAssistant) -> None:
    """The bus's port is the by-id link already: the adapter's id is learned, nothing else."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="My bus",
        unique_id=BY_ID,
        data={CONF_CONNECTION: CONNECTION_EKM_RS485, CONF_PORT: BY_ID},
    )
    entry.add_to_hass(hass)
    result = check_config(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=USB_INFO
        )
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data == {
        CONF_CONNECTION: CONNECTION_EKM_RS485,
        CONF_PORT: BY_ID,
        CONF_USB_ID: USB_ID,
    }


@pytest.mark.parametrize(
    ("stored", "title", "new_title"),
    [
        (
            {CONF_PORT: "/dev/ttyUSB3", CONF_USB_ID: USB_ID},
            bus_title("/dev/ttyUSB3"),
            bus_title(BY_ID),
        ),
        ({CONF_PORT: TTY}, "My bus", "My bus"),
    ],
    ids=["same_adapter_new_tty", "set_up_on_tty"],
)
@pytest.mark.usefixtures("by_id", "mock_setup_entry")
async def test_usb_discovery_moves_known_bus(
    hass: HomeAssistant, stored: dict[str, str], title: str, new_title: str
) -> None:
    """A bus known by its adapter's serial number or its tty follows the adapter's by-id path."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=stored[CONF_PORT],
        data={CONF_CONNECTION: CONNECTION_EKM_RS485, **stored},
    )
    entry.add_to_hass(hass)
    result = check_config(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=USB_INFO
        )
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.unique_id == BY_ID
    assert entry.title == new_title
    assert entry.data == {
        CONF_CONNECTION: CONNECTION_EKM_RS485,
        CONF_PORT: BY_ID,
        CONF_USB_ID: USB_ID,
    }


# Meter subentries ----------------------------------------------------------------------------


async def start_meter_flow(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    result = check_meter(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_METER), context={"source": SOURCE_USER}
        )
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


async def submit_meter(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> Any:
    return check_meter(await hass.config_entries.subentries.async_configure(flow_id, user_input))


@pytest.mark.parametrize(
    ("user_input", "expected"),
    [
        (
            {CONF_ADDRESS: "300001002"},
            ("Meter 300001002", V4_OTHER, {CONF_VERSION: "v4", CONF_MODEL: "1024"}),
        ),
        (
            {CONF_ADDRESS: "0000-0001-1766", CONF_PASSWORD: PASSWORD},
            (
                "Meter 000011766",
                V3_ADDRESS,
                {CONF_VERSION: "v3", CONF_MODEL: "1017", CONF_PASSWORD: PASSWORD},
            ),
        ),
    ],
    ids=["v4_without_password", "v3_with_password"],
)
async def test_add_meter_to_bus_not_loaded(
    hass: HomeAssistant,
    make_config_entry: ConfigEntryBuilder,
    user_input: dict[str, str],
    expected: tuple[str, str, dict[str, str]],
) -> None:
    entry = make_config_entry(meters=[(V4_ADDRESS, MeterVersion.V4, PASSWORD)])
    entry.add_to_hass(hass)
    result = await start_meter_flow(hass, entry)
    result = await submit_meter(hass, result["flow_id"], user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    title, address, data = expected
    subentry = subentry_by_address(entry, address)
    assert subentry.title == title
    assert dict(subentry.data) == {CONF_ADDRESS: address, **data}
    assert len(entry.subentries) == 2


async def test_add_meter_says_which_bus(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder, ekm_url: str
) -> None:
    """Issue 13 #11: the form names the bus, with its port when the title does not show it."""
    renamed = make_config_entry(meters=[(V4_ADDRESS, MeterVersion.V4, PASSWORD)])
    renamed.add_to_hass(hass)
    result = await start_meter_flow(hass, renamed)
    assert result["description_placeholders"]["bus"] == f"EKM bus ({ekm_url})"
    default = make_config_entry(meters=[(V3_ADDRESS, MeterVersion.V3, PASSWORD)])
    default.add_to_hass(hass)
    hass.config_entries.async_update_entry(default, title=bus_title(ekm_url))
    result = await start_meter_flow(hass, default)
    assert result["description_placeholders"]["bus"] == bus_title(ekm_url)


async def test_add_meter_uses_the_running_bus(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The port is open while the entry is loaded: the meter is checked on that bus."""
    with only_the_running_bus() as factory:
        result = await start_meter_flow(hass, loaded_entry)
        result = await submit_meter(
            hass, result["flow_id"], {CONF_ADDRESS: V4_OTHER, CONF_PASSWORD: PASSWORD}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = subentry_by_address(loaded_entry, V4_OTHER)
    assert subentry.data[CONF_PASSWORD] == PASSWORD
    factory.assert_not_called()
    # Issue 13 #11: the device under the subentry is named by its model, the subentry is not.
    await hass.async_block_till_done()
    devices = dr.async_get(hass)
    device = devices.async_get_device_by_identifier((DOMAIN, V4_OTHER), loaded_entry.entry_id)
    assert device is not None
    assert device.config_subentry_id == subentry.subentry_id
    assert (subentry.title, device.name) == ("Meter 300001002", "Omnimeter Pulse v.4 300001002")


@pytest.mark.parametrize(
    ("user_input", "stage", "errors", "address"),
    [
        ({CONF_ADDRESS: "3000x1002"}, None, {CONF_ADDRESS: "invalid_address"}, "3000x1002"),
        ({CONF_ADDRESS: " "}, None, {CONF_ADDRESS: "no_meters"}, None),
        ({CONF_ADDRESS: "300001002 300001001"}, None, {CONF_ADDRESS: "one_meter_only"}, None),
        ({CONF_PASSWORD: "abcdefgh"}, None, {CONF_PASSWORD: "invalid_password_format"}, None),
        ({CONF_ADDRESS: "300009999"}, None, {CONF_ADDRESS: "meter_not_found"}, MISSING),
        ({CONF_PASSWORD: NEW_PASSWORD}, None, {CONF_PASSWORD: "invalid_password"}, V4_OTHER),
        (
            {},
            _raise_in("connect", MeterConnectionError("gone")),
            {"base": "port_cannot_open"},
            None,
        ),
    ],
    ids=[
        "bad_address",
        "no_address",
        "two_addresses",
        "bad_password_format",
        "meter_not_found",
        "wrong_password",
        "port_cannot_open",
    ],
)
async def test_add_meter_errors_then_recovers(
    hass: HomeAssistant,
    make_config_entry: ConfigEntryBuilder,
    ekm_simulator: EkmBusSimulator,
    user_input: dict[str, str],
    stage: Callable[[EkmBusSimulator], AbstractContextManager[Any]] | None,
    errors: dict[str, str],
    address: str | None,
) -> None:
    entry = make_config_entry(meters=[(V4_ADDRESS, MeterVersion.V4, PASSWORD)])
    entry.add_to_hass(hass)
    good = {CONF_ADDRESS: "300001002", CONF_PASSWORD: PASSWORD}
    result = await start_meter_flow(hass, entry)
    with stage(ekm_simulator) if stage else nullcontext():
        result = await submit_meter(hass, result["flow_id"], good | user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert result["description_placeholders"].get(CONF_ADDRESS) == address
    assert suggested(result, CONF_ADDRESS) == (good | user_input)[CONF_ADDRESS]
    assert suggested(result, CONF_PASSWORD) is None

    result = await submit_meter(hass, result["flow_id"], good)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert subentry_by_address(entry, V4_OTHER).data[CONF_PASSWORD] == PASSWORD


@pytest.mark.parametrize(
    ("address", "reason", "owner"),
    [
        ("300001001", "already_configured", "this"),
        ("300001002", "meter_already_configured", "other"),
    ],
)
async def test_add_meter_already_configured(
    hass: HomeAssistant,
    make_config_entry: ConfigEntryBuilder,
    address: str,
    reason: str,
    owner: str,
) -> None:
    entry = make_config_entry(meters=[(V4_ADDRESS, MeterVersion.V4, PASSWORD)])
    entry.add_to_hass(hass)
    other = make_config_entry(meters=[(V4_OTHER, MeterVersion.V4, None)], url=DEAD_PORT)
    other.add_to_hass(hass)
    hass.config_entries.async_update_entry(other, title="Other bus")
    result = await start_meter_flow(hass, entry)
    result = await submit_meter(hass, result["flow_id"], {CONF_ADDRESS: address})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    expected_owner = entry if owner == "this" else other
    assert result["description_placeholders"]["entry"] == expected_owner.title
    assert len(entry.subentries) == 1


@pytest.mark.usefixtures("mock_setup_entry")
async def test_meter_password_reconfigure(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder, ekm_simulator: EkmBusSimulator
) -> None:
    """The password was changed on the meter: the new one is checked by a login, then stored."""
    entry = make_config_entry(meters=[(V4_ADDRESS, MeterVersion.V4, PASSWORD)])
    entry.add_to_hass(hass)
    subentry = subentry_by_address(entry, V4_ADDRESS)
    ekm_simulator.meters[V4_ADDRESS].password = NEW_PASSWORD

    result = check_meter(await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == {"meter": subentry.title, CONF_ADDRESS: V4_ADDRESS}

    for wrong, error in (("", "invalid_password_format"), (PASSWORD, "invalid_password")):
        result = await submit_meter(hass, result["flow_id"], {CONF_PASSWORD: wrong})
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_PASSWORD: error}

    result = await submit_meter(hass, result["flow_id"], {CONF_PASSWORD: NEW_PASSWORD})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert dict(subentry.data) == {
        CONF_ADDRESS: V4_ADDRESS,
        CONF_VERSION: "v4",
        CONF_MODEL: "1024",
        CONF_PASSWORD: NEW_PASSWORD,
    }
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED  # reloaded (set up by the mock)


# Reconfigure: move the bus to another port ---------------------------------------------------


async def submit_reconfigure(hass: HomeAssistant, entry: MockConfigEntry, port: str) -> Any:
    result = check_config(await entry.start_reconfigure_flow(hass))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert suggested(result, CONF_PORT) == entry.data[CONF_PORT]
    return await submit(hass, result["flow_id"], {CONF_PORT: port})


@pytest.mark.parametrize(
    "meters",
    [
        [(V4_ADDRESS, MeterVersion.V4, PASSWORD), (MISSING, MeterVersion.V4, None)],
        [],
    ],
    ids=["one_of_two_meters_answers", "no_meters_configured"],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_reconfigure_moves_bus(
    hass: HomeAssistant,
    make_config_entry: ConfigEntryBuilder,
    ekm_url: str,
    meters: list[Any],
) -> None:
    entry = make_config_entry(meters=meters, url="/dev/ttyUSB3")
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, title=bus_title("/dev/ttyUSB3"), data={**entry.data, CONF_USB_ID: USB_ID}
    )
    result = await submit_reconfigure(hass, entry, ekm_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == ekm_url
    assert entry.title == bus_title(ekm_url)
    # The adapter's id belonged to the old port.
    assert entry.data == {CONF_CONNECTION: CONNECTION_EKM_RS485, CONF_PORT: ekm_url}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_reconfigure_same_port_uses_running_bus(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, ekm_url: str
) -> None:
    """Re-submitting the port checks the meters on the open bus and keeps the adapter's id."""
    hass.config_entries.async_update_entry(
        loaded_entry, data={**loaded_entry.data, CONF_USB_ID: USB_ID}
    )
    with only_the_running_bus() as factory:
        result = await submit_reconfigure(hass, loaded_entry, ekm_url)
    assert result["reason"] == "reconfigure_successful"
    assert loaded_entry.title == "EKM bus"  # a title the user chose is kept
    assert loaded_entry.data[CONF_USB_ID] == USB_ID
    factory.assert_not_called()
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.LOADED  # reloaded on the same port


@pytest.mark.parametrize(
    ("stage", "errors"),
    [
        ("empty_bus", {CONF_PORT: "no_meter_answered"}),
        ("dead_port", {CONF_PORT: "port_cannot_open"}),
        ("bad_crc", {CONF_PORT: "no_meter_answered"}),
        ("bug", {"base": "unknown"}),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_reconfigure_errors_then_recovers(
    hass: HomeAssistant,
    make_config_entry: ConfigEntryBuilder,
    ekm_url: str,
    empty_bus_url: str,
    ekm_simulator: EkmBusSimulator,
    stage: str,
    errors: dict[str, str],
) -> None:
    entry = make_config_entry(meters=[(V4_ADDRESS, MeterVersion.V4, PASSWORD)], url=DEAD_PORT)
    entry.add_to_hass(hass)
    port = {"empty_bus": empty_bus_url, "dead_port": DEAD_PORT}.get(stage, ekm_url)
    context: AbstractContextManager[Any] = nullcontext()
    if stage == "bad_crc":
        context = _faulty_crc(ekm_simulator)
    elif stage == "bug":
        context = patch.object(EkmBus, "identify", side_effect=RuntimeError("bug"))
    with context:
        result = await submit_reconfigure(hass, entry, port)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert result["description_placeholders"][CONF_PORT] == DEAD_PORT
    assert suggested(result, CONF_PORT) == port

    result = await submit(hass, result["flow_id"], {CONF_PORT: ekm_url})
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == ekm_url


async def test_reconfigure_to_port_of_another_bus(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder, ekm_url: str
) -> None:
    entry = make_config_entry(meters=[], url=DEAD_PORT)
    entry.add_to_hass(hass)
    make_config_entry(meters=[]).add_to_hass(hass)  # the simulator's bus
    result = await submit_reconfigure(hass, entry, ekm_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_PORT] == DEAD_PORT


# Reauth: a meter refused its password --------------------------------------------------------


async def test_reauth_started_by_the_runtime(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, ekm_simulator: EkmBusSimulator
) -> None:
    """The contract with the runtime: reauth data names the meter (subentry) to fix."""
    subentry = subentry_by_address(loaded_entry, V4_ADDRESS)
    ekm_simulator.meters[V4_ADDRESS].password = NEW_PASSWORD
    loaded_entry.async_start_reauth(hass, data={"subentry_id": subentry.subentry_id})
    await hass.async_block_till_done()
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    result = check_config(await hass.config_entries.flow.async_configure(flow["flow_id"]))
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] == {
        "meter": subentry.title,
        CONF_ADDRESS: V4_ADDRESS,
        "name": loaded_entry.title,
    }

    with only_the_running_bus() as factory:
        for wrong, error in (("0000", "invalid_password_format"), (PASSWORD, "invalid_password")):
            result = await submit(hass, result["flow_id"], {CONF_PASSWORD: wrong})
            assert result["type"] is FlowResultType.FORM
            assert result["errors"] == {CONF_PASSWORD: error}
        result = await submit(hass, result["flow_id"], {CONF_PASSWORD: NEW_PASSWORD})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert subentry.data[CONF_PASSWORD] == NEW_PASSWORD
    assert subentry_by_address(loaded_entry, V3_ADDRESS).data[CONF_PASSWORD] == PASSWORD
    factory.assert_not_called()
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.LOADED  # reloaded with the new password


@pytest.mark.usefixtures("mock_setup_entry")
async def test_reauth_entry_not_loaded(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder
) -> None:
    """After a failed setup the port is closed: the login goes through a temporary bus."""
    entry = make_config_entry(meters=[(V3_ADDRESS, MeterVersion.V3, NEW_PASSWORD)])
    entry.add_to_hass(hass)
    subentry = subentry_by_address(entry, V3_ADDRESS)
    result = check_config(
        await entry.start_reauth_flow(hass, data={"subentry_id": subentry.subentry_id})
    )
    result = await submit(hass, result["flow_id"], {CONF_PASSWORD: PASSWORD})
    assert result["reason"] == "reauth_successful"
    assert subentry.data[CONF_PASSWORD] == PASSWORD


@pytest.mark.parametrize("data", [{"subentry_id": "gone"}, {}], ids=["deleted", "no_meter"])
async def test_reauth_for_unknown_meter(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder, data: dict[str, str]
) -> None:
    entry = make_config_entry()
    entry.add_to_hass(hass)
    result = check_config(await entry.start_reauth_flow(hass, data=data))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "meter_not_configured"


# Options -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("mock_setup_entry")
async def test_options_flow(hass: HomeAssistant, make_config_entry: ConfigEntryBuilder) -> None:
    entry = make_config_entry(scan_interval=15)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["type"] is FlowResultType.FORM
    assert suggested(result, CONF_SCAN_INTERVAL) == 15
    assert suggested(result, CONF_SETTINGS_INTERVAL) == 300

    result = check_options(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_SCAN_INTERVAL: 30.0, CONF_SETTINGS_INTERVAL: 900.0}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_INTERVAL: 30, CONF_SETTINGS_INTERVAL: 900}
    assert all(type(value) is int for value in entry.options.values())


async def test_user_flow_same_bridge_by_another_url(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder, ekm_url: str
) -> None:
    """Issue 11: one bridge by two URLs would be two buses interleaving frames on one wire."""
    make_config_entry(meters=[]).add_to_hass(hass)
    port = ekm_url.rsplit(":", 1)[1]
    result = await start_user_flow(hass)
    result = await submit(
        hass,
        result["flow_id"],
        {CONF_PORT: f"socket://[::ffff:127.0.0.1]:{port}", "meters": "300001001"},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_PORT: "bus_already_configured"}
