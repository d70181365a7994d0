"""EKM Push and Push3 entries written before the restructure load unchanged (`stored_entries`)."""

from __future__ import annotations

import pytest
from homeassistant.core import HomeAssistant

from simulator.ekm.push3 import Push3Simulator

from ..stored_entries import run_stored
from .cloud_sim import CloudSim
from .conftest import CloudEntryBuilder, push3_entry


async def test_ekm_push_cloud(
    hass: HomeAssistant,
    cloud_sim: CloudSim,
    make_cloud_entry: CloudEntryBuilder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An EKM Push cloud entry with a write token: meters, ioStack, gateway, relays, triggers."""
    await run_stored(hass, "ekm_push", make_cloud_entry(), {}, caplog)


async def test_push3(
    hass: HomeAssistant, push3_simulator: Push3Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A Push3 gateway entry on its local API."""
    places = {"{PUSH3_HOST}": push3_simulator.host}
    await run_stored(hass, "ekm_push3", push3_entry(push3_simulator), places, caplog)
