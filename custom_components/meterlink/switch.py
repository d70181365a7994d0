"""Switches of every connection type: relays, ioStack outputs, triggers, load relays."""

from homeassistant.const import Platform

from .connections import platform_entry_setup

PARALLEL_UPDATES = 1  # one write at a time: RS-485 relays share the bus with every poll
async_setup_entry = platform_entry_setup(Platform.SWITCH)
