"""smart-MAC config, reauth, reconfigure and options flows against the simulated devices.

Everything goes through Home Assistant's flow managers and the real client over loopback HTTP;
the device's request budget runs on the shared fake clock, and the simulator's request log shows
what the device saw (how many requests, and whether any was refused for coming too soon).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_DEVICE_ID, CONF_HOST, CONF_PIN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import (
    CONF_CONNECTION,
    CONF_MODEL,
    CONF_SCAN_INTERVAL,
    CONNECTION_SMARTMAC,
    DOMAIN,
)
from custom_components.meterlink.meters.smartmac import SmartMacClient
from custom_components.meterlink.smartmac import link as smartmac_link
from custom_components.meterlink.smartmac.coordinator import SmartMacCoordinator
from custom_components.meterlink.smartmac.options import (
    CONF_EXTENDED,
    CONF_RELAY_POLARITY,
    PulseKind,
    conf_pulse_kind,
    conf_pulse_weight,
    default_options,
    min_scan_interval,
)
from simulator.smartmac import Offline, SimSmartMac, SmartMacSimulator, WrongPinAnswer

from ..conftest import setup_entry
from ..ekm.test_config_flow import check_config, check_options, suggested
from .conftest import (
    SMARTMAC_D101,
    SMARTMAC_D103,
    SMARTMAC_D103X,
    SMARTMAC_D105,
    SMARTMAC_MODELS,
    SMARTMAC_PIN,
    SmartMacClock,
    SmartMacEntryBuilder,
    smartmac_tick,
)

NEW_PIN = "246810"


def user_input(sim: SmartMacSimulator, devid: str, pin: str = SMARTMAC_PIN) -> dict[str, str]:
    return {CONF_HOST: sim.host_for(devid), CONF_DEVICE_ID: devid, CONF_PIN: pin}


async def start_flow(hass: HomeAssistant) -> Any:
    """Open the menu and pick the smart-MAC meter."""
    result = check_config(
        await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    )
    assert CONNECTION_SMARTMAC in result["menu_options"]
    result = check_config(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": CONNECTION_SMARTMAC}
        )
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "smartmac"
    return result


async def submit(hass: HomeAssistant, result: Any, data: dict[str, Any]) -> Any:
    return check_config(await hass.config_entries.flow.async_configure(result["flow_id"], data))


def served(sim: SmartMacSimulator, devid: str) -> list[str]:
    """The outcome of every request the device saw."""
    return [request.outcome for request in sim.devices[devid].requests]


async def knock(sim: SmartMacSimulator, devid: str) -> None:
    """Another program reads the device: its request uses the device's budget."""
    async with aiohttp.ClientSession() as session, session.get(sim.url_for(devid)) as response:
        assert response.status == 200


@pytest.fixture
async def unload_all(hass: HomeAssistant) -> AsyncIterator[None]:
    """Entries created by a flow are set up for real; unload them before the simulator stops."""
    yield
    await hass.async_block_till_done()
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state.recoverable:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


# Adding a device -----------------------------------------------------------------------------


@pytest.mark.usefixtures("unload_all")
@pytest.mark.parametrize("devid", list(SMARTMAC_MODELS))
async def test_every_model_is_added_with_one_request(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, devid: str
) -> None:
    model, extended = SMARTMAC_MODELS[devid]
    result = await submit(hass, await start_flow(hass), user_input(smartmac_sim, devid))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == devid
    assert entry.data == {
        CONF_CONNECTION: CONNECTION_SMARTMAC,
        CONF_HOST: smartmac_sim.host_for(devid),
        CONF_DEVICE_ID: devid,
        CONF_PIN: SMARTMAC_PIN,
        CONF_MODEL: model.value,
        CONF_EXTENDED: extended,
    }
    assert entry.options == default_options(model, extended)
    assert entry.options[CONF_SCAN_INTERVAL] >= smartmac_sim.devices[devid].interval
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # The entry started with the flow's reading: the device saw one request, not two.
    assert served(smartmac_sim, devid) == ["ok"]
    assert entry.supported_subentry_types == {}  # one device per entry, no meters to add


