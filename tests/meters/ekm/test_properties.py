"""Property tests: the decoder, the scanner and the command builders on arbitrary input.

Whatever arrives on a noisy bus or from a user, the library either produces a value or raises
one of its own typed errors; nothing else may escape.
"""

from __future__ import annotations

import string
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.ekm import commands
from custom_components.meterlink.meters.ekm.crc import ekm_crc
from custom_components.meterlink.meters.ekm.frames import (
    check_frame,
    decode_response,
    encode_response,
    normalize_address,
    scan_response,
)
from custom_components.meterlink.meters.ekm.layout import FRAME_LENGTH, LAYOUTS, Block, Kind
from custom_components.meterlink.meters.ekm.reading import EkmReading, FieldValue
from custom_components.meterlink.meters.errors import InvalidParameterError, MeterFrameError
from simulator.ekm.meter import SimMeter

from ..conftest import V3_ADDRESS, V4_ADDRESS

FAST_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
V4_METER = SimMeter(V4_ADDRESS)
V3_METER = SimMeter(V3_ADDRESS, version=V4_METER.version.__class__("v3"))
VALID = {
    Block.V4A: encode_response(Block.V4A, V4_METER.values(Block.V4A), kwh_scale=2),
    Block.V4B: encode_response(Block.V4B, V4_METER.values(Block.V4B), kwh_scale=2),
    Block.V3: encode_response(Block.V3, V3_METER.values(Block.V3)),
}


@st.composite
def damaged_frames(draw: st.DrawFn) -> bytes:
    """A valid frame with a random slice overwritten, usually resealed with a matching CRC
    so that the field decoders (not just the CRC check) see the damage."""
    frame = bytearray(VALID[draw(st.sampled_from(list(Block)))])
    start = draw(st.integers(0, FRAME_LENGTH - 1))
    patch = draw(st.binary(min_size=1, max_size=12))
    frame[start : start + len(patch)] = patch
    if draw(st.booleans()):
        frame[253:255] = ekm_crc(bytes(frame[1:253]))
    return bytes(frame[: draw(st.sampled_from([FRAME_LENGTH, FRAME_LENGTH, len(frame), 200]))])


@FAST_SETTINGS
@given(
    frame=st.one_of(st.binary(max_size=300), damaged_frames()),
    block=st.sampled_from(list(Block)),
    kwh_scale=st.sampled_from([None, 0, 1, 2, 3]),
    address=st.sampled_from([None, V4_ADDRESS, V3_ADDRESS]),
)
def test_decode_yields_a_reading_or_a_frame_error(
    frame: bytes, block: Block, kwh_scale: int | None, address: str | None
) -> None:
    try:
        reading = decode_response(frame, block, kwh_scale=kwh_scale, address=address)
    except MeterFrameError:
        return
    assert isinstance(reading, EkmReading)
    assert reading.address.isdigit()


@FAST_SETTINGS
@given(
    buffer=st.lists(
        st.one_of(st.binary(max_size=60), st.sampled_from(list(VALID.values())), damaged_frames()),
        max_size=5,
    ).map(b"".join)
)
def test_scan_never_raises_and_discards_within_bounds(buffer: bytes) -> None:
    scan = scan_response(buffer)
    assert 0 <= scan.discard <= len(buffer)
    if scan.frame is not None:
        check_frame(scan.frame)
        assert buffer[scan.discard - FRAME_LENGTH : scan.discard] == scan.frame
    else:
        # Whatever is kept starts with STX: nothing before a possible frame is kept.
        assert scan.discard == len(buffer) or buffer[scan.discard] == 0x02


@FAST_SETTINGS
@given(
    before=st.binary(max_size=300),
    after=st.binary(max_size=60),
    block=st.sampled_from(list(Block)),
)
def test_scan_finds_a_frame_between_garbage(before: bytes, after: bytes, block: Block) -> None:
    scan = scan_response(before + VALID[block] + after)
    assert scan.frame == VALID[block]


def _digits(width: int, decimals: int) -> st.SearchStrategy[FieldValue]:
    counts = st.integers(0, 10**width - 1)
    return counts.map(lambda n: n / 10**decimals) if decimals else counts


@st.composite
def field_values(draw: st.DrawFn, block: Block, scale: int) -> dict[str, FieldValue]:
    values: dict[str, FieldValue] = {}
    for spec in LAYOUTS[block]:
        match spec.kind:
            case Kind.KWH:
                values[spec.name] = draw(_digits(spec.length, scale))
            case Kind.FIXED:
                values[spec.name] = draw(_digits(spec.length, spec.decimals))
            case Kind.INT:
                values[spec.name] = draw(_digits(spec.length, 0))
            case Kind.CODE if spec.name != "kWh_Scale":
                values[spec.name] = draw(st.integers(0, 9))
            case Kind.POWER_FACTOR:
                hundredths = draw(st.integers(-100, 100))
                values[spec.name] = 1.0 if abs(hundredths) == 100 else hundredths / 100
            case Kind.BINARY:
                values[spec.name] = draw(
                    st.binary(min_size=spec.length, max_size=spec.length).map(
                        lambda raw: bytes(byte & 0x7F for byte in raw).hex()
                    )
                )
            case Kind.TEXT if spec.name == "Meter_Address":
                values[spec.name] = draw(st.text(string.digits, min_size=12, max_size=12))
            case Kind.TEXT if spec.name == "Meter_Time":
                values[spec.name] = draw(st.text(string.digits, min_size=14, max_size=14))
    return values


