"""Sans-IO EKM Push3 MQTT stream: topics, the broker URL, and messages as Push readings.

EKM's broker (`mqtts.ekmpush.com:8883`, seed 003 "MQTT Messaging") publishes every read a
Push3 gateway takes on `realtime/<gateway key>` and 15-minute summaries on `summary/<gateway
key>`; the username is the gateway key, there is no password and no history. Every vendor
example parses a message as one JSON object and reads `data["meter_000000010389"]["kWh_Tot"]`,
and the Python example's "# Get the first key" says one message may carry several meters.

The vendor publishes no complete message, so this module assumes (README, "MQTT streaming"):

* each `meter_<12 digits>` (or `iostack_<12 digits>`) member is one read in the field names
  and value shapes of the Push3 LAN API or of the cloud (numbers or numeric strings,
  `Cos_Theta_*` as "0.83 C"), or a list of such reads; it becomes exactly what those two
  transports produce, through the same code (`push3.parse_push3`, `fields.meter_reading`);
* a summary member carries `<EKM field>_<statistic>` values (`kWh_Tot_Max`,
  `RMS_Volts_Ln_1_Average`, as the Summary API does) and `End_Time_Stamp_UTC_ms`; it is read
  as the state at the end of its period (registers: `_Last`, else `_Max`; other values:
  `_Average`, else `_Last`), every original member kept beside it;
* other top-level members are ignored; a payload that is not a JSON object naming at least one
  device is a `MeterFrameError`, and so is any other input (never another exception).

A member whose read is not newer than the one already published for that device is skipped
before its fields are parsed (`newer_than`): a message that repeats what is known costs its
JSON decode and one time-stamp check per device.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from ..ekm.layout import Kind
from ..errors import InvalidParameterError, MeterError, MeterFrameError
from .fields import FIELD_KINDS, timestamp_of
from .models import TIMESTAMP_FIELD, PushReadings
from .push3 import parse_push3
from .realtime import check_key

DEFAULT_BROKER = "mqtts://mqtts.ekmpush.com:8883"
DEFAULT_PORT = 8883
MAX_PAYLOAD = 4 * 1024 * 1024
"""A 1000-meter message is about 1.5 MB; anything far larger is not an EKM message."""

_DEVICE_RE = re.compile(r"(meter|iostack)_([0-9]{12})", re.IGNORECASE)
_BROKER_RE = re.compile(r"mqtts://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?/?")
SUMMARY_END_FIELD = "End_Time_Stamp_UTC_ms"
_STATISTICS = ("Last", "Max", "Average", "First", "Min", "Diff", "DeltaMax", "StdDev")
# End-of-period state of a register is its last (highest) value; of anything else its mean.
_REGISTER_PREFERENCE = ("Last", "Max")
_VALUE_PREFERENCE = ("Average", "Last")


class StreamKind(StrEnum):
    """Which of the gateway's two topics: every read, or 15-minute summaries."""

    REALTIME = "realtime"
    SUMMARY = "summary"


def topic(kind: StreamKind, key: str) -> str:
    """The topic of `kind` for a gateway key. It contains the key: never log it."""
    return f"{kind.value}/{check_key(key)}"


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the stream comes from; always TLS (EKM's broker listens on mqtts only)."""

    host: str
    port: int = DEFAULT_PORT


def parse_broker(url: str) -> Broker:
    """`mqtts://HOST[:PORT]` (default port 8883) as a Broker; InvalidParameterError otherwise."""
    match = _BROKER_RE.fullmatch(url.strip())
    port = int(match.group(2)) if match and match.group(2) else DEFAULT_PORT
    if match is None or not 0 < port < 65536:
        msg = "the broker is mqtts://HOST[:PORT]"
        raise InvalidParameterError(msg)
    return Broker(match.group(1).strip("[]"), port)


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One message as readings, and the devices skipped because they brought nothing newer."""

    readings: PushReadings
    unchanged: frozenset[str] = field(default_factory=frozenset)

    @property
    def devices(self) -> frozenset[str]:
        """Every device the message named."""
        return self.readings.addresses | frozenset(self.readings.missing) | self.unchanged


type NewerThan = Callable[[str, int | None], bool]
"""`(address, Time_Stamp_UTC_ms)` -> whether that read is worth parsing."""


def parse_message(
    payload: bytes | bytearray | memoryview | str,
    kind: StreamKind = StreamKind.REALTIME,
    *,
    newer_than: NewerThan | None = None,
) -> StreamMessage:
    """A realtime or summary message as readings; MeterFrameError for anything malformed."""
    try:
        return _parse(payload, kind, newer_than)
    except MeterError:
        raise
    except Exception as err:
        msg = f"the message cannot be read ({type(err).__name__})"
        raise MeterFrameError(msg) from None


def _parse(payload: Any, kind: StreamKind, newer_than: NewerThan | None) -> StreamMessage:
    document = _decode(payload)
    if not isinstance(document, dict):
        msg = "the message is not a JSON object of meters"
        raise MeterFrameError(msg)
    devices: dict[str, list[Mapping[str, Any]]] = {}
    unchanged: set[str] = set()
    for name, value in document.items():
        match = _DEVICE_RE.fullmatch(name)
        if match is None:
            continue
        address = match.group(2)
        reads: list[Mapping[str, Any]] = [
            r for r in (value if isinstance(value, list) else [value]) if isinstance(r, dict)
        ]
        if kind is StreamKind.SUMMARY:
            reads = [summary_read(read) for read in reads]
        if newer_than is not None and reads:
            newest = max((timestamp_of(read) or -1 for read in reads), default=-1)
            if not newer_than(address, None if newest < 0 else newest):
                unchanged.add(address)
                continue
        devices[address] = reads
    if not devices and not unchanged:
        msg = "the message names no meter_<12 digits> or iostack_<12 digits>"
        raise MeterFrameError(msg)
    readings = parse_push3(devices) if devices else PushReadings()
    return StreamMessage(readings, frozenset(unchanged))


def _decode(payload: Any) -> Any:
    if isinstance(payload, memoryview | bytearray):
        payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        msg = f"the message is larger than {MAX_PAYLOAD} bytes"
        raise MeterFrameError(msg)
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        msg = "the message is not JSON"
        raise MeterFrameError(msg) from None


def summary_read(row: Mapping[str, Any]) -> dict[str, Any]:
    """A summary member as a read: each EKM field's end-of-period value, beside the originals.

    `kWh_Tot_Max` gives `kWh_Tot` (unless the row has `kWh_Tot_Last`), `RMS_Volts_Ln_1_Average`
    gives `RMS_Volts_Ln_1`; `End_Time_Stamp_UTC_ms` is the read's time stamp. Statistic members
    are kept under their own names (unknown fields of a read are kept, never mixed in).
    """
    read: dict[str, Any] = dict(row)
    chosen: dict[str, tuple[int, Any]] = {}
    for name, value in row.items():
        base, _, statistic = name.rpartition("_")
        if not base or statistic not in _STATISTICS:
            continue
        kind = FIELD_KINDS.get(base)
        if kind is None:
            continue
        cumulative = kind is Kind.KWH or base.startswith("Pulse_Cnt")
        preference = _REGISTER_PREFERENCE if cumulative else _VALUE_PREFERENCE
        if statistic in preference:
            rank = preference.index(statistic)
            if base not in chosen or rank < chosen[base][0]:
                chosen[base] = (rank, value)
    read.update({base: value for base, (_, value) in chosen.items()})
    if TIMESTAMP_FIELD not in read and SUMMARY_END_FIELD in row:
        read[TIMESTAMP_FIELD] = row[SUMMARY_END_FIELD]
    return read
