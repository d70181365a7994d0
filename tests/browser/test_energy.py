"""The Energy dashboard's grid picker offers each meter's import and export statistics."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .ui import Ui


def test_grid_picker_offers_import_and_export(ui: Ui) -> None:
    ui.goto("/config/energy/electricity")
    ui.page.get_by_role("button", name="Add grid connection").click()
    expect(ui.page.get_by_text("Configure grid connection")).to_be_visible()
    ui.page.locator("ha-statistic-picker ha-picker-field").first.click()
    search = ui.page.get_by_placeholder("Search").last
    for device in (
        "Omnimeter Pulse v.4 300001001",  # RS-485
        "Omnimeter Pulse v.4 300002001",  # Push3
        "smart-MAC D103 1728053249",
    ):
        search.fill(device)
        for statistic in ("Energy import", "Energy export"):
            ui.wait_for_text(rf"{statistic} {re.escape(device)}")
        ui.shot(f"grid picker {device}")
