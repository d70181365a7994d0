"""The EKM CRC against the vectors captured from EKM Dash and published by other clients."""

import pytest

from custom_components.meterlink.meters.ekm.commands import (
    login_frame,
    relay,
    set_time,
    write_frame,
)
from custom_components.meterlink.meters.ekm.crc import crc16_modbus, ekm_crc


@pytest.mark.parametrize(
    ("covered", "crc"),
    [
        (b"R1\x020011()\x03", b"\x13\x16"),
        (b"P1\x02(00000000)\x03", b"\x32\x44"),
        (b"W1\x020060(15090103100620)\x03", b"\x55\x62"),
        (b"W1\x020074(030001040002070003110004000000000000000000000000)\x03", b"\x67\x4c"),
        (b"W1\x020081(10000)\x03", b"\x31\x61"),
        (b"W1\x020081(00000)\x03", b"\x21\x21"),
        (b"W1\x020082(10000)\x03", b"\x25\x11"),
        (b"W1\x020082(00000)\x03", b"\x35\x51"),
        (b"R1\x020012()\x03", b"\x13\x52"),
        (b"R1\x020070()\x03", b"\x1a\x6a"),
        (b"R1\x020071()\x03", b"\x1b\x16"),
        (b"R1\x0200B0()\x03", b"\x17\x21"),
    ],
)
def test_published_vectors(covered: bytes, crc: bytes) -> None:
    assert ekm_crc(covered) == crc


def test_crc_is_plain_modbus_underneath() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37  # the CRC-16/MODBUS check value
    assert crc16_modbus(b"R1\x020011()\x03") == 0x9693


def test_builders_put_the_crc_after_etx_and_cover_from_after_soh() -> None:
    assert login_frame("00000000") == b"\x01P1\x02(00000000)\x03\x32\x44"
    assert relay(1, closed=True).frame == b"\x01W1\x020081(10000)\x03\x31\x61"
    assert relay(2, closed=False).frame == b"\x01W1\x020082(00000)\x03\x35\x51"
    assert ekm_crc(b"R1\x020011()\x03") == b"\x13\x16"  # R1 settings read, 0011
    assert write_frame("60", "15090103100620").endswith(b"\x03\x55\x62")


def test_set_time_counts_sunday_as_day_one() -> None:
    from datetime import datetime

    # EKM Dash set Tuesday 2015-09-01 10:06:20 as day 03.
    assert set_time(datetime(2015, 9, 1, 10, 6, 20)).frame.endswith(b"(15090103100620)\x03\x55\x62")
    assert set_time(datetime(2026, 3, 1, 0, 0, 0)).data == "26030101000000"  # a Sunday
