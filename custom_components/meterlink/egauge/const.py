"""Keys and defaults of eGauge entries (stored in config entries: values never change).

The connection keys are the core `egauge` integration's (`host`, `username`, `password`, `ssl`,
`verify_ssl`), so moving an entry over means typing the same four things.
"""

from __future__ import annotations

from typing import Final

CONF_SSL: Final = "ssl"  # HTTPS (default); off for eGauge2 / EG30xx meters
CONF_VERIFY_SSL: Final = "verify_ssl"  # check the certificate (a new meter's is self-signed)
CONF_SERIAL: Final = "serial"

# Options
CONF_REGISTERS: Final = "registers"  # the registers that get entities (empty: all)
CONF_NET: Final = "net_registers"  # signed net energy plus import/export
CONF_FLIPPED: Final = "flipped_registers"  # sign flipped (a CT installed the wrong way round)
CONF_REGISTER_DEVICES: Final = "register_devices"  # a device per register (under the meter)

DEFAULT_SCAN_INTERVAL: Final = 30
MIN_SCAN_INTERVAL: Final = 5
UPDATE_CHECK_INTERVAL: Final = 6 * 3600  # seconds between firmware availability checks
REBOOT_GRACE: Final = 120.0  # seconds a reboot we asked for may keep the meter away quietly
DIRECTION_HISTORY: Final = 3600  # seconds of history that classify net and one-way registers
