"""EKM Push: the cloud APIs, the Push3 gateway's local API, sendCommand and triggers (HA-free).

`realtime`, `account`, `push3` (parsers) and `fields` are sans-IO; `client.PushClient` (cloud)
and `push3.Push3Client` (LAN) add the aiohttp transport; `cli` is the commissioning tool's
`push` and `push3` command groups; `settings` is the Device Settings API and `triggers` the
Trigger API on top of it; `summary` (sans-IO) and `summary_client.SummaryClient` are the
Summary API (15-minute history) and `history_cli` its `push history` command. Meter values
are `EkmReading`s like on RS-485.
"""

from .account import DEFAULT_ACCOUNT_URL
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
from .realtime import DEFAULT_API_URL, check_key
from .status import PushInvalidMeterError, PushNoDataError, PushQueryError
from .summary import (
    DEFAULT_SUMMARY_URL,
    SummaryBucket,
    SummaryPage,
    interpret_summary,
    opening_registers,
    register_sample,
)
from .summary_client import (
    DEFAULT_MIN_INTERVAL as DEFAULT_SUMMARY_PACE,
)
from .summary_client import MeterHistory, SummaryClient, SummaryResult
from .triggers import (
    Trigger,
    TriggerClient,
    TriggerNotFoundError,
    check_trigger_uuid,
    validate_trigger,
)

__all__ = [
    "DEFAULT_ACCOUNT_URL",
    "DEFAULT_API_URL",
    "DEFAULT_SUMMARY_PACE",
    "DEFAULT_SUMMARY_URL",
    "TIMESTAMP_FIELD",
    "IoStackReading",
    "MeterHistory",
    "Push3Client",
    "PushClient",
    "PushGateway",
    "PushInvalidMeterError",
    "PushInventory",
    "PushMeterReading",
    "PushNoDataError",
    "PushQueryError",
    "PushReadings",
    "SummaryBucket",
    "SummaryClient",
    "SummaryPage",
    "SummaryResult",
    "Trigger",
    "TriggerClient",
    "TriggerNotFoundError",
    "check_key",
    "check_trigger_uuid",
    "gateway_unique_id",
    "interpret_summary",
    "opening_registers",
    "register_sample",
    "validate_trigger",
]
