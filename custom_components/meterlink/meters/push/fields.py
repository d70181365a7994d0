"""Sans-IO: one read of the Push cloud (string values) or a Push3 (numbers) as EKM fields.

The cloud sends `"kWh_Tot": "1234.56"`, the Push3 `"kWh_Tot": 1234.56`, RS-485 sends digits;
all three must end as the same `EkmReading` values (same names, same units, same int/float
types) so one entity table serves every transport. The field kinds therefore come from the
RS-485 layouts themselves. A read the gateway marked bad (`Good` 0, `PERR.*` markers) gives
no values at all: a failed read is never shown as zeros.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..ekm.layout import LAYOUTS, Kind
from ..ekm.reading import EkmReading, FieldValue, MeterVersion, power_factor_code
from ..json import number
from .models import TIMESTAMP_FIELD, IoStackReading, PushMeterReading

# Every EKM meter field the RS-485 decoder produces, with the kind that decides its type.
FIELD_KINDS: dict[str, Kind] = {
    spec.name: spec.kind
    for layout in LAYOUTS.values()
    for spec in layout
    if spec.kind is not Kind.RESERVED and spec.name != "Request_Type"
}
LINES = (1, 2, 3)
POWER_FACTOR_FIELDS = frozenset(f"Power_Factor_Ln_{n}" for n in LINES)
NET_WATTS_FIELDS = frozenset({*(f"Net_Calc_Watts_Ln_{n}" for n in LINES), "Net_Calc_Watts_Tot"})
# Only a v4 meter reports these; they tell v4 from v3 when the read does not say.
_V4_MARKERS = frozenset({"kWh_Scale", "State_Watts_Dir", "kWh_Ln_1", "Reactive_Energy_Tot"})
_METER_MARKERS = frozenset({"kWh_Tot", "RMS_Volts_Ln_1", "Meter_Time", "kWh_Tariff_1"})
# Fields only an ioStack has (ekm.md §2.6): analog, 1-Wire, numbered I/O, a fourth counter.
_IOSTACK_MARKER_RE = re.compile(r"(?:AI|OneWire_Temp|State_Out|State_In)_[0-9]{1,2}|Pulse_Cnt_4")
RELIABILITY_FIELD = "Reliability_Ratio"
_DROPPED = frozenset({"Good", "Request_Type"})
# Identifiers and clock texts that merely look numeric ("1c" is hex, "10" a firmware code).
_TEXT_FIELDS = frozenset({"Model", "Firmware", "Meter", "Meter_Address", "Date", "Time"})

# "0.83 C" (cloud, Push3), "C083" / " 100" (RS-485 raw), or a bare "0.83".
_COS_THETA_RE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([LClc]?)\s*")
_COS_THETA_RAW_RE = re.compile(r"([LC ])([0-9]{3})")
_ADDRESS_RE = re.compile(r"[0-9]{1,12}")
_MAX_TEXT = 64  # longest string value kept from a read


def device_address(value: object) -> str | None:
    """A device id as the 12-digit address (`10068` -> `000000010068`), or None."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text.zfill(12) if _ADDRESS_RE.fullmatch(text) else None


def is_bad_read(read: Mapping[str, Any]) -> bool:
    """Whether the gateway marked this read as failed (`Good` 0, or any `PERR...` marker)."""
    good = read.get("Good")
    if good is not None and (good is False or number(good) == 0):
        return True
    for key, value in read.items():
        if str(key).upper().startswith("PERR"):
            return True
        if isinstance(value, str) and value.strip().upper().startswith("PERR"):
            return True
    return False


def timestamp_of(read: Mapping[str, Any]) -> int | None:
    """`Time_Stamp_UTC_ms` as a non-negative integer, or None."""
    value = number(read.get(TIMESTAMP_FIELD))
    if value is None or value < 0 or value > 10**15:
        return None
    return int(value)


def looks_like_meter(read: Mapping[str, Any], protocol: object = None) -> bool:
    """Whether a read is an Omnimeter's (EKM field names) rather than an ioStack's.

    The cloud says so in the ReadSet's `Protocol` ("v3", "v4", "v5"); the Push3 LAN answer does
    not, so its field names decide. What an ioStack's `Protocol` says is undocumented, and one
    may say "v4": a "v<N>" read carrying only ioStack fields (`AI_n`, `State_Out_n`, ...; no
    meter field) is an ioStack's.
    """
    has_meter_fields = any(name in read for name in _METER_MARKERS)
    if isinstance(protocol, str) and protocol.strip():
        if re.fullmatch(r"v[0-9]+", protocol.strip().lower()) is None:
            return False
        return has_meter_fields or not any(_IOSTACK_MARKER_RE.fullmatch(str(n)) for n in read)
    return has_meter_fields


