"""Frame decoding: hand-built frames at the offsets of ekm.md, round trips, every error path."""

from __future__ import annotations

import pytest

from custom_components.meterlink.meters.ekm.crc import ekm_crc
from custom_components.meterlink.meters.ekm.frames import (
    CLOSE_FRAME,
    check_frame,
    decode_response,
    encode_response,
    normalize_address,
    read_request,
    scan_response,
)
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterAddressError,
    MeterCrcError,
    MeterFrameError,
)

ADDRESS = b"000300002570"
# Power-factor fields must carry a valid prefix even in an otherwise all-zero payload.
PF_OFFSETS = {Block.V3: (151, 155, 159), Block.V4A: (159, 163, 167), Block.V4B: (135, 139, 143)}


def hand_frame(block: Block, fields: dict[int, bytes], *, fix_crc: bool = True) -> bytes:
    """A 255-byte frame assembled byte by byte from ekm.md's offset tables."""
    frame = bytearray(b"0" * 255)
    frame[0] = 0x02
    frame[1:4] = b"\x10\x24\x19" if block is not Block.V3 else b"\x10\x17\x14"
    frame[4:16] = ADDRESS
    for offset in PF_OFFSETS[block]:
        frame[offset : offset + 4] = b" 100"
    if block is Block.V4A:
        frame[230:231] = b"2"  # kWh_Scale
        frame[247:249] = b"00"
    elif block is Block.V4B:
        frame[247:249] = b"01"
    for offset, raw in fields.items():
        frame[offset : offset + len(raw)] = raw
    frame[249:253] = b"!\r\n\x03"
    frame[253:255] = ekm_crc(bytes(frame[1:253])) if fix_crc else frame[253:255]
    return bytes(frame)


def test_v3_offsets() -> None:
    frame = hand_frame(
        Block.V3,
        {
            16: b"00123456",  # kWh_Tot, one decimal
            24: b"00000101",  # kWh_Tariff_1
            56: b"00000042",  # Rev_kWh_Tot
            96: b"1203",  # RMS_Volts_Ln_1
            108: b"00155",  # Amps_Ln_1
            123: b"0001860",  # RMS_Watts_Ln_1
            144: b"0001860",  # RMS_Watts_Tot
            151: b"C097",  # Cos_Theta_Ln_1
            163: b"00012345",  # RMS_Watts_Max_Demand
            171: b"2",  # Max_Demand_Period
            172: b"12070707010203",  # Meter_Time
            186: b"0200",  # CT_Ratio
            190: b"00000777",  # Pulse_Cnt_1
            214: b"0010",  # Pulse_Ratio_1
            226: b"005",  # State_Inputs
        },
    )
    reading = decode_response(frame, Block.V3, address="000300002570")
    fields = reading.fields
    assert reading.version is MeterVersion.V3
    assert reading.model == "1017"
    assert reading.firmware == "14"
    assert fields["kWh_Tot"] == 12345.6
    assert fields["kWh_Tariff_1"] == 10.1
    assert fields["Rev_kWh_Tot"] == 4.2
    assert fields["RMS_Volts_Ln_1"] == 120.3
    assert fields["Amps_Ln_1"] == 15.5
    assert fields["RMS_Watts_Ln_1"] == 1860
    assert fields["RMS_Watts_Tot"] == 1860
    assert fields["Cos_Theta_Ln_1"] == 0.97
    assert fields["Power_Factor_Ln_1"] == 103
    assert fields["Power_Factor_Ln_2"] == 100
    assert fields["RMS_Watts_Max_Demand"] == 1234.5
    assert fields["Max_Demand_Period"] == 2
    assert reading.demand_period_minutes == 30
    assert fields["Meter_Time"] == "12070707010203"
    assert fields["CT_Ratio"] == 200
    assert fields["Pulse_Cnt_1"] == 777
    assert fields["Pulse_Ratio_1"] == 10
    assert fields["State_Inputs"] == 5
    assert "Net_Calc_Watts_Tot" not in fields  # v3 has no direction flags


