"""A frame captured from a real v4 Omnimeter: offsets, scaling and CRC as the meter has them."""

from pathlib import Path

import pytest

from custom_components.meterlink.meters.ekm.frames import decode_response
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.errors import MeterCrcError, MeterFrameError

CAPTURE = bytes.fromhex(
    (Path(__file__).resolve().parents[2] / "fixtures" / "ekm_v4a_capture.hex").read_text()
)


def test_real_v4a_frame_decodes_to_the_meter_values() -> None:
    reading = decode_response(CAPTURE, Block.V4A, address="300002570")
    fields = reading.fields
    assert reading.model == "1024"
    assert reading.firmware == "19"
    assert reading.address == "000300002570"
    assert fields["kWh_Scale"] == 2
    assert fields["kWh_Tot"] == 45.41
    assert fields["Reactive_Energy_Tot"] == 20.23
    assert fields["kWh_Ln_1"] == 13.32
    assert fields["kWh_Ln_2"] == 32.08
    assert fields["kWh_Rst"] == 45.41
    assert fields["RMS_Volts_Ln_1"] == 121.1
    assert fields["RMS_Volts_Ln_2"] == 121.4
    assert fields["Amps_Ln_1"] == 6.0
    assert fields["Amps_Ln_2"] == 4.8
    assert fields["RMS_Watts_Ln_1"] == 600
    assert fields["RMS_Watts_Ln_2"] == 528
    assert fields["RMS_Watts_Tot"] == 1132
    # "C099" and "C097": leading power factors, EKM's integer form is 200 - x.
    assert fields["Cos_Theta_Ln_1"] == 0.99
    assert fields["Power_Factor_Ln_1"] == 101
    assert fields["Power_Factor_Ln_2"] == 103
    assert fields["Reactive_Pwr_Tot"] == 220
    assert fields["Line_Freq"] == 60.05
    assert fields["Pulse_Cnt_1"] == 16422
    assert fields["State_Watts_Dir"] == 1
    assert fields["State_Out"] == 3
    assert fields["Meter_Time"] == "15090103100622"
    # EKM Dash set the clock to Tuesday 2015-09-01 10:06:20 a moment earlier (Sunday = 01).
    assert reading.meter_time is not None
    assert reading.meter_time.isoformat() == "2015-09-01T10:06:22"
    assert reading.import_kwh == 45.41
    assert reading.relay_closed(1) is True
    assert reading.relay_closed(2) is False


@pytest.mark.parametrize("position", [20, 150, 240, 253])
def test_a_single_flipped_bit_in_the_real_frame_is_rejected(position: int) -> None:
    corrupted = bytearray(CAPTURE)
    corrupted[position] ^= 0x01
    with pytest.raises(MeterFrameError):
        decode_response(bytes(corrupted), Block.V4A)


def test_the_real_frame_is_not_a_b_block() -> None:
    with pytest.raises(MeterFrameError, match="block"):
        decode_response(CAPTURE, Block.V4B, kwh_scale=2)
    assert issubclass(MeterCrcError, MeterFrameError)
