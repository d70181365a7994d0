"""smart-MAC / smart-MAIC Wi-Fi meters (D101, D103, D105) over the local getdata HTTP API.

`protocol` and `models` are sans-IO (URLs in, readings or typed errors out); `client` adds the
aiohttp transport and the device's request budget; `cli` is the commissioning tool's command
group. Home Assistant is never imported.
"""

from .client import SmartMacClient
from .models import (
    DEFAULT_RELAY_POLARITY,
    EXTENDED_INTERVAL,
    STANDARD_INTERVAL,
    RelayPolarity,
    SmartMacModel,
    SmartMacReading,
    pout_for,
    relay_on,
    request_interval,
)
from .protocol import check_device_id, check_pin, interpret_response, parse_reading, redact

__all__ = [
    "DEFAULT_RELAY_POLARITY",
    "EXTENDED_INTERVAL",
    "STANDARD_INTERVAL",
    "RelayPolarity",
    "SmartMacClient",
    "SmartMacModel",
    "SmartMacReading",
    "check_device_id",
    "check_pin",
    "interpret_response",
    "parse_reading",
    "pout_for",
    "redact",
    "relay_on",
    "request_interval",
]