def version_of(read: Mapping[str, Any], protocol: object = None) -> MeterVersion:
    """The protocol generation: from `Protocol` when given (v5 speaks v4), else from fields."""
    if isinstance(protocol, str) and protocol.strip().lower() == "v3":
        return MeterVersion.V3
    if isinstance(protocol, str) and re.fullmatch(r"v[4-9]", protocol.strip().lower()):
        return MeterVersion.V4
    return MeterVersion.V4 if any(name in read for name in _V4_MARKERS) else MeterVersion.V3


def meter_reading(
    address: str,
    read: Mapping[str, Any],
    *,
    protocol: object = None,
    gateway: str | None = None,
) -> PushMeterReading | None:
    """One good read of meter `address` as the RS-485 decoder would give it; None when bad.

    A read is bad when the gateway marked it so, when it names another meter, or when not one
    EKM field in it is usable. Single malformed values are left out, never replaced.
    """
    if is_bad_read(read):
        return None
    named = device_address(read.get("Meter_Address", address))
    if named != address:
        return None
    version = version_of(read, protocol)
    scale = _kwh_scale(read, version)
    values: dict[str, FieldValue] = {}
    extra: dict[str, FieldValue] = {}
    for key, raw in read.items():
        name = str(key)
        kind = FIELD_KINDS.get(name)
        if name in _DROPPED or name in POWER_FACTOR_FIELDS or name in NET_WATTS_FIELDS:
            continue
        if kind is None:
            if name not in {TIMESTAMP_FIELD, RELIABILITY_FIELD}:
                _keep_generic(extra, name, raw)
            continue
        if kind is Kind.POWER_FACTOR:
            values.update(_cos_theta(name, raw))
            continue
        value = _convert(kind, raw, scale, name)
        if value is not None:
            values[name] = value
    if not any(name in values for name in FIELD_KINDS if name != "Meter_Address"):
        return None
    values["Meter_Address"] = address
    _power_factors(values, read)
    _net_watts(values, read, version)
    timestamp = timestamp_of(read)
    if timestamp is not None:
        values[TIMESTAMP_FIELD] = timestamp
    reliability = number(read.get(RELIABILITY_FIELD))
    return PushMeterReading(
        EkmReading(address, version, values),
        timestamp_ms=timestamp,
        gateway=gateway,
        reliability=None if reliability is None else float(reliability),
        extra=extra,
    )


def iostack_reading(
    address: str, read: Mapping[str, Any], *, gateway: str | None = None
) -> IoStackReading | None:
    """One good ioStack read with every scalar field kept; None when the read is bad."""
    if is_bad_read(read):
        return None
    values: dict[str, FieldValue] = {}
    for key, raw in read.items():
        if str(key) not in _DROPPED:
            _keep_generic(values, str(key), raw)
    if not values:
        return None
    timestamp = timestamp_of(read)
    if timestamp is not None:
        values[TIMESTAMP_FIELD] = timestamp
    return IoStackReading(address, values, timestamp_ms=timestamp, gateway=gateway)


type NewerThan = Callable[[str, int | None], bool]
"""`(address, Time_Stamp_UTC_ms)` -> whether a read that new is news to the caller."""


def brings_news(
    address: str, reads: Iterable[Mapping[str, Any]], newer_than: NewerThan | None
) -> bool:
    """Whether the newest of `reads` is worth parsing (always, without `newer_than`).

    A caller that already published a device's read says so here, and a repeated read costs
    one time-stamp check instead of a parse of every field (polls and streams alike).
    """
    if newer_than is None:
        return True
    stamp = max((timestamp_of(read) or -1 for read in reads), default=-1)
    return newer_than(address, None if stamp < 0 else stamp)


def newest[T: PushMeterReading | IoStackReading](readings: Iterable[T]) -> T | None:
    """The newest reading by gateway time stamp; among equals (or none) the last one given."""
    best: T | None = None
    for reading in readings:
        if best is None or (reading.timestamp_ms or -1) >= (best.timestamp_ms or -1):
            best = reading
    return best


