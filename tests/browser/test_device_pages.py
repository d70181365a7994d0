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
    ],
)
def test_device_page_shows_readings(ui: Ui, device: str, readings: dict[str, str]) -> None:
    open_device(ui, device)
    # Each entity row is its name and its state with the unit; the states arrive over the
    # websocket after the page is drawn, so wait for the text rather than look once.
    for name, unit in readings.items():
        ui.wait_for_text(rf"Sensors .*{re.escape(name)} {READING.format(unit=re.escape(unit))}")
    ui.shot(f"device page {device}")
