"""Each action's device picker offers exactly the devices the action accepts (issue 13 item 3)."""

from __future__ import annotations

from .ui import Ui


def offered(ui: Ui, choices: list[str]) -> set[str]:
    """The registry names of the picker's items (an item adds its parent device's name)."""
    names = sorted((d["name"] for d in ui.devices()), key=len, reverse=True)
    return {next((n for n in names if choice.startswith(n)), choice) for choice in choices}


def rs485_meters(ui: Ui, version: str = "") -> set[str]:
    """Names of the meters on RS-485 buses (the only ones these actions talk to today)."""
    return {
        device["name"]
        for device in ui.devices("EKM RS-485 bus")
        if device["via_device_id"] is None and version in device["name"]
    }


def test_set_relay_offers_rs485_v4_meters_only(ui: Ui) -> None:
    ui.pick_action("meterlink.set_relay")
    choices = ui.device_choices()
    ui.shot("set_relay device picker")
    assert offered(ui, choices) == rs485_meters(ui, "v.4")


def test_read_meter_offers_rs485_meters_only(ui: Ui) -> None:
    ui.pick_action("meterlink.read_meter")
    choices = ui.device_choices()
    ui.shot("read_meter device picker")
    assert offered(ui, choices) == rs485_meters(ui)


def test_set_meter_clock_offers_rs485_meters_only(ui: Ui) -> None:
    ui.pick_action("meterlink.set_meter_clock")
    choices = ui.device_choices()
    ui.shot("set_meter_clock device picker")
    assert offered(ui, choices) == rs485_meters(ui)
