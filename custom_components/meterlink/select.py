"""Selects: meter settings with a fixed set of values (CT ratio, demand period...)."""

from homeassistant.const import Platform

from .connections import platform_entry_setup

PARALLEL_UPDATES = 1  # one write at a time: they share the bus with every poll
async_setup_entry = platform_entry_setup(Platform.SELECT)