@pytest.mark.usefixtures("unload_all")
@pytest.mark.parametrize("shape", list(WrongPinAnswer))
async def test_a_wrong_pin_is_reported_and_can_be_corrected(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, shape: WrongPinAnswer
) -> None:
    smartmac_sim.devices[SMARTMAC_D103].wrong_pin_answer = shape
    result = await start_flow(hass)
    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D103, "000000"))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_PIN: "smartmac_invalid_auth"}
    # What was typed stays (the PIN too, masked by the browser) so one field is corrected.
    assert suggested(result, CONF_PIN) == "000000"
    assert suggested(result, CONF_DEVICE_ID) == SMARTMAC_D103
    assert result["description_placeholders"][CONF_DEVICE_ID] == SMARTMAC_D103

    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D103))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert served(smartmac_sim, SMARTMAC_D103) == ["wrong-pin", "ok"]


@pytest.mark.usefixtures("unload_all")
async def test_a_device_busy_with_another_client_is_waited_out_not_hammered(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, smartmac_clock: SmartMacClock
) -> None:
    await knock(smartmac_sim, SMARTMAC_D103)  # e.g. the vendor's app, 0 s ago
    result = await start_flow(hass)
    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D103))
    assert result["errors"] == {"base": "smartmac_rate_limited"}
    wait = int(result["description_placeholders"]["seconds"])
    assert wait == smartmac_sim.devices[SMARTMAC_D103].interval

    # Submitting again too soon is refused by the budget without asking the device.
    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D103))
    assert result["errors"] == {"base": "smartmac_rate_limited"}
    assert served(smartmac_sim, SMARTMAC_D103) == ["ok", "rate-limited"]

    smartmac_clock.now += wait
    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D103))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert served(smartmac_sim, SMARTMAC_D103) == ["ok", "rate-limited", "ok"]


@pytest.mark.usefixtures("unload_all")
@pytest.mark.parametrize("mode", list(Offline))
async def test_an_offline_device_can_be_added_once_back(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    mode: Offline,
) -> None:
    await smartmac_sim.set_offline(mode, SMARTMAC_D101)
    result = await start_flow(hass)
    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D101))
    assert result["errors"] == {CONF_HOST: "smartmac_cannot_connect"}

    # The failed attempt counts against the budget (the device may have seen it), so an
    # immediate retry is answered with the wait instead of a second request.
    await smartmac_sim.set_online(SMARTMAC_D101)
    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D101))
    assert result["errors"] == {"base": "smartmac_rate_limited"}
    smartmac_clock.now += int(result["description_placeholders"]["seconds"])
    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D101))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert served(smartmac_sim, SMARTMAC_D101) == ["ok"]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (CONF_HOST, "http://host/path", "smartmac_invalid_host"),
        (CONF_HOST, "   ", "smartmac_invalid_host"),
        (CONF_DEVICE_ID, "17 28", "smartmac_invalid_device_id"),
        (CONF_PIN, "12\n34", "smartmac_invalid_pin"),
    ],
)
async def test_input_that_cannot_be_sent_is_refused_before_any_request(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, field: str, value: str, error: str
) -> None:
    data = {**user_input(smartmac_sim, SMARTMAC_D105), field: value}
    result = await submit(hass, await start_flow(hass), data)
    assert result["errors"] == {field: error}
    assert served(smartmac_sim, SMARTMAC_D105) == []


async def test_another_device_answering_is_reported(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator
) -> None:
    smartmac_sim.devices[SMARTMAC_D105].devid = "1728059999"  # answers with its own ID
    result = await submit(hass, await start_flow(hass), user_input(smartmac_sim, SMARTMAC_D105))
    assert result["errors"] == {CONF_DEVICE_ID: "smartmac_wrong_device"}


