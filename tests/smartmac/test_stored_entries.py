"""smart-MAC entries written before the restructure load unchanged (see `stored_entries`)."""

from __future__ import annotations

import pytest
from homeassistant.core import HomeAssistant

from simulator.smartmac import SmartMacSimulator

from ..stored_entries import run_stored
from .conftest import SMARTMAC_MODELS, SmartMacEntryBuilder


@pytest.mark.parametrize("devid", list(SMARTMAC_MODELS))
async def test_smartmac(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    make_smartmac_entry: SmartMacEntryBuilder,
    devid: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A smart-MAC device of every model."""
    places = {"{SMARTMAC_HOST}": smartmac_sim.host_for(devid)}
    await run_stored(hass, f"smartmac_{devid}", make_smartmac_entry(devid), places, caplog)
