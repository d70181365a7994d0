"""An RS-485 bus entry written before the restructure loads unchanged (see `stored_entries`)."""

from __future__ import annotations

import pytest
from homeassistant.core import HomeAssistant

from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import ConfigEntryBuilder
from ..stored_entries import run_stored


async def test_rs485_bus(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    make_config_entry: ConfigEntryBuilder,
    ekm_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An RS-485 bus with three meter subentries (two v4, one v3)."""
    await run_stored(hass, "ekm_rs485", make_config_entry(), {"{EKM_URL}": ekm_url}, caplog)
