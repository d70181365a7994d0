"""Adding each connection type through the add-integration dialog ends with an entry and devices.

The demo's entries already exist (scripts/develop --demo adds them); these tests add the spare
simulated devices, which nothing has configured yet, exactly as a user would.
"""

from __future__ import annotations

from .instance import PASSWORD, SMARTMAC_PIN
from .ui import Ui


def added_entry(ui: Ui, title: str) -> dict[str, object]:
    """The entry the flow created, as the integration page lists it."""
    ui.goto("/config/integrations/integration/meterlink")
    ui.page.get_by_text(title).first.wait_for()
    ui.shot("integration page lists the entry")
    return next(entry for entry in ui.instance.meterlink_entries() if entry["title"] == title)


def test_rs485_bus_with_a_meter(ui: Ui) -> None:
    sims = ui.instance.simulators
    ui.start_flow()
    ui.shot("connection types")
    ui.choose("EKM Omnimeters on an RS-485 bus")
    ui.type_bridge_url(sims.spare_rs485_url)
    ui.fill("Meter addresses", ", ".join(sims.spare_rs485_meters))
    ui.fill("Meter password (optional)", PASSWORD)
    ui.shot("bus form filled in")
    ui.submit()
    ui.dialog.get_by_text("Meters found").wait_for()
    ui.shot("meters found")
    assert "Omnimeter Pulse v.4 300003001" in ui.text(ui.dialog)
    ui.submit()
    names = ui.expect_created()
    ui.shot("created")
    assert names == ["Omnimeter Pulse v.4 300003001"]
    ui.finish()
    entry = added_entry(ui, f"EKM RS-485 bus ({sims.spare_rs485_url})")
    assert entry["state"] == "loaded"


def test_smartmac_meter(ui: Ui) -> None:
    sims = ui.instance.simulators
    ui.start_flow()
    ui.choose("smart-MAC / smart-MAIC Wi-Fi meter")
    ui.fill("Host", sims.demo.smartmac_host)
    ui.fill("Device ID", sims.spare_smartmac_device_id)
    ui.fill("PIN", SMARTMAC_PIN)
    ui.shot("smart-MAC form filled in")
    ui.submit()
    names = ui.expect_created()
    ui.shot("created")
    assert names == [f"smart-MAC D101 {sims.spare_smartmac_device_id}"]
    ui.finish()
    entry = added_entry(ui, f"smart-MAC D101 {sims.spare_smartmac_device_id}")
    assert entry["state"] == "loaded"


def test_push3_gateway(ui: Ui) -> None:
    sims = ui.instance.simulators
    ui.start_flow()
    ui.choose("EKM Push3 gateway on the local network")
    ui.fill("Host", sims.spare_push3_host)
    ui.fill("Gateway key", sims.spare_push3_gateway_key)
    ui.shot("Push3 form filled in")
    ui.submit()
    names = ui.expect_created()
    ui.shot("created")
    assert any("300004001" in name for name in names), names
    ui.finish()
    entry = added_entry(ui, f"Push3 gateway ({sims.spare_push3_host})")
    assert entry["state"] == "loaded"
