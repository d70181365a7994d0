"""Fixtures of the eGauge tests: the simulated meter (HTTP and HTTPS) on a clock the test moves.

The meter's clock drives its counters and history; a tick moves it and fires Home Assistant's
timers by the same amount, so a poll every 30 s over hours of sign changes runs in seconds.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.meterlink.const import CONF_CONNECTION, CONNECTION_EGAUGE, DOMAIN
from custom_components.meterlink.egauge.const import CONF_SERIAL, CONF_SSL, CONF_VERIFY_SSL
from simulator.egauge import EgaugeSimulator, SimEgauge

OWNER, OWNER_PASSWORD = "owner", "owner-secret"
VIEWER, VIEWER_PASSWORD = "viewer", "viewer-secret"
SERIAL, HOSTNAME = "G10400", "eGauge42"


class MeterClock:
    """The simulated meter's Unix time; only ticks move it."""

    def __init__(self) -> None:
        self.now = float(int(time.time())) + 0.4

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def meter_clock() -> MeterClock:
    return MeterClock()


@pytest.fixture
def meter(meter_clock: MeterClock) -> SimEgauge:
    return SimEgauge(clock=meter_clock, reboot_seconds=60.0)


@pytest.fixture
async def egauge_sim(meter: SimEgauge) -> AsyncIterator[EgaugeSimulator]:
    simulator = EgaugeSimulator(meter)
    await simulator.start(https=("127.0.0.1", 0))
    yield simulator
    await simulator.stop()


def entry_data(
    sim: EgaugeSimulator, *, https: bool = True, user: str = OWNER, password: str = OWNER_PASSWORD
) -> dict[str, Any]:
    """What the config flow stores for the simulated meter."""
    return {
        CONF_CONNECTION: CONNECTION_EGAUGE,
        CONF_HOST: sim.https_host if https else sim.host,
        CONF_USERNAME: user,
        CONF_PASSWORD: password,
        CONF_SSL: https,
        CONF_VERIFY_SSL: False,
        CONF_SERIAL: SERIAL,
    }


type EntryBuilder = Callable[..., MockConfigEntry]


@pytest.fixture
def make_egauge_entry(egauge_sim: EgaugeSimulator) -> EntryBuilder:
    """An entry as the flow creates it (options: the flow's defaults for the simulated meter)."""

    def build(
        *, https: bool = True, options: dict[str, Any] | None = None, **data: Any
    ) -> MockConfigEntry:
        defaults = {
            "scan_interval": 30,
            "registers": [],
            "net_registers": ["Grid", "use"],
            "flipped_registers": ["HVAC"],
        }
        return MockConfigEntry(
            domain=DOMAIN,
            title=HOSTNAME,
            unique_id=SERIAL,
            data=entry_data(egauge_sim, https=https, **data),
            options={**defaults, **(options or {})},
        )

    return build


async def tick(hass: HomeAssistant, clock: MeterClock, seconds: float) -> None:
    """Let `seconds` pass for the meter and for Home Assistant's timers."""
    clock.now += seconds
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done(wait_background_tasks=True)