def test_v4a_offsets() -> None:
    frame = hand_frame(
        Block.V4A,
        {
            16: b"00004541",  # kWh_Tot / 10^2
            24: b"00002023",  # Reactive_Energy_Tot
            32: b"00000100",  # Rev_kWh_Tot
            40: b"00001332",  # kWh_Ln_1
            64: b"00000050",  # Rev_kWh_Ln_1
            88: b"00000999",  # kWh_Rst
            104: b"1211",  # RMS_Volts_Ln_1
            116: b"00060",  # Amps_Ln_1
            131: b"0000600",  # RMS_Watts_Ln_1
            138: b"0000528",  # RMS_Watts_Ln_2
            152: b"0001128",  # RMS_Watts_Tot
            159: b"L083",  # Cos_Theta_Ln_1
            171: b"0000120",  # Reactive_Pwr_Ln_1
            192: b"0000220",  # Reactive_Pwr_Tot
            199: b"6005",  # Line_Freq
            203: b"00016422",  # Pulse_Cnt_1
            227: b"3",  # State_Inputs: inputs 2 and 3 low
            228: b"2",  # State_Watts_Dir: F F R
            229: b"3",  # State_Out: relay 1 on, relay 2 off
            233: b"15090103100622",  # Meter_Time
        },
    )
    reading = decode_response(frame, Block.V4A, address="300002570")
    fields = reading.fields
    assert reading.address == "000300002570"
    assert fields["kWh_Scale"] == 2
    assert fields["kWh_Tot"] == 45.41
    assert fields["Reactive_Energy_Tot"] == 20.23
    assert fields["Rev_kWh_Tot"] == 1.0
    assert fields["kWh_Ln_1"] == 13.32
    assert fields["Rev_kWh_Ln_1"] == 0.5
    assert fields["kWh_Rst"] == 9.99
    assert fields["RMS_Volts_Ln_1"] == 121.1
    assert fields["Amps_Ln_1"] == 6.0
    assert fields["Cos_Theta_Ln_1"] == 0.83
    assert fields["Power_Factor_Ln_1"] == 83
    assert fields["Reactive_Pwr_Ln_1"] == 120
    assert fields["Reactive_Pwr_Tot"] == 220
    assert fields["Line_Freq"] == 60.05
    assert fields["Pulse_Cnt_1"] == 16422
    assert fields["Meter_Time"] == "15090103100622"
    assert "Request_Type" not in fields
    assert reading.input_low(1) is False
    assert reading.input_low(2) is True
    assert reading.relay_closed(1) is True
    assert reading.relay_closed(2) is False
    assert fields["Net_Calc_Watts_Ln_1"] == 600
    assert fields["Net_Calc_Watts_Tot"] == 600 + 528
    assert reading.import_kwh == 44.41


def test_v4b_offsets_take_the_scale_from_the_a_block() -> None:
    frame = hand_frame(
        Block.V4B,
        {
            16: b"00001234",  # kWh_Tariff_1
            48: b"00000017",  # Rev_kWh_Tariff_1
            80: b"2400",  # RMS_Volts_Ln_1
            147: b"00025000",  # RMS_Watts_Max_Demand
            155: b"3",  # Max_Demand_Period
            156: b"0800",  # Pulse_Ratio_1
            168: b"0400",  # CT_Ratio
            172: b"4",  # Max_Demand_Rst
            173: b"1600",  # CF_Ratio
            233: b"26030101000000",
        },
    )
    fields = decode_response(frame, Block.V4B, kwh_scale=1).fields
    assert fields["kWh_Tariff_1"] == 123.4
    assert fields["Rev_kWh_Tariff_1"] == 1.7
    assert fields["RMS_Volts_Ln_1"] == 240.0
    assert fields["RMS_Watts_Max_Demand"] == 2500.0
    assert fields["Max_Demand_Period"] == 3
    assert fields["Pulse_Ratio_1"] == 800
    assert fields["CT_Ratio"] == 400
    assert fields["Max_Demand_Rst"] == 4
    assert fields["CF_Ratio"] == 1600
    # Without the A block's scale the energies are left out rather than guessed.
    unscaled = decode_response(frame, Block.V4B).fields
    assert "kWh_Tariff_1" not in unscaled
    assert unscaled["CT_Ratio"] == 400
    assert decode_response(frame, Block.V4B, kwh_scale=0).fields["kWh_Tariff_1"] == 1234


def test_encode_matches_the_hand_built_layout() -> None:
    values = {"Meter_Address": "000300002570", "Model": "1024", "Firmware": "19", "kWh_Tot": 45.41}
    encoded = encode_response(Block.V4A, values, kwh_scale=2)
    assert encoded[16:24] == b"00004541"
    assert encoded[230:231] == b"2"
    assert encoded[247:249] == b"00"
    check_frame(encoded)


