"""Each connection type's options dialog opens from its entry and saves."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .ui import Ui, label


def open_options(ui: Ui, title: str) -> None:
    ui.goto("/config/integrations/integration/meterlink")
    row = ui.page.locator("ha-config-entry-row").filter(has_text=title).first
    row.get_by_role("button", name="Configure").first.click()
    expect(ui.dialog.get_by_role("button", name="Submit")).to_be_visible()


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("EKM RS-485 bus", id="rs485"),
        pytest.param("Push3 gateway", id="push3"),
        pytest.param("smart-MAC D103", id="smartmac"),
    ],
)
def test_options_open_and_save(ui: Ui, title: str) -> None:
    open_options(ui, title)
    interval = ui.dialog.get_by_role("spinbutton", name=label("Reading interval"))
    interval.fill("120")
    ui.shot("options")
    ui.submit()
    expect(ui.dialog.get_by_text("Options successfully saved.")).to_be_visible()
    ui.shot("saved")
    ui.dialog.get_by_role("button", name="Finish").click()
    open_options(ui, title)
    expect(interval).to_have_value("120")
    ui.shot("reopened")
