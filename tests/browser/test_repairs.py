"""A fresh demo has nothing to repair (issue 13 item 5: the demo's own YAML raised one)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .ui import Ui


def test_no_repairs_on_a_fresh_demo(ui: Ui) -> None:
    issues = ui.instance.websocket({"type": "repairs/list_issues"})["issues"]
    active = [f"{i['domain']}.{i['issue_id']}" for i in issues if not i["ignored"]]
    assert active == []
    ui.goto("/config/repairs")
    ui.wait_for_text("There are currently no repairs pending")
    # The sidebar counts open repairs next to Settings; a fresh demo shows no number there.
    expect(ui.page.get_by_role("link", name=re.compile("Settings"))).to_have_accessible_name(
        "Settings"
    )
    ui.shot("repairs")
