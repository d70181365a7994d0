"""The device page of each family shows its entities with values and units."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .ui import Ui

# A reading as the device page shows it: a number (grouped with commas) and its unit.
READING = r"-?[\d,]+(?:\.\d+)?\s*{unit}"


def open_device(ui: Ui, name: str) -> str:
    """Open a MeterLink device's page by its name; returns what the page says."""
    device = next(
        (d for d in ui.devices() if (d["name_by_user"] or d["name"]) == name),
        None,
    )
    assert device is not None, f"no device {name!r}: {[d['name'] for d in ui.devices()]}"
    ui.goto(f"/config/devices/device/{device['id']}")
    expect(ui.page.get_by_text("Device info")).to_be_visible()
    expect(ui.page.get_by_text(name).first).to_be_visible()
    return name


@pytest.mark.parametrize(
    ("device", "readings"),
    [
        pytest.param(
            "Omnimeter Pulse v.4 300001001",
            {"Energy import": "kWh", "Power": "W", "Line 1 voltage": "V", "Frequency": "Hz"},
            id="rs485-v4-meter",
        ),
        pytest.param(
            "Omnimeter I v.3 000011766",
            {"Energy import": "kWh", "Power": "W"},
            id="rs485-v3-meter",
        ),
        pytest.param(
            "smart-MAC D103 1728053249",
            {"Energy import": "kWh", "Power": "W"},
            id="smartmac",
        ),
        pytest.param(
            "Omnimeter Pulse v.4 300002001",
            {"Energy import": "kWh", "Power": "W"},
            id="push3-meter",
        ),
        pytest.param(
            "Omnimeter Pulse v.4 300005001",
            {"Energy import": "kWh", "Power": "W"},
            id="cloud-meter",
        ),
    ],
)
def test_device_page_shows_readings(ui: Ui, device: str, readings: dict[str, str]) -> None:
    open_device(ui, device)
    # Each entity row is its name and its state with the unit; the states arrive over the
    # websocket after the page is drawn, so wait for the text rather than look once.
    for name, unit in readings.items():
        ui.wait_for_text(rf"Sensors .*{re.escape(name)} {READING.format(unit=re.escape(unit))}")
    ui.shot(f"device page {device}")


RAW_FIELD_NAME = re.compile(r"\b[A-Z][A-Za-z0-9]*_[A-Za-z0-9_]+\b")


def show_disabled_entities(ui: Ui) -> None:
    """Expand every "+N disabled entities" list of the device page."""
    more = ui.page.get_by_text("disabled entit")
    expect(more.first).to_be_visible()
    for _ in range(more.count()):
        more.first.click()
    expect(ui.page.get_by_text("Show less").first).to_be_visible()


def test_pulse_inputs_read_naturally(ui: Ui) -> None:
    open_device(ui, "Omnimeter Pulse v.4 300001001")
    ui.wait_for_text(r"Pulse input 1 \S+")
    ui.shot("pulse inputs")
    text = ui.flat_text()
    assert not re.search(r"Pulse input \d (High|Low)\b", text)
    assert re.search(r"Pulse input 1 (Closed|Open)\b", text)


def test_device_info_is_humanised(ui: Ui) -> None:
    open_device(ui, "Omnimeter Pulse v.4 300001001")
    ui.wait_for_text(r"Firmware: \S+")
    ui.shot("device info")
    text = ui.flat_text()
    assert not re.search(r"Omnimeter Pulse v\.4 \(\d+\)", text)
    assert not re.search(r"Firmware: [0-9a-f]{2}\b", text)


def test_iostack_entity_names_are_humanised(ui: Ui) -> None:
    open_device(ui, "ioStack 000900001")
    ui.wait_for_text("Sensors")
    show_disabled_entities(ui)
    ui.wait_for_text("Reliability ratio")
    ui.shot("ioStack with disabled entities")
    assert RAW_FIELD_NAME.findall(ui.flat_text()) == []


def test_push3_gateway_shows_connectivity_and_last_poll(ui: Ui) -> None:
    gateway = next(d["name"] for d in ui.devices("Push3 gateway") if d["via_device_id"] is None)
    open_device(ui, gateway)
    ui.wait_for_text("Connected devices")
    ui.shot("gateway")
    text = ui.flat_text()
    assert "This device has no entities" not in text
    ui.wait_for_text(r"Connected Connected")  # the entity "Connected" and its state
    ui.wait_for_text(r"Last poll \S+")
