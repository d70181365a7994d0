"""Keys and limits of EKM meters and the RS-485 bus entry (all stored: values never change)."""

from __future__ import annotations

from typing import Final

CONF_PORT: Final = "port"  # serialx URL: /dev/..., socket://host:port, rfc2217://, esphome-hass://
CONF_USB_ID: Final = "usb_id"  # "VID:PID:serial" of a discovered adapter, to follow it across ports

# A bus entry has one subentry per meter.
SUBENTRY_METER: Final = "meter"
CONF_ADDRESS: Final = "address"  # 12-digit EKM meter address
CONF_VERSION: Final = "version"  # "v3" or "v4" (v5 meters speak v4)

# The bus polls the "A" block every scan interval and the "B" block every settings interval.
CONF_SETTINGS_INTERVAL: Final = "settings_interval"
DEFAULT_SCAN_INTERVAL: Final = 10
MIN_SCAN_INTERVAL: Final = 2
DEFAULT_SETTINGS_INTERVAL: Final = 300
MIN_SETTINGS_INTERVAL: Final = 30
MAX_SETTINGS_INTERVAL: Final = 86400

MANUFACTURER_EKM: Final = "EKM Metering"
