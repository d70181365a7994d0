"""EKM Push: the cloud APIs, the Push3 gateway's local API, sendCommand and triggers (HA-free).

`realtime`, `account`, `push3` (parsers) and `fields` are sans-IO; `client.PushClient` (cloud)
and `push3.Push3Client` (LAN) add the aiohttp transport; `cli` is the commissioning tool's
`push` and `push3` command groups. Meter values are `EkmReading`s like on RS-485.
"""

from .client import PushClient
from .models import (
    TIMESTAMP_FIELD,
    IoStackReading,
    PushGateway,
    PushInventory,
    PushMeterReading,
    PushReadings,
)
from .push3 import Push3Client, gateway_unique_id
from .status import PushInvalidMeterError, PushNoDataError, PushQueryError

__all__ = [
    "TIMESTAMP_FIELD",
    "IoStackReading",
    "Push3Client",
    "PushClient",
    "PushGateway",
    "PushInvalidMeterError",
    "PushInventory",
    "PushMeterReading",
    "PushNoDataError",
    "PushQueryError",
    "PushReadings",
    "gateway_unique_id",
]
