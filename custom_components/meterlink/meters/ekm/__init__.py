"""EKM Omnimeter protocol (v3, v4, v5 over RS-485) and EKM field names.

EKM's field names (`kWh_Tot`, `RMS_Volts_Ln_1`, ...) are shared by the RS-485 protocol, the
EKM Push cloud and the Push3 gateway, so every transport produces the same reading model.
"""

from . import commands
from .bus import BusTiming, EkmBus
from .commands import (
    AUTO_RESET,
    CT_RATIOS,
    DEMAND_PERIODS,
    MAX_RELAY_SECONDS,
    PULSE_OUTPUT_RATIOS,
    Command,
    relay,
)
from .crc import ekm_crc
from .frames import ACK, CLOSE_FRAME, decode_response, encode_response, normalize_address
from .layout import LAYOUTS, Block, Kind
from .reading import (
    MODEL_NAMES,
    EkmReading,
    FieldValue,
    MeterVersion,
    model_name,
    signed_power_factor,
)

__all__ = [
    "ACK",
    "AUTO_RESET",
    "CLOSE_FRAME",
    "CT_RATIOS",
    "DEMAND_PERIODS",
    "LAYOUTS",
    "MAX_RELAY_SECONDS",
    "MODEL_NAMES",
    "PULSE_OUTPUT_RATIOS",
    "Block",
    "BusTiming",
    "Command",
    "EkmBus",
    "EkmReading",
    "FieldValue",
    "Kind",
    "MeterVersion",
    "commands",
    "decode_response",
    "ekm_crc",
    "encode_response",
    "model_name",
    "normalize_address",
    "relay",
    "signed_power_factor",
]