@pytest.fixture
async def not_a_meter() -> AsyncIterator[str]:
    """A web server that answers every request with a page that is no reading."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body>router status</body></html>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"127.0.0.1:{site.port}"
    await runner.cleanup()


async def test_something_else_answering_is_reported(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, not_a_meter: str
) -> None:
    data = {**user_input(smartmac_sim, SMARTMAC_D105), CONF_HOST: not_a_meter}
    result = await submit(hass, await start_flow(hass), data)
    assert result["errors"] == {"base": "smartmac_invalid_response"}


async def test_an_unexpected_error_is_logged_and_shown(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(SmartMacClient, "read", broken)
    result = await submit(hass, await start_flow(hass), user_input(smartmac_sim, SMARTMAC_D105))
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error while reading the smart-MAC device" in caplog.text


async def test_a_configured_device_is_not_added_again_nor_read(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    make_smartmac_entry(SMARTMAC_D101).add_to_hass(hass)
    result = await submit(hass, await start_flow(hass), user_input(smartmac_sim, SMARTMAC_D101))
    # A field error, not an abort: the form stays to correct a mistyped Device ID.
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DEVICE_ID: "smartmac_already_configured"}
    assert served(smartmac_sim, SMARTMAC_D101) == []


async def test_the_device_id_the_device_reports_is_the_unique_id(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator
) -> None:
    # Typed without, reported with a leading zero: the same device, known by its own ID.
    smartmac_sim.devices[SMARTMAC_D105].devid = f"0{SMARTMAC_D105}"
    MockConfigEntry(domain=DOMAIN, unique_id=f"0{SMARTMAC_D105}", data={}).add_to_hass(hass)
    result = await submit(hass, await start_flow(hass), user_input(smartmac_sim, SMARTMAC_D105))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DEVICE_ID: "smartmac_already_configured"}
    assert result["description_placeholders"][CONF_DEVICE_ID] == f"0{SMARTMAC_D105}"


# Reauth: the PIN was changed on the device ---------------------------------------------------


@pytest.mark.parametrize("shape", list(WrongPinAnswer))
async def test_a_changed_pin_starts_reauth_and_the_new_pin_recovers(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
    shape: WrongPinAnswer,
) -> None:
    device = smartmac_sim.devices[SMARTMAC_D103X]
    device.wrong_pin_answer = shape
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103X))
    device.pin = NEW_PIN
    await smartmac_tick(hass, smartmac_clock, entry.options[CONF_SCAN_INTERVAL] + 1)

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
    result = check_config(result)
    assert result["step_id"] == "smartmac_reauth_confirm"
    assert result["description_placeholders"][CONF_DEVICE_ID] == SMARTMAC_D103X

    result = await submit(hass, result, {CONF_PIN: SMARTMAC_PIN})  # still the old one
    assert result["errors"] == {CONF_PIN: "smartmac_invalid_auth"}

    result = await submit(hass, result, {CONF_PIN: NEW_PIN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "smartmac_reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PIN] == NEW_PIN
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator.last_update_success
    assert "rate-limited" not in served(smartmac_sim, SMARTMAC_D103X)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_reports_an_unreachable_device_on_the_form(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    entry = make_smartmac_entry(SMARTMAC_D101)
    entry.add_to_hass(hass)
    await smartmac_sim.set_offline(Offline.REFUSE, SMARTMAC_D101)
    result = check_config(await entry.start_reauth_flow(hass))
    result = await submit(hass, result, {CONF_PIN: NEW_PIN})
    assert result["errors"] == {"base": "smartmac_cannot_connect"}


# Reconfigure: the device has a new IP address ------------------------------------------------


@pytest.fixture
async def moved_sim(smartmac_clock: SmartMacClock) -> AsyncIterator[SmartMacSimulator]:
    """The D103 standard device again, now at another address (port)."""
    model, extended = SMARTMAC_MODELS[SMARTMAC_D103]
    simulator = SmartMacSimulator(
        [SimSmartMac(SMARTMAC_D103, model, extended, SMARTMAC_PIN)], clock=smartmac_clock
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_reconfigure_follows_the_device_to_its_new_address(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    moved_sim: SmartMacSimulator,
    make_smartmac_entry: SmartMacEntryBuilder,
) -> None:
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103))
    result = check_config(await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "smartmac_reconfigure"
    assert suggested(result, CONF_HOST) == smartmac_sim.host_for(SMARTMAC_D103)
    assert suggested(result, CONF_PIN) is None

    new_host = moved_sim.host_for(SMARTMAC_D103)
    await moved_sim.set_offline(Offline.REFUSE)
    result = await submit(hass, result, {CONF_HOST: new_host, CONF_DEVICE_ID: SMARTMAC_D103})
    assert result["errors"] == {CONF_HOST: "smartmac_cannot_connect"}

    await moved_sim.set_online()
    smartmac_clock.now += moved_sim.devices[SMARTMAC_D103].interval
    result = await submit(hass, result, {CONF_HOST: new_host, CONF_DEVICE_ID: SMARTMAC_D103})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "smartmac_reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_HOST] == new_host
    assert entry.data[CONF_PIN] == SMARTMAC_PIN  # kept: the field was left empty
    assert entry.state is ConfigEntryState.LOADED
    # The reloaded entry started with the flow's reading: one request at the new address.
    assert served(moved_sim, SMARTMAC_D103) == ["ok"]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_to_the_same_address_reuses_the_recent_reading(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D101))
    result = check_config(await entry.start_reconfigure_flow(hass))
    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D101))
    assert result["reason"] == "smartmac_reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # Setup, check and reload: one request; a standard device would have refused a second.
    assert served(smartmac_sim, SMARTMAC_D101) == ["ok"]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_to_another_device_aborts(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    entry = make_smartmac_entry(SMARTMAC_D103)
    entry.add_to_hass(hass)
    result = check_config(await entry.start_reconfigure_flow(hass))
    result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D105))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "smartmac_another_device"
    assert entry.data[CONF_HOST] == smartmac_sim.host_for(SMARTMAC_D103)


# Options --------------------------------------------------------------------------------------


@pytest.mark.parametrize("devid", list(SMARTMAC_MODELS))
async def test_the_interval_cannot_go_below_what_the_model_allows(
    hass: HomeAssistant, make_smartmac_entry: SmartMacEntryBuilder, devid: str
) -> None:
    entry = make_smartmac_entry(devid)
    entry.add_to_hass(hass)
    minimum = min_scan_interval(SMARTMAC_MODELS[devid][1])
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["step_id"] == "smartmac"
    assert result["description_placeholders"] == {"minimum": str(minimum)}
    fields = {str(key) for key in result["data_schema"].schema}
    assert (conf_pulse_kind(1) in fields) is (devid == SMARTMAC_D105)

    too_fast = {CONF_SCAN_INTERVAL: minimum - 1, CONF_RELAY_POLARITY: "inverted"}
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(result["flow_id"], too_fast)


async def test_options_are_stored_clamped_and_applied(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    make_smartmac_entry: SmartMacEntryBuilder,
) -> None:
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D105))
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert suggested(result, conf_pulse_kind(2)) == PulseKind.PULSES
    result = check_options(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {
                CONF_SCAN_INTERVAL: 90.4,
                CONF_RELAY_POLARITY: "inverted",
                conf_pulse_kind(1): "energy",
                conf_pulse_weight(1): 0.001,
                conf_pulse_kind(2): "water_l",
                conf_pulse_weight(2): 10,
            },
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {
        CONF_SCAN_INTERVAL: 90,
        CONF_RELAY_POLARITY: "inverted",
        conf_pulse_kind(1): "energy",
        conf_pulse_weight(1): 0.001,
        conf_pulse_kind(2): "water_l",
        conf_pulse_weight(2): 10.0,
    }
    coordinator = entry.runtime_data.coordinator
    assert isinstance(coordinator, SmartMacCoordinator)
    assert coordinator.update_interval is not None
    assert coordinator.update_interval.total_seconds() == 90
    # The reload after the change reused the reading: no 429 from a standard device.
    assert served(smartmac_sim, SMARTMAC_D105) == ["ok"]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_options_without_pulse_channels(
    hass: HomeAssistant, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    entry = make_smartmac_entry(SMARTMAC_D101)
    entry.add_to_hass(hass)
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 300, CONF_RELAY_POLARITY: "vendor"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_INTERVAL: 300, CONF_RELAY_POLARITY: "vendor"}


async def test_a_stored_interval_the_device_cannot_serve_is_not_used(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    # Stored as extended, but the device turns out to be a standard one.
    entry = make_smartmac_entry(SMARTMAC_D103, **{CONF_SCAN_INTERVAL: 6})
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=entry.unique_id,
        data={**entry.data, CONF_EXTENDED: True},
        options=dict(entry.options),
    )
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data.coordinator
    assert coordinator.update_interval is not None
    assert (
        coordinator.update_interval.total_seconds() == smartmac_sim.devices[SMARTMAC_D103].interval
    )
    await hass.config_entries.async_unload(entry.entry_id)


def test_translations_cover_the_selector_options() -> None:
    from ..ekm.test_config_flow import TRANSLATIONS

    selectors = TRANSLATIONS["selector"]
    assert set(selectors["smartmac_pulse_kind"]["options"]) == {kind.value for kind in PulseKind}
    assert set(selectors["smartmac_relay_polarity"]["options"]) == {"vendor", "inverted"}


async def test_links_of_typos_and_old_pins_do_not_pile_up(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, smartmac_clock: SmartMacClock
) -> None:
    result = await start_flow(hass)
    for attempt in range(5):
        wrong = f"00000{attempt}"
        result = await submit(hass, result, user_input(smartmac_sim, SMARTMAC_D103X, wrong))
        assert result["errors"] == {CONF_PIN: "smartmac_invalid_auth"}
        smartmac_clock.now += 60  # every budget has run out
    # Only the newest attempt's link is still shared; the others were dropped as idle.
    assert len(hass.data[smartmac_link._LINKS]) == 1
    assert served(smartmac_sim, SMARTMAC_D103X) == ["wrong-pin"] * 5