@FAST_SETTINGS
@given(data=st.data(), block=st.sampled_from(list(Block)), scale=st.integers(0, 3))
def test_encode_decode_round_trip(data: st.DataObject, block: Block, scale: int) -> None:
    scale = 1 if block is Block.V3 else scale
    values = data.draw(field_values(block, scale))
    decoded = decode_response(
        encode_response(block, values, kwh_scale=scale), block, kwh_scale=scale
    )
    for name, value in values.items():
        if name.startswith("Cos_Theta"):
            pf = float(value)
            assert decoded.fields[name] == abs(pf)
            code = 200 - round(abs(pf) * 100) if pf < 0 else round(abs(pf) * 100)
            assert decoded.fields[f"Power_Factor_Ln_{name[-1]}"] == code
        else:
            assert decoded.fields[name] == value, name


ARBITRARY = st.one_of(st.integers(), st.text(max_size=12), st.booleans(), st.none(), st.floats())
SMALL_INTS = st.integers(-5, 10_000)
# Passwords and addresses: mostly digits, including non-ASCII ones that str.isdigit() accepts.
DIGITISH = st.one_of(
    st.text(max_size=14),
    st.text(
        st.sampled_from(
            "0123456789 -" + "\u0660\u0661\u0665\u0669\uff10\uff11"
        ),  # Arabic-Indic, fullwidth
        min_size=7,
        max_size=13,
    ),
)
TRIPLES = st.lists(st.tuples(SMALL_INTS, SMALL_INTS, SMALL_INTS), max_size=6)


@FAST_SETTINGS
@given(
    call=st.one_of(
        st.builds(
            lambda a, b, c: lambda: commands.relay(a, b, c), ARBITRARY, st.booleans(), ARBITRARY
        ),
        st.builds(lambda a: lambda: commands.ct_ratio(a), ARBITRARY),
        st.builds(lambda a: lambda: commands.max_demand_period(a), ARBITRARY),
        st.builds(lambda a: lambda: commands.max_demand_auto_reset(a), ARBITRARY),
        st.builds(lambda a, b: lambda: commands.pulse_input_ratio(a, b), ARBITRARY, ARBITRARY),
        st.builds(lambda a: lambda: commands.pulse_output_ratio(a), ARBITRARY),
        st.builds(lambda a: lambda: commands.lcd_items(a), st.lists(SMALL_INTS, max_size=45)),
        st.builds(lambda a, b: lambda: commands.schedule(a, b), ARBITRARY, TRIPLES),
        st.builds(lambda a: lambda: commands.seasons(a), TRIPLES),
        st.builds(
            lambda a: lambda: commands.holidays(a),
            st.lists(st.tuples(SMALL_INTS, SMALL_INTS), max_size=22),
        ),
        st.builds(
            lambda a, b: lambda: commands.weekend_holiday_schedules(a, b), ARBITRARY, ARBITRARY
        ),
        st.builds(
            lambda a: lambda: commands.set_time(a), st.datetimes(min_value=datetime(1, 1, 1))
        ),
        st.builds(
            lambda a: lambda: commands.login_frame(a), DIGITISH.filter(lambda t: len(t) <= 10)
        ),
        st.builds(lambda a: lambda: normalize_address(a), DIGITISH),
    )
)
def test_builders_raise_only_invalid_parameter(call: object) -> None:
    assert callable(call)
    try:
        result = call()
    except InvalidParameterError:
        return
    if isinstance(result, commands.Command):
        frame = result.frame
        assert all(byte < 0x80 for byte in frame)
        assert frame[-3] == 0x03  # ETX, then the two CRC bytes
    else:
        assert isinstance(result, bytes | str)
        assert str(result).isascii()


@pytest.mark.parametrize("block", list(Block))
def test_simulator_values_survive_the_frame(block: Block) -> None:
    """The simulator's `values()` are already at the frame's resolution: nothing changes."""
    meter = V3_METER if block is Block.V3 else V4_METER
    values = meter.values(block)
    decoded = decode_response(VALID[block], block, kwh_scale=meter.kwh_scale).fields
    for name, value in values.items():
        if not name.startswith("Cos_Theta"):
            assert decoded[name] == value, name
