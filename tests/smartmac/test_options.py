"""Stored smart-MAC options are read back into usable settings, whatever the storage holds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.meterlink.const import CONF_SCAN_INTERVAL
from custom_components.meterlink.meters.smartmac import EXTENDED_INTERVAL, STANDARD_INTERVAL
from custom_components.meterlink.smartmac.descriptions import PULSE_CHANNELS
from custom_components.meterlink.smartmac.options import (
    CONF_EXTENDED,
    CONF_RELAY_POLARITY,
    MAX_SCAN_INTERVAL,
    SmartMacOptions,
    conf_pulse_kind,
    conf_pulse_weight,
)

KEYS = [
    CONF_SCAN_INTERVAL,
    CONF_RELAY_POLARITY,
    *(conf_pulse_kind(channel) for channel in PULSE_CHANNELS),
    *(conf_pulse_weight(channel) for channel in PULSE_CHANNELS),
]
stored_values = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
stored_values |= st.sampled_from(["vendor", "inverted", "energy", "gas", "water_l", "pulses"])


@settings(max_examples=300, deadline=None)
@given(
    extended=stored_values,
    options=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), stored_values),
)
def test_any_stored_options_give_settings_the_device_can_serve(
    extended: Any, options: dict[str, Any]
) -> None:
    result = SmartMacOptions.from_entry({CONF_EXTENDED: extended}, options)
    minimum = EXTENDED_INTERVAL if extended is True else STANDARD_INTERVAL
    assert minimum <= result.scan_interval <= MAX_SCAN_INTERVAL
    assert set(result.pulse) == set(PULSE_CHANNELS)
    for channel in result.pulse.values():
        assert channel.weight > 0
