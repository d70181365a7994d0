"""Diagnostics: everything a bug report needs, never a meter password."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from simulator.ekm.rs485 import EkmBusSimulator

from .conftest import PASSWORD, V3_ADDRESS, V4_ADDRESS, V4_OTHER, served_truth


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    ekm_simulator: EkmBusSimulator,
    init_integration: MockConfigEntry,
) -> None:
    ekm_simulator.meters[V4_ADDRESS].password = "87654321"  # a meter password must never leak
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    text = json.dumps(diagnostics)
    assert PASSWORD not in text
    assert "87654321" not in text

    subentries = {item["unique_id"]: item for item in diagnostics["entry"]["subentries"]}
    assert subentries[V4_ADDRESS]["data"]["password"] == "**REDACTED**"
    assert "password" not in subentries[V4_OTHER]["data"]
    assert subentries[V3_ADDRESS]["data"]["version"] == "v3"

    readings = diagnostics["readings"]
    assert set(readings) == {V4_ADDRESS, V4_OTHER, V3_ADDRESS}
    truth = served_truth(ekm_simulator, V4_ADDRESS)
    assert readings[V4_ADDRESS]["fields"]["kWh_Tot"] == truth.fields["kWh_Tot"]
    assert diagnostics["meters"][V4_ADDRESS]["available"] is True
    assert diagnostics["meters"][V4_ADDRESS]["held_registers"] == []
    stats = diagnostics["bus"]["stats"]
    assert stats["requests"] >= 5
    assert stats["crc_errors"] == 0
    assert diagnostics["bus"]["url"].startswith("socket://127.0.0.1:")
    assert diagnostics["last_update_success"] is True
