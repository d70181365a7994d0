"""Constants shared by the Home Assistant side of MeterLink."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "meterlink"
LOGGER = logging.getLogger(__package__)

# Entry data
CONF_CONNECTION: Final = "connection"  # which transport the entry uses
CONNECTION_EKM_RS485: Final = "ekm_rs485"
CONNECTION_SMARTMAC: Final = "smartmac"
CONNECTION_EKM_PUSH: Final = "ekm_push"  # EKM Push cloud, one account/gateway key
CONNECTION_PUSH3: Final = "ekm_push3"  # a Push3 gateway's local API
CONF_PORT: Final = "port"  # serialx URL: /dev/..., socket://host:port, rfc2217://, esphome-hass://
CONF_USB_ID: Final = "usb_id"  # "VID:PID:serial" of a discovered adapter, to follow it across ports

# Subentries (one per meter on a bus)
SUBENTRY_METER: Final = "meter"
CONF_ADDRESS: Final = "address"  # 12-digit EKM meter address
CONF_VERSION: Final = "version"  # "v3" or "v4" (v5 meters speak v4)
CONF_MODEL: Final = "model"  # model code as hex, e.g. "1024"
CONF_PASSWORD: Final = "password"  # 8-digit meter password, needed for relays and settings

# Options
CONF_SCAN_INTERVAL: Final = "scan_interval"  # seconds between polls of the "A" block
CONF_SETTINGS_INTERVAL: Final = "settings_interval"  # seconds between reads of the "B" block
DEFAULT_SCAN_INTERVAL: Final = 10
MIN_SCAN_INTERVAL: Final = 2
MAX_SCAN_INTERVAL: Final = 3600
DEFAULT_SETTINGS_INTERVAL: Final = 300
MIN_SETTINGS_INTERVAL: Final = 30
MAX_SETTINGS_INTERVAL: Final = 86400

MANUFACTURER_EKM: Final = "EKM Metering"
