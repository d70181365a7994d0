"""Fixtures of the smart-MAC tests: the simulated devices on a fake clock, and their entries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from homeassistant.const import CONF_DEVICE_ID, CONF_HOST, CONF_PIN
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.meterlink.const import (
    CONF_CONNECTION,
    CONF_MODEL,
    CONNECTION_SMARTMAC,
    DOMAIN,
)
from custom_components.meterlink.meters.smartmac import SmartMacModel
from custom_components.meterlink.smartmac import link as smartmac_link
from custom_components.meterlink.smartmac.options import CONF_EXTENDED, default_options
from simulator.smartmac import SimSmartMac, SmartMacSimulator

# smart-MAC ------------------------------------------------------------------------------------
#
# The simulated devices and the integration's clients share one fake monotonic clock: the
# client's request budget sleeps by moving it and the simulator's rate limit reads it, so a
# minute-long budget is exercised in milliseconds and checked from the device's side too.

SMARTMAC_PIN = "937451"
SMARTMAC_D103X = "1728053249"  # D103 extended
SMARTMAC_D103 = "1728053250"  # D103 standard
SMARTMAC_D101 = "1728053251"
SMARTMAC_D105 = "1728053252"
SMARTMAC_MODELS: dict[str, tuple[SmartMacModel, bool]] = {
    SMARTMAC_D103X: (SmartMacModel.D103, True),
    SMARTMAC_D103: (SmartMacModel.D103, False),
    SMARTMAC_D101: (SmartMacModel.D101, False),
    SMARTMAC_D105: (SmartMacModel.D105, False),
}


class SmartMacClock:
    """Monotonic seconds that only move when the budget sleeps or a test advances them."""

    def __init__(self) -> None:
        self.now = 10_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Yield first, so a call made meanwhile sees the wait still ahead (as in real time).
        self.sleeps.append(seconds)
        await asyncio.sleep(0)
        self.now += seconds


def make_smartmac_devices() -> list[SimSmartMac]:
    """One device of every model, each on its own port (so each can go offline alone)."""
    return [
        SimSmartMac(devid, model, extended, SMARTMAC_PIN, own_port=True)
        for devid, (model, extended) in SMARTMAC_MODELS.items()
    ]


@pytest.fixture
def smartmac_clock(monkeypatch: pytest.MonkeyPatch) -> SmartMacClock:
    """The fake clock, given to every smart-MAC client the integration creates."""
    clock = SmartMacClock()
    monkeypatch.setattr(
        smartmac_link, "TIMING", smartmac_link.ClientTiming(clock, clock.sleep, 0.5)
    )
    return clock


@pytest.fixture
async def smartmac_sim(smartmac_clock: SmartMacClock) -> AsyncIterator[SmartMacSimulator]:
    """The four simulated devices on loopback, on the fake clock."""
    simulator = SmartMacSimulator(make_smartmac_devices(), clock=smartmac_clock)
    await simulator.start()
    yield simulator
    await simulator.stop()


type SmartMacEntryBuilder = Callable[..., MockConfigEntry]


@pytest.fixture
def make_smartmac_entry(smartmac_sim: SmartMacSimulator) -> SmartMacEntryBuilder:
    """Build a smart-MAC entry as the config flow creates it, for one simulated device."""

    def build(devid: str = SMARTMAC_D103X, **options: Any) -> MockConfigEntry:
        model, extended = SMARTMAC_MODELS[devid]
        return MockConfigEntry(
            domain=DOMAIN,
            title=f"smart-MAC {model.value} {devid}",
            unique_id=devid,
            data={
                CONF_CONNECTION: CONNECTION_SMARTMAC,
                CONF_HOST: smartmac_sim.host_for(devid),
                CONF_DEVICE_ID: devid,
                CONF_PIN: SMARTMAC_PIN,
                CONF_MODEL: model.value,
                CONF_EXTENDED: extended,
            },
            options={**default_options(model, extended), **options},
        )

    return build


async def smartmac_tick(hass: HomeAssistant, clock: SmartMacClock, seconds: float) -> None:
    """Let `seconds` pass for the devices and the budget, and fire what HA scheduled by then."""
    clock.now += seconds
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done(wait_background_tasks=True)
