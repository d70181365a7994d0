"""Constants every family shares: the domain, the stored connection ids, common entry keys.

A family's own keys live in its `const` (`ekm.const`); these are the ones more than one family
reads. All of them are stored in config entries, so their values never change.
"""

from __future__ import annotations

import logging
import os
from typing import Final

DOMAIN: Final = "meterlink"
LOGGER = logging.getLogger(__package__)

CONF_CONNECTION: Final = "connection"  # which transport the entry uses
CONNECTION_EKM_RS485: Final = "ekm_rs485"
CONNECTION_SMARTMAC: Final = "smartmac"
CONNECTION_EKM_PUSH: Final = "ekm_push"  # EKM Push cloud, one account/gateway key
CONNECTION_PUSH3: Final = "ekm_push3"  # a Push3 gateway's local API
CONNECTION_EGAUGE: Final = "egauge"  # an eGauge meter's WebAPI

CONF_MODEL: Final = "model"  # model code: EKM as hex ("1024"), smart-MAC by name ("D103")
CONF_PASSWORD: Final = "password"  # 8-digit meter password, needed for relays and settings

CONF_SCAN_INTERVAL: Final = "scan_interval"  # seconds between polls
MAX_SCAN_INTERVAL: Final = 3600

# Development only: scripts/develop and the browser tests point every EKM Push web service
# (Realtime, Account, Device Settings, Trigger, Summary) at the simulator with this variable.
# It is no option: a user's Home Assistant never sets it, and then EKM's services are used.
DEV_PUSH_URL_ENV: Final = "METERLINK_DEV_PUSH_URL"
DEV_PUSH_URL: Final = os.environ.get(DEV_PUSH_URL_ENV, "").rstrip("/")
# The same for EKM's MQTT broker: scripts/develop runs mosquitto with a CA of its own, and
# the streams connect there (mqtts://HOST:PORT) trusting only that CA (a PEM file).
DEV_MQTT_URL_ENV: Final = "METERLINK_DEV_MQTT_URL"
DEV_MQTT_URL: Final = os.environ.get(DEV_MQTT_URL_ENV, "")
DEV_MQTT_CAFILE_ENV: Final = "METERLINK_DEV_MQTT_CAFILE"
DEV_MQTT_CAFILE: Final = os.environ.get(DEV_MQTT_CAFILE_ENV) or None
