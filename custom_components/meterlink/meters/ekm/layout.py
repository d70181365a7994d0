"""The three 255-byte response layouts (v3, v4 "A", v4 "B") as data.

One table per layout, offsets computed from widths so a typo cannot shift every later field
silently: building a layout checks that the fields end exactly where `!CR LF ETX` begins.
Both the decoder and the simulator's encoder read these tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

FRAME_LENGTH = 255
PAYLOAD_END = 249  # offset of "!\r\n\x03"
TRAILER = b"!\r\n\x03"


class Kind(StrEnum):
    """How the ASCII (or binary) bytes of a field become a value."""

    BINARY = "binary"  # raw bytes rendered as lowercase hex (Model, Firmware)
    TEXT = "text"  # printable ASCII kept as a string (address, meter time)
    INT = "int"  # zero-padded decimal digits
    FIXED = "fixed"  # digits with a fixed number of implied decimals
    KWH = "kwh"  # digits with kWh_Scale implied decimals (v4) or one (v3)
    POWER_FACTOR = "pf"  # 'L'/'C'/' ' then three digits x 0.01
    CODE = "code"  # one status character: an int when it is a digit
    RESERVED = "reserved"  # ignored


class Block(StrEnum):
    """Which request produced a frame; decides the layout."""

    V3 = "v3"
    V4A = "v4a"
    V4B = "v4b"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a layout."""

    name: str
    offset: int
    length: int
    kind: Kind
    decimals: int = 0


def _build(*specs: tuple[str, int, Kind, int]) -> tuple[FieldSpec, ...]:
    fields: list[FieldSpec] = []
    offset = 1  # after STX
    for name, length, kind, decimals in specs:
        fields.append(FieldSpec(name, offset, length, kind, decimals))
        offset += length
    if offset != PAYLOAD_END:  # pragma: no cover - guards the tables themselves
        msg = f"layout ends at {offset}, expected {PAYLOAD_END}"
        raise AssertionError(msg)
    return tuple(fields)


def _lines(
    prefix: str, length: int, kind: Kind, decimals: int = 0
) -> list[tuple[str, int, Kind, int]]:
    return [(f"{prefix}_{n}", length, kind, decimals) for n in (1, 2, 3)]


def _tariffs(prefix: str, kind: Kind, decimals: int = 0) -> list[tuple[str, int, Kind, int]]:
    return [(f"{prefix}_{n}", 8, kind, decimals) for n in (1, 2, 3, 4)]


_HEAD: list[tuple[str, int, Kind, int]] = [
    ("Model", 2, Kind.BINARY, 0),
    ("Firmware", 1, Kind.BINARY, 0),
    ("Meter_Address", 12, Kind.TEXT, 0),
]

V3_FIELDS = _build(
    *_HEAD,
    ("kWh_Tot", 8, Kind.KWH, 0),
    *_tariffs("kWh_Tariff", Kind.KWH),
    ("Rev_kWh_Tot", 8, Kind.KWH, 0),
    *_tariffs("Rev_kWh_Tariff", Kind.KWH),
    *_lines("RMS_Volts_Ln", 4, Kind.FIXED, 1),
    *_lines("Amps_Ln", 5, Kind.FIXED, 1),
    *_lines("RMS_Watts_Ln", 7, Kind.INT),
    ("RMS_Watts_Tot", 7, Kind.INT, 0),
    *_lines("Cos_Theta_Ln", 4, Kind.POWER_FACTOR),
    ("RMS_Watts_Max_Demand", 8, Kind.FIXED, 1),
    ("Max_Demand_Period", 1, Kind.CODE, 0),
    ("Meter_Time", 14, Kind.TEXT, 0),
    ("CT_Ratio", 4, Kind.INT, 0),
    *_lines("Pulse_Cnt", 8, Kind.INT),
    *_lines("Pulse_Ratio", 4, Kind.INT),
    ("State_Inputs", 3, Kind.INT, 0),
    ("_reserved_1", 19, Kind.RESERVED, 0),
    ("Meter_Status_Code", 1, Kind.CODE, 0),
)

V4A_FIELDS = _build(
    *_HEAD,
    ("kWh_Tot", 8, Kind.KWH, 0),
    ("Reactive_Energy_Tot", 8, Kind.KWH, 0),
    ("Rev_kWh_Tot", 8, Kind.KWH, 0),
    *_lines("kWh_Ln", 8, Kind.KWH),
    *_lines("Rev_kWh_Ln", 8, Kind.KWH),
    ("kWh_Rst", 8, Kind.KWH, 0),
    ("Rev_kWh_Rst", 8, Kind.KWH, 0),
    *_lines("RMS_Volts_Ln", 4, Kind.FIXED, 1),
    *_lines("Amps_Ln", 5, Kind.FIXED, 1),
    *_lines("RMS_Watts_Ln", 7, Kind.INT),
    ("RMS_Watts_Tot", 7, Kind.INT, 0),
    *_lines("Cos_Theta_Ln", 4, Kind.POWER_FACTOR),
    *_lines("Reactive_Pwr_Ln", 7, Kind.INT),
    ("Reactive_Pwr_Tot", 7, Kind.INT, 0),
    ("Line_Freq", 4, Kind.FIXED, 2),
    *_lines("Pulse_Cnt", 8, Kind.INT),
    ("State_Inputs", 1, Kind.CODE, 0),
    ("State_Watts_Dir", 1, Kind.CODE, 0),
    ("State_Out", 1, Kind.CODE, 0),
    ("kWh_Scale", 1, Kind.CODE, 0),
    ("_reserved_1", 2, Kind.RESERVED, 0),
    ("Meter_Time", 14, Kind.TEXT, 0),
    ("Request_Type", 2, Kind.TEXT, 0),
)

V4B_FIELDS = _build(
    *_HEAD,
    *_tariffs("kWh_Tariff", Kind.KWH),
    *_tariffs("Rev_kWh_Tariff", Kind.KWH),
    *_lines("RMS_Volts_Ln", 4, Kind.FIXED, 1),
    *_lines("Amps_Ln", 5, Kind.FIXED, 1),
    *_lines("RMS_Watts_Ln", 7, Kind.INT),
    ("RMS_Watts_Tot", 7, Kind.INT, 0),
    *_lines("Cos_Theta_Ln", 4, Kind.POWER_FACTOR),
    ("RMS_Watts_Max_Demand", 8, Kind.FIXED, 1),
    ("Max_Demand_Period", 1, Kind.CODE, 0),
    *_lines("Pulse_Ratio", 4, Kind.INT),
    ("CT_Ratio", 4, Kind.INT, 0),
    ("Max_Demand_Rst", 1, Kind.CODE, 0),
    ("CF_Ratio", 4, Kind.INT, 0),
    ("_reserved_1", 53, Kind.RESERVED, 0),
    ("Meter_Status_Code_A", 1, Kind.CODE, 0),
    ("Meter_Status_Code_B", 1, Kind.CODE, 0),
    ("Meter_Status_Code_C", 1, Kind.CODE, 0),
    ("Meter_Time", 14, Kind.TEXT, 0),
    ("Request_Type", 2, Kind.TEXT, 0),
)

LAYOUTS: dict[Block, tuple[FieldSpec, ...]] = {
    Block.V3: V3_FIELDS,
    Block.V4A: V4A_FIELDS,
    Block.V4B: V4B_FIELDS,
}

# The two bytes before "!\r\n" echo the v4 request type.
REQUEST_TYPE: dict[Block, str] = {Block.V4A: "00", Block.V4B: "01"}
