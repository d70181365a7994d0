"""eGauge meters (EG4xxx, eGauge2/EG30xx on plain HTTP) over the JSON WebAPI.

`protocol` and `models` are sans-IO (JSON in, models or typed errors out); `auth` is the shared
JWT digest login; `client` the aiohttp transport; `commands` every /cmd operation; `cli` the
commissioning tool's command group. Home Assistant is never imported.
"""

from .client import DeviceInfo, EgaugeClient
from .commands import CommandRequest, CommandResult, available_update, run
from .models import (
    TYPES,
    CommandAnswer,
    EpochMismatch,
    History,
    HistoryRow,
    LocalReading,
    LocalValue,
    OperationStatus,
    Reading,
    Register,
    RegisterType,
    RegisterValue,
    Rights,
    UpdateOffer,
    Version,
    counter_delta,
    register_type,
)

__all__ = [
    "TYPES",
    "CommandAnswer",
    "CommandRequest",
    "CommandResult",
    "DeviceInfo",
    "EgaugeClient",
    "EpochMismatch",
    "History",
    "HistoryRow",
    "LocalReading",
    "LocalValue",
    "OperationStatus",
    "Reading",
    "Register",
    "RegisterType",
    "RegisterValue",
    "Rights",
    "UpdateOffer",
    "Version",
    "available_update",
    "counter_delta",
    "register_type",
    "run",
]
