"""A relay command answered with an error is confirmed by the next reading before it fails.

The public client found that the documented `getdata&pout=` call can answer with an error
although the relay switched (krasnoukhov/homeassistant-smart-maic#27, vendor-evidence.md S7).
The simulator's `pout_error` answers so after carrying the command out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from custom_components.meterlink.meters.errors import MeterCommandError
from custom_components.meterlink.meters.smartmac.client import SmartMacClient
from custom_components.meterlink.meters.smartmac.models import (
    RelayPolarity,
    SmartMacModel,
    relay_on,
)
from simulator.smartmac import SimSmartMac, SmartMacSimulator

from .test_client import FakeClock

PIN = "937451"
DEVID = "1728053249"


@pytest.fixture(autouse=True)
def _loopback_allowed(socket_enabled: None) -> None:
    """The simulator listens on 127.0.0.1."""


@pytest.fixture
async def world() -> AsyncIterator[tuple[SmartMacSimulator, SmartMacClient]]:
    clock = FakeClock()
    device = SimSmartMac(DEVID, SmartMacModel.D103, extended=True, pin=PIN, pout_on="0")
    simulator = SmartMacSimulator([device], clock=clock)
    await simulator.start()
    async with aiohttp.ClientSession() as session:
        client = SmartMacClient(
            session, simulator.host_for(DEVID), DEVID, PIN, clock=clock, sleep=clock.sleep
        )
        yield simulator, client
    await simulator.stop()


@pytest.mark.parametrize("status", [500, 400, 404])
async def test_an_error_answer_is_success_when_the_next_reading_shows_the_switch(
    world: tuple[SmartMacSimulator, SmartMacClient], status: int
) -> None:
    simulator, client = world
    device = simulator.devices[DEVID]
    device.pout_error = status
    reading = await client.set_relay(True, RelayPolarity.VENDOR_DOC)
    assert device.relay_on is True
    assert relay_on(reading, RelayPolarity.VENDOR_DOC) is True
    assert [r.pout for r in device.requests] == ["0", None]  # command, then the confirmation


async def test_an_error_answer_is_a_failure_when_the_next_reading_shows_no_switch(
    world: tuple[SmartMacSimulator, SmartMacClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator, client = world
    device = simulator.devices[DEVID]
    device.pout_error = 500
    # A device that answers the error and does not switch either.
    monkeypatch.setattr(SimSmartMac, "pout", property(lambda _self: "1"))
    with pytest.raises(MeterCommandError, match="unchanged"):
        await client.set_relay(True, RelayPolarity.VENDOR_DOC)
    assert [r.pout for r in device.requests] == ["0", None]
