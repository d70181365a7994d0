"""A fresh demo has nothing to repair (issue 13 item 5: the demo's own YAML raised one)."""

from __future__ import annotations

from .ui import Ui


def test_no_repairs_on_a_fresh_demo(ui: Ui) -> None:
    issues = ui.instance.websocket({"type": "repairs/list_issues"})["issues"]
    active = [f"{i['domain']}.{i['issue_id']}" for i in issues if not i["ignored"]]
    assert active == []
    ui.goto("/config/repairs")
    ui.wait_for_text("There are currently no repairs pending")
    # (The sidebar's Settings badge also counts updates: the eGauge simulator offers one.)
    ui.shot("repairs")
