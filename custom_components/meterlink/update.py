"""Update entities: device firmware (the entity classes live with their family)."""

from homeassistant.const import Platform

from .connections import platform_entry_setup

PARALLEL_UPDATES = 1  # one installation at a time

async_setup_entry = platform_entry_setup(Platform.UPDATE)