# Conversions ---------------------------------------------------------------------------------


def _kwh_scale(read: Mapping[str, Any], version: MeterVersion) -> int | None:
    if version is MeterVersion.V3:
        return 1
    scale = number(read.get("kWh_Scale"))
    return int(scale) if isinstance(scale, int) and 0 <= scale <= 3 else None


def _convert(kind: Kind, raw: object, scale: int | None, name: str) -> FieldValue | None:
    match kind:
        case Kind.TEXT | Kind.BINARY:
            return _text(raw, name)
        case Kind.CODE:
            value = number(raw)
            if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
                return int(value)
            return _text(raw, name) if isinstance(raw, str) and raw.strip() else None
        case Kind.KWH:
            value = number(raw)
            if value is None or value < 0:
                return None
            if scale == 0 and float(value).is_integer():
                return int(value)
            return float(value)
        case Kind.FIXED:
            value = number(raw)
            return None if value is None or value < 0 else float(value)
        case _:  # Kind.INT
            value = number(raw)
            if value is None:
                return None
            return int(value) if float(value).is_integer() else float(value)


def _text(raw: object, name: str) -> str | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int) and raw >= 0:
        text = str(raw)
        width = {"Meter_Time": 14, "Meter_Address": 12}.get(name, 0)
        return text.zfill(width)
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > _MAX_TEXT or not text.isprintable():
        return None
    return text


def _cos_theta(name: str, raw: object) -> dict[str, FieldValue]:
    """`Cos_Theta_Ln_n` and the matching `Power_Factor_Ln_n`, exactly as RS-485 decodes them."""
    line = name.rsplit("_", 1)[1]
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number_value = number(raw)
        if number_value is None:
            return {}
        value, kind = float(number_value), " "
    elif isinstance(raw, str) and (match := _COS_THETA_RAW_RE.fullmatch(raw)):
        value, kind = int(match.group(2)) / 100, match.group(1)
    elif isinstance(raw, str) and (match := _COS_THETA_RE.fullmatch(raw)):
        value, kind = float(match.group(1)), (match.group(2).upper() or " ")
    else:
        return {}
    if not 0 <= value <= 1:
        return {}
    return {name: value, f"Power_Factor_Ln_{line}": power_factor_code(kind, value)}


def _power_factors(values: dict[str, FieldValue], read: Mapping[str, Any]) -> None:
    """Use the cloud's own `Power_Factor_Ln_n` (0..200) when it sends a valid one."""
    for line in LINES:
        name = f"Power_Factor_Ln_{line}"
        code = number(read.get(name))
        if not isinstance(code, int) or not 0 <= code <= 200:
            continue
        values[name] = code
        cos_name = f"Cos_Theta_Ln_{line}"
        if cos_name not in values:
            values[cos_name] = (200 - code) / 100 if code > 100 else code / 100


def _net_watts(
    values: dict[str, FieldValue], read: Mapping[str, Any], version: MeterVersion
) -> None:
    """Signed watts: the cloud's `Net_Calc_Watts_*`, else computed as the RS-485 decoder does."""
    given = {name: number(read.get(name)) for name in NET_WATTS_FIELDS}
    if all(isinstance(value, int) for value in given.values()):
        values.update({name: int(value) for name, value in given.items() if value is not None})
        return
    if version is not MeterVersion.V4:
        return
    computed = dict(EkmReading("", version, values).net_watts())
    if "Net_Calc_Watts_Tot" in computed:  # all three lines, or none of them
        values.update(computed)


def _keep_generic(values: dict[str, FieldValue], name: str, raw: object) -> None:
    """Any scalar as a number when it is one, else as short printable text; the rest is left."""
    if not name or len(name) > _MAX_TEXT or not name.isprintable():
        return
    if name in _TEXT_FIELDS and isinstance(raw, int | str) and not isinstance(raw, bool):
        raw = str(raw)
        if raw.strip() and len(raw) <= _MAX_TEXT and raw.isprintable():
            values[name] = raw.strip()
        return
    value = number(raw)
    if value is not None:
        values[name] = value
        return
    if isinstance(raw, str):
        text = raw.strip()
        if text and len(text) <= _MAX_TEXT and text.isprintable():
            values[name] = text