@pytest.mark.parametrize("block", list(Block))
def test_round_trip(block: Block) -> None:
    values = {
        "Model": "1024",
        "Firmware": "1c",
        "Meter_Address": "000300001001",
        "Meter_Time": "26030101123456",
        "RMS_Volts_Ln_1": 119.9,
        "Amps_Ln_2": 12.3,
        "RMS_Watts_Ln_3": 4321,
        "Cos_Theta_Ln_1": -0.87,  # leading
        "Cos_Theta_Ln_2": 0.5,  # lagging
        "CT_Ratio": 200,
        "kWh_Tot": 1234.5,
    }
    reading = decode_response(encode_response(block, values, kwh_scale=1), block, kwh_scale=1)
    for name, value in values.items():
        if name.startswith("Cos_Theta") or name not in reading.fields:
            continue
        assert reading.fields[name] == value
    assert reading.fields["Cos_Theta_Ln_1"] == 0.87
    assert reading.fields["Power_Factor_Ln_1"] == 113
    assert reading.fields["Power_Factor_Ln_2"] == 50
    assert reading.fields["Power_Factor_Ln_3"] == 100


def resealed(frame: bytes, offset: int, raw: bytes) -> bytes:
    """`frame` with bytes replaced and a CRC that matches again, to reach the field checks."""
    patched = bytearray(frame)
    patched[offset : offset + len(raw)] = raw
    patched[253:255] = ekm_crc(bytes(patched[1:253]))
    return bytes(patched)


VALID_A = hand_frame(Block.V4A, {16: b"00004541"})


@pytest.mark.parametrize(
    ("frame", "error", "match"),
    [
        (VALID_A[:-1], MeterFrameError, "254 bytes"),
        (VALID_A + b"\x00", MeterFrameError, "256 bytes"),
        (b"\x01" + VALID_A[1:], MeterFrameError, "STX"),
        (resealed(VALID_A, 249, b"?"), MeterFrameError, "CR LF ETX"),
        (VALID_A[:253] + b"\x00\x00", MeterCrcError, "CRC"),
        (resealed(VALID_A, 16, b"0000X541"), MeterFrameError, "kWh_Tot"),
        (resealed(VALID_A, 104, b"12.1"), MeterFrameError, "RMS_Volts_Ln_1"),
        (resealed(VALID_A, 159, b"Q099"), MeterFrameError, "prefix"),
        (resealed(VALID_A, 159, b"L0x9"), MeterFrameError, "Cos_Theta_Ln_1"),
        (resealed(VALID_A, 230, b"7"), MeterFrameError, "kWh_Scale"),
        (resealed(VALID_A, 230, b"x"), MeterFrameError, "kWh_Scale"),
        (resealed(VALID_A, 4, b"00030000257A"), MeterFrameError, "address"),
        (resealed(VALID_A, 233, b"\x01"), MeterFrameError, "Meter_Time"),
        (resealed(VALID_A, 228, b"\x7f"), MeterFrameError, "State_Watts_Dir"),
        (resealed(VALID_A, 200, b"\xb0"), MeterFrameError, "7-bit"),
    ],
)
def test_error_paths(frame: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        decode_response(frame, Block.V4A)


def test_an_a_frame_is_not_a_b_frame_nor_a_v3_frame() -> None:
    with pytest.raises(MeterFrameError, match="block"):
        decode_response(VALID_A, Block.V4B, kwh_scale=2)
    with pytest.raises(MeterFrameError):
        decode_response(VALID_A, Block.V3)  # digits where v3 keeps a power-factor prefix


def test_address_mismatch_is_its_own_error() -> None:
    with pytest.raises(MeterAddressError, match="000300002570"):
        decode_response(VALID_A, Block.V4A, address="000300002571")


def test_codes_may_be_printable_status_characters() -> None:
    fields = decode_response(resealed(VALID_A, 229, b"S"), Block.V4A).fields
    assert fields["State_Out"] == "S"


def test_requests() -> None:
    assert read_request("300001001", Block.V3) == b"/?000300001001!\r\n"
    assert read_request("000300001001", Block.V4A) == b"/?00030000100100!\r\n"
    assert read_request("300001001", Block.V4B) == b"/?00030000100101!\r\n"
    assert CLOSE_FRAME == b"\x01B0\x03u"


@pytest.mark.parametrize("text", ["", "12345678", "1234567890123", "30000100a", "abc"])
def test_addresses_are_9_to_12_digits(text: str) -> None:
    with pytest.raises(InvalidParameterError):
        normalize_address(text)


def test_address_normalisation() -> None:
    assert normalize_address("300 001-001") == "000300001001"
    assert normalize_address("000300001001") == "000300001001"


def test_scan_skips_garbage_and_rejects_damaged_candidates() -> None:
    broken = VALID_A[:253] + b"\x00\x00"
    scan = scan_response(b"\x02junk" + broken + VALID_A + b"tail")
    assert scan.frame == VALID_A
    assert scan.discard == 5 + 255 + 255
    assert isinstance(scan.rejected, MeterCrcError)
    partial = scan_response(b"xx" + VALID_A[:100])
    assert partial.frame is None
    assert partial.discard == 2  # keep the started frame
    assert scan_response(b"no stx here").discard == 11
