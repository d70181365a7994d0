"""The eGauge command action, the buttons and the firmware update entity against the simulator."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr

from custom_components.meterlink.const import DOMAIN
from simulator.egauge import SimEgauge

from ..conftest import setup_entry
from .conftest import SERIAL, VIEWER, VIEWER_PASSWORD, EntryBuilder, MeterClock, tick


def _device_id(hass: HomeAssistant) -> str:
    devices = dr.async_get(hass).async_get_devices(identifiers={(DOMAIN, f"egauge_{SERIAL}")})
    assert len(devices) == 1
    return devices[0].id


async def _command(hass: HomeAssistant, operation: str, **data: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        "egauge_command",
        {"device_id": _device_id(hass), "operation": operation, **data},
        blocking=True,
        return_response=True,
    )


async def test_every_operation_returns_the_meters_answer(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge
) -> None:
    await setup_entry(hass, make_egauge_entry())
    meter.reboot_delay = 3600  # the simulated reboot never comes during this test
    target = "11:22:33:44:55:66/ABCD-EFGH-IJKL-MNOP"
    short = [
        ("reboot", {}),
        ("set-time", {"time": 1767225600}),
        ("set-time", {}),
        ("clear", {"what": "excess"}),
        ("db-zero", {"regs": [0]}),
        ("db-split", {}),
        ("db-restore", {"data": "YmFja3Vw"}),
        ("factory-restore", {}),
        ("wlan", {"action": "add", "ssid": "home", "key": "secret-key"}),
        ("homeplug", {"password": "HomePlugAV", "targets": [target]}),
    ]
    for operation, params in short:
        answer = await _command(hass, operation, params=params, confirm=True)
        assert answer == {"status": "OK"}, operation
    assert await _command(hass, "update-list") == {"version": "4.7", "minimum": "4.1.2"}
    for operation, params in (
        ("test-email", {"address": "me@example.com"}),
        ("test-remote", {"address": "modbus://x", "linktype": "modbus"}),
        ("activate", {"service": "push", "provider": "Cloudly"}),
    ):
        answer = await _command(hass, operation, params=params)
        assert answer["status"]["done"] is True, operation
        assert answer["result"], operation
    started = await _command(hass, "update-install", params={"version": "4.9"}, wait=False)
    answer = await _command(hass, "cancel", params={"token": started["token"]})
    assert answer == {"status": "OK"}
    names = [name for name, _ in meter.commands]
    assert {
        "reboot",
        "set-time",
        "clear",
        "db",
        "factory-restore",
        "wlan",
        "homeplug",
        "update",
        "test-email",
        "test-remote",
        "activate",
        "cancel",
    } <= set(names)


async def test_destructive_needs_confirm_and_bad_params_are_refused(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge
) -> None:
    await setup_entry(hass, make_egauge_entry())
    with pytest.raises(ServiceValidationError, match="confirm"):
        await _command(hass, "db-zero")
    with pytest.raises(ServiceValidationError):
        await _command(hass, "clear", params={"what": "everything"})
    with pytest.raises(HomeAssistantError, match="not newer"):
        await _command(hass, "update-install", params={"version": "4.0"})
    assert not any(name == "db" for name, _ in meter.commands)


async def test_viewer_gets_an_explanation(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge
) -> None:
    await setup_entry(hass, make_egauge_entry(user=VIEWER, password=VIEWER_PASSWORD))
    with pytest.raises(ServiceValidationError, match="save right"):
        await _command(hass, "reboot")
    assert meter.commands == []


async def test_resync_button(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge
) -> None:
    await setup_entry(hass, make_egauge_entry())
    meter.skew = 300
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.egauge42_resync_clock"}, blocking=True
    )
    assert meter.skew == 0


async def test_update_entity_installs_with_progress(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge, meter_clock: MeterClock
) -> None:
    await setup_entry(hass, make_egauge_entry())
    state = hass.states.get("update.egauge42_firmware")
    assert state.state == "on"
    assert (state.attributes["installed_version"], state.attributes["latest_version"]) == (
        "4.6.2",
        "4.7",
    )
    seen: list[Any] = []
    hass.bus.async_listen("state_changed", lambda event: seen.append(event.data["new_state"]))
    await hass.services.async_call(
        "update", "install", {"entity_id": "update.egauge42_firmware"}, blocking=True
    )
    assert meter.firmware == "4.7"
    progress = [
        s.attributes.get("update_percentage")
        for s in seen
        if s is not None
        and s.entity_id == "update.egauge42_firmware"
        and s.attributes.get("in_progress")
    ]
    assert any(p is not None and 0 < p < 100 for p in progress)
    state = hass.states.get("update.egauge42_firmware")
    assert state.attributes["installed_version"] == "4.7"
    assert state.state == "off"
    await tick(hass, meter_clock, 30)  # the meter reboots after installing: quietly
    await tick(hass, meter_clock, 90)
    assert hass.states.get("sensor.egauge42_grid").state != "unavailable"


async def test_unknown_device_and_unloaded_entry(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder
) -> None:
    entry = await setup_entry(hass, make_egauge_entry())
    device_id = _device_id(hass)
    with pytest.raises(ServiceValidationError, match="not an eGauge meter"):
        await hass.services.async_call(
            DOMAIN, "egauge_command", {"device_id": "nope", "operation": "reboot"}, blocking=True
        )
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError, match="not loaded"):
        await hass.services.async_call(
            DOMAIN, "egauge_command", {"device_id": device_id, "operation": "reboot"}, blocking=True
        )
