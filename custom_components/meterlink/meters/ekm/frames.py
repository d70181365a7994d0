"""Sans-IO EKM RS-485 framing: requests, response decoding and encoding, stream scanning.

Nothing here touches a port. A value is only ever produced from a complete 255-byte frame whose
trailer, CRC, request-type echo, address and every numeric field check out; anything else is a
typed `MeterFrameError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InvalidParameterError, MeterAddressError, MeterCrcError, MeterFrameError
from .crc import ekm_crc
from .layout import (
    FRAME_LENGTH,
    LAYOUTS,
    PAYLOAD_END,
    REQUEST_TYPE,
    TRAILER,
    Block,
    FieldSpec,
    Kind,
)
from .reading import EkmReading, FieldValue, MeterVersion, power_factor_code

SOH = 0x01
STX = 0x02
ETX = 0x03
ACK = 0x06
CLOSE_FRAME = b"\x01B0\x03u"  # SOH 'B' '0' ETX 'u': ends the session with the open meter

_ADDRESS_RE = re.compile(r"[0-9]{1,12}")  # not \d: it accepts non-ASCII digits


def normalize_address(address: str) -> str:
    """The 12-digit bus address from the 9 digits printed on a meter (or all 12)."""
    cleaned = "".join(address.split()).replace("-", "")
    if not _ADDRESS_RE.fullmatch(cleaned) or len(cleaned) < 9:
        msg = "a meter address is the 9 or 12 digits printed on the meter"
        raise InvalidParameterError(msg)
    return cleaned.zfill(12)


def read_request(address: str, block: Block) -> bytes:
    """The request that makes meter `address` send one block (v3 has no block suffix)."""
    suffix = REQUEST_TYPE.get(block, "")
    return f"/?{normalize_address(address)}{suffix}!\r\n".encode("ascii")


def version_of(block: Block) -> MeterVersion:
    """The protocol generation a block belongs to."""
    return MeterVersion.V3 if block is Block.V3 else MeterVersion.V4


def check_frame(frame: bytes) -> None:
    """Raise unless `frame` is a complete response with a valid trailer and CRC."""
    if len(frame) != FRAME_LENGTH:
        msg = f"response is {len(frame)} bytes, expected {FRAME_LENGTH}"
        raise MeterFrameError(msg)
    if frame[0] != STX or frame[PAYLOAD_END : PAYLOAD_END + 4] != TRAILER:
        msg = "response does not start with STX and end with !CR LF ETX"
        raise MeterFrameError(msg)
    if ekm_crc(frame[1 : FRAME_LENGTH - 2]) != frame[FRAME_LENGTH - 2 :]:
        msg = "response CRC does not match"
        raise MeterCrcError(msg)
    if any(byte > 0x7F for byte in frame):
        msg = "response has bytes outside 7-bit ASCII (wrong serial settings?)"
        raise MeterFrameError(msg)


def decode_response(
    frame: bytes,
    block: Block,
    *,
    address: str | None = None,
    kwh_scale: int | None = None,
) -> EkmReading:
    """Decode one response frame.

    `address` (9 or 12 digits) is checked against the meter's echo. A v4 "B" block carries
    kWh fields whose decimals are given by the A block's `kWh_Scale`: pass it as `kwh_scale`,
    or the B block's energy fields are left out rather than guessed.
    """
    check_frame(frame)
    if block in REQUEST_TYPE:
        echo = frame[PAYLOAD_END - 2 : PAYLOAD_END].decode("ascii")
        if echo != REQUEST_TYPE[block]:
            msg = f"response is block {echo!r}, expected {REQUEST_TYPE[block]!r}"
            raise MeterFrameError(msg)
    values: dict[str, FieldValue] = {}
    specs = LAYOUTS[block]
    scale = _kwh_scale(frame, block, kwh_scale)
    for spec in specs:
        raw = frame[spec.offset : spec.offset + spec.length]
        if spec.kind is Kind.RESERVED or spec.name == "Request_Type":
            continue
        if spec.kind is Kind.KWH:
            if scale is None:
                continue
            values[spec.name] = _digits(raw, spec) / 10**scale if scale else _digits(raw, spec)
        else:
            values.update(_decode_field(raw, spec))
    meter_address = str(values["Meter_Address"])
    if not meter_address.isdigit():
        msg = "response carries a malformed meter address"
        raise MeterFrameError(msg)
    if address is not None and meter_address != normalize_address(address):
        msg = f"response came from meter {meter_address}"
        raise MeterAddressError(msg)
    _add_calculated(values, block)
    return EkmReading(meter_address, version_of(block), values)


def _kwh_scale(frame: bytes, block: Block, given: int | None) -> int | None:
    if block is Block.V3:
        return 1  # v3 energy always has one decimal
    if block is Block.V4A:
        spec = next(s for s in LAYOUTS[block] if s.name == "kWh_Scale")
        raw = frame[spec.offset : spec.offset + 1]
        if not raw.isdigit() or int(raw) > 3:
            msg = f"kWh_Scale {raw!r} is not a valid scale"
            raise MeterFrameError(msg)
        return int(raw)
    return given


def _digits(raw: bytes, spec: FieldSpec) -> int:
    if not raw.isdigit():
        msg = f"{spec.name} is {raw!r}, not digits"
        raise MeterFrameError(msg)
    return int(raw)


def _decode_field(raw: bytes, spec: FieldSpec) -> dict[str, FieldValue]:
    match spec.kind:
        case Kind.BINARY:
            return {spec.name: raw.hex()}
        case Kind.TEXT:
            if not all(0x20 <= byte < 0x7F for byte in raw):
                msg = f"{spec.name} is not printable text"
                raise MeterFrameError(msg)
            return {spec.name: raw.decode("ascii")}
        case Kind.INT:
            return {spec.name: _digits(raw, spec)}
        case Kind.FIXED:
            return {spec.name: _digits(raw, spec) / 10**spec.decimals}
        case Kind.CODE:
            if raw.isdigit():
                return {spec.name: int(raw)}
            if not 0x20 <= raw[0] < 0x7F:
                msg = f"{spec.name} is not a printable status character"
                raise MeterFrameError(msg)
            return {spec.name: raw.decode("ascii")}
        case Kind.POWER_FACTOR:
            kind = chr(raw[0])
            if kind not in "LC ":
                msg = f"{spec.name} has power-factor prefix {kind!r}"
                raise MeterFrameError(msg)
            value = _digits(raw[1:], spec) / 100
            line = spec.name.rsplit("_", 1)[1]
            return {spec.name: value, f"Power_Factor_Ln_{line}": power_factor_code(kind, value)}
    msg = f"no decoder for {spec.kind}"  # pragma: no cover - every Kind is handled above
    raise AssertionError(msg)  # pragma: no cover


def _add_calculated(values: dict[str, FieldValue], block: Block) -> None:
    """EKM's calculated fields: signed per-line and total watts from State_Watts_Dir (v4 A)."""
    if block is not Block.V4A:
        return
    values.update(EkmReading("", MeterVersion.V4, values).net_watts())


