"""Buttons: one-shot meter commands (reset max demand, set the clock, zero kWh)."""

from homeassistant.const import Platform

from .connections import platform_entry_setup

PARALLEL_UPDATES = 1  # one write at a time: they share the bus with every poll
async_setup_entry = platform_entry_setup(Platform.BUTTON)
