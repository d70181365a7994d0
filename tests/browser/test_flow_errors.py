"""Wrong input shows that connection type's own error text, and the form keeps what was typed.

Issue 13: #1 (each type's own cannot-connect / refused wording naming what the user typed),
#2 (each type's own "already configured"), #4 (a typed bridge URL is no "Unknown item"),
#6 (a duplicate is a field error that keeps the form), #7 (secrets survive an error).
A strict xfail marks an item still open: it fails on its assertion today.
"""

from __future__ import annotations

import re

from .instance import PASSWORD, SMARTMAC_PIN
from .ui import Ui

CLOSED = "127.0.0.1:9"  # the discard port: nothing listens on loopback
RS485_WORDING = re.compile(r"adapter|serial|port cannot be opened|\bbus\b", re.IGNORECASE)


def rs485_form(ui: Ui, port: str, meters: str, password: str = PASSWORD) -> None:
    ui.start_flow()
    ui.choose("EKM Omnimeters on an RS-485 bus")
    ui.type_bridge_url(port)
    ui.fill("Meter addresses", meters)
    ui.fill("Meter password (optional)", password)
    ui.submit()


def push3_form(ui: Ui, host: str, key: str) -> None:
    ui.start_flow()
    ui.choose("EKM Push3 gateway on the local network")
    ui.fill("Host", host)
    ui.fill("Gateway key", key)
    ui.submit()


def smartmac_form(ui: Ui, host: str, device_id: str, pin: str) -> None:
    ui.start_flow()
    ui.choose("smart-MAC / smart-MAIC Wi-Fi meter")
    ui.fill("Host", host)
    ui.fill("Device ID", device_id)
    ui.fill("PIN", pin)
    ui.submit()


# --- RS-485 -----------------------------------------------------------------------------------


def test_rs485_closed_port_names_the_port(ui: Ui) -> None:
    rs485_form(ui, f"socket://{CLOSED}", "000300009999")
    text = ui.error_text()
    ui.shot("bad port")
    assert f"socket://{CLOSED}" in text


def test_rs485_typed_url_is_not_an_unknown_item(ui: Ui) -> None:
    rs485_form(ui, f"socket://{CLOSED}", "000300009999")
    ui.error_text()
    ui.shot("bad port")
    assert "Unknown item" not in ui.text(ui.dialog)
    assert ui.field_value("Network bridge URL") == f"socket://{CLOSED}"


def test_rs485_password_survives_an_error(ui: Ui) -> None:
    rs485_form(ui, f"socket://{CLOSED}", "000300009999", PASSWORD)
    ui.error_text()
    ui.shot("bad port")
    assert ui.field_value("Meter password (optional)") == PASSWORD


def test_rs485_known_meter_is_a_field_error(ui: Ui) -> None:
    known = ui.instance.simulators.demo.rs485_meters[0]
    rs485_form(ui, f"socket://{CLOSED}", known)
    text = ui.outcome()
    ui.shot("known meter")
    assert ui.form_is_open()
    assert known.removeprefix("000") in text
    assert "already configured" in text


def test_rs485_known_bus_says_bus(ui: Ui) -> None:
    demo = ui.instance.simulators.demo
    rs485_form(ui, demo.rs485_url, ", ".join(demo.rs485_meters))
    text = ui.outcome()
    ui.shot("known bus")
    assert ui.form_is_open()
    assert f"This bus ({demo.rs485_url}) is already configured" in text


# --- Push3 ------------------------------------------------------------------------------------


def test_push3_unreachable_host_says_push3(ui: Ui) -> None:
    push3_form(ui, CLOSED, "not-the-key")
    text = ui.error_text()
    ui.shot("unreachable host")
    assert CLOSED in text
    assert not RS485_WORDING.search(text), text


def test_push3_wrong_key_names_the_gateway(ui: Ui) -> None:
    host = ui.instance.simulators.demo.push3_host
    push3_form(ui, host, "bm90LXRoZS1rZXk=")
    text = ui.error_text()
    ui.shot("wrong key")
    assert host in text
    assert "gateway key" in text


def test_push3_key_survives_an_error(ui: Ui) -> None:
    push3_form(ui, CLOSED, "bm90LXRoZS1rZXk=")
    ui.error_text()
    assert ui.field_value("Gateway key") == "bm90LXRoZS1rZXk="


def test_push3_known_gateway_says_gateway(ui: Ui) -> None:
    demo = ui.instance.simulators.demo
    push3_form(ui, demo.push3_host, demo.push3_gateway_key)
    text = ui.outcome()
    ui.shot("known gateway")
    assert "This Push3 gateway is already configured" in text
    assert not RS485_WORDING.search(text), text


# --- EKM Push cloud (the simulator, through METERLINK_DEV_PUSH_URL) --------------------------


def cloud_form(ui: Ui, key: str, token: str = "") -> None:
    ui.start_flow()
    ui.choose("EKM Push cloud")
    ui.fill("EKM Push key", key)
    if token:
        ui.fill("API token (optional)", token)
    ui.submit()


def test_cloud_wrong_key_says_ekm_push(ui: Ui) -> None:
    cloud_form(ui, "bm90LXRoZS1rZXk=")
    text = ui.error_text()
    ui.shot("wrong key")
    assert "EKM Push refused this key" in text
    assert not RS485_WORDING.search(text), text
    assert ui.field_value("EKM Push key") == "bm90LXRoZS1rZXk="


def test_cloud_known_account_says_account(ui: Ui) -> None:
    demo = ui.instance.simulators.demo
    cloud_form(ui, demo.push_cloud_key, demo.push_api_token)
    text = ui.outcome()
    ui.shot("known account")
    assert "This EKM Push account is already configured" in text


# --- smart-MAC --------------------------------------------------------------------------------


def test_smartmac_unreachable_host_names_the_host(ui: Ui) -> None:
    device_id = ui.instance.simulators.unconfigured_smartmac_device_id
    smartmac_form(ui, CLOSED, device_id, SMARTMAC_PIN)
    text = ui.error_text()
    ui.shot("unreachable host")
    assert CLOSED in text
    assert not RS485_WORDING.search(text), text


def test_smartmac_wrong_pin_names_the_device(ui: Ui) -> None:
    sims = ui.instance.simulators
    smartmac_form(ui, sims.demo.smartmac_host, sims.unconfigured_smartmac_device_id, "999999")
    text = ui.error_text()
    ui.shot("wrong PIN")
    assert sims.unconfigured_smartmac_device_id in text
    assert "PIN" in text


def test_smartmac_pin_survives_an_error(ui: Ui) -> None:
    device_id = ui.instance.simulators.unconfigured_smartmac_device_id
    smartmac_form(ui, CLOSED, device_id, SMARTMAC_PIN)
    ui.error_text()
    assert ui.field_value("PIN") == SMARTMAC_PIN


def test_smartmac_known_device_is_a_field_error(ui: Ui) -> None:
    demo = ui.instance.simulators.demo
    smartmac_form(ui, demo.smartmac_host, demo.smartmac_device_id, "999999")
    text = ui.outcome()
    ui.shot("known device, wrong PIN")
    assert ui.form_is_open()
    assert "smart-MAC meter is already configured" in text


def test_smartmac_known_device_says_smartmac(ui: Ui) -> None:
    demo = ui.instance.simulators.demo
    smartmac_form(ui, demo.smartmac_host, demo.smartmac_device_id, demo.smartmac_pin)
    text = ui.outcome()
    ui.shot("known device")
    assert "This smart-MAC meter is already configured" in text