def encode_response(block: Block, values: Mapping[str, FieldValue], *, kwh_scale: int = 1) -> bytes:
    """Build the 255-byte frame a meter would send (used by the simulator and tests).

    `values` use the decoder's units; fields not given are zero. Cos_Theta values are signed
    power factors here (negative = leading 'C', positive = lagging 'L', 1.0 = unity).
    """
    payload = bytearray(b"0" * (PAYLOAD_END - 1))
    scale = 1 if block is Block.V3 else kwh_scale
    for spec in LAYOUTS[block]:
        if spec.name == "kWh_Scale":
            text = str(scale).encode()
        elif spec.name == "Request_Type":
            text = REQUEST_TYPE[block].encode()
        else:
            text = _encode_field(spec, values.get(spec.name), scale)
        payload[spec.offset - 1 : spec.offset - 1 + spec.length] = text
    body = bytes(payload) + TRAILER
    return bytes((STX,)) + body + ekm_crc(body)


def _encode_field(spec: FieldSpec, value: FieldValue | None, scale: int) -> bytes:
    width = spec.length
    match spec.kind:
        case Kind.RESERVED:
            return b"0" * width
        case Kind.BINARY:
            return bytes.fromhex(str(value)) if value is not None else b"\x00" * width
        case Kind.TEXT:
            return (
                str(value if value is not None else "0" * width)
                .encode("ascii")[:width]
                .ljust(width)
            )
        case Kind.POWER_FACTOR:
            pf = float(value) if isinstance(value, int | float) else 1.0
            prefix = " " if abs(pf) >= 1 else ("C" if pf < 0 else "L")
            return f"{prefix}{round(abs(pf) * 100):03d}".encode()
        case Kind.CODE:
            return str(value if value is not None else 0).encode("ascii")[:1]
        case _:  # Kind.KWH, Kind.FIXED, Kind.INT: zero-padded digits
            decimals = scale if spec.kind is Kind.KWH else spec.decimals
            number = float(value) if isinstance(value, int | float) else 0.0
            digits = round(number * 10**decimals)
            if digits < 0 or digits >= 10**width:
                msg = f"{spec.name}={value} does not fit {width} digits"
                raise InvalidParameterError(msg)
            return f"{digits:0{width}d}".encode()


@dataclass(frozen=True, slots=True)
class Scan:
    """What `scan_response` found in a receive buffer.

    `frame` is a valid response when one was found. `discard` is how many leading bytes can be
    dropped (garbage, or rejected candidates). `rejected` is the last reason a complete
    candidate failed, so a caller that times out can say "bad CRC" instead of "no answer".
    """

    frame: bytes | None
    discard: int
    rejected: MeterFrameError | None = None


def scan_response(buffer: bytes) -> Scan:
    """Find the first valid 255-byte response in `buffer`, resynchronising past garbage."""
    rejected: MeterFrameError | None = None
    start = buffer.find(STX)
    while start != -1:
        if len(buffer) - start < FRAME_LENGTH:
            return Scan(None, start, rejected)
        candidate = buffer[start : start + FRAME_LENGTH]
        try:
            check_frame(candidate)
        except MeterFrameError as err:
            rejected = err
        else:
            return Scan(candidate, start + FRAME_LENGTH, rejected)
        start = buffer.find(STX, start + 1)
    return Scan(None, len(buffer), rejected)
