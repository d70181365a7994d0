"""The EKM CRC: CRC-16/MODBUS with both bytes masked to 7 bits.

The meter talks 7-bit ASCII (7E1), so it sends the MODBUS CRC low byte first and clears the top
bit of each byte. Coverage is everything after the leading SOH/STX up to and including ETX.
"""

from __future__ import annotations


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_modbus(data: bytes) -> int:
    """Plain CRC-16/MODBUS (init 0xFFFF, reflected poly 0xA001, no final XOR)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def ekm_crc(data: bytes) -> bytes:
    """The two CRC bytes as the meter puts them on the wire after ETX."""
    crc = crc16_modbus(data)
    return bytes((crc & 0x7F, (crc >> 8) & 0x7F))
