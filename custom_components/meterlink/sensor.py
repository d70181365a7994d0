"""Sensors of every connection type (the entity classes live with their family)."""

from homeassistant.const import Platform

from .connections import platform_entry_setup

PARALLEL_UPDATES = 0  # read-only: the coordinator does all reading
async_setup_entry = platform_entry_setup(Platform.SENSOR)
