"""Typed smart-MAC readings, keyed by the device's own keys.

The device's keys (`V1`, `Wh1`, `TWh`, `Ch1`, ...) are kept as they are instead of being mapped
to our own names: the key set differs per model and firmware, and anything we did not foresee
must still reach the user rather than disappear in a translation table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

STANDARD_INTERVAL = 60.0
"""Seconds between requests a standard-version device accepts (vendor API doc)."""

EXTENDED_INTERVAL = 6.0
"""Seconds between requests an extended-version device accepts (vendor API doc)."""


class SmartMacModel(StrEnum):
    """Device family, as far as it can be told from the keys of a reading."""

    D101 = "D101"  # single phase
    D103 = "D103"  # three phases (or three single-phase lines)
    D105 = "D105"  # two pulse counters, temperature probes, analog input
    UNKNOWN = "unknown"


class RelayPolarity(StrEnum):
    """How `pout` maps to the relay state (the stored option values; their names are history).

    The vendor's request text says "0 - turn-on / 1 - turn-off", but the same page annotates
    its example answer `"pout": "0", // relay status 0-Off / 1-On`, and the only public working
    client sent `pout=1` for on and read 1 as on for over a year without a polarity complaint
    (vendor-evidence.md S4). So "1 = on" is the default (`DEFAULT_RELAY_POLARITY`); the other
    reading stays available for a device that proves the request text right.
    """

    VENDOR_DOC = "vendor"  # pout "0" = on, "1" = off: the vendor's request text
    INVERTED = "inverted"  # pout "1" = on, "0" = off: the vendor's example answer, field use


DEFAULT_RELAY_POLARITY = RelayPolarity.INVERTED
"""1 = on, for sending and reading alike (see RelayPolarity)."""


def pout_for(on: bool, polarity: RelayPolarity) -> str:
    """The `pout` value that asks for relay state `on` under `polarity`."""
    if polarity is RelayPolarity.VENDOR_DOC:
        return "0" if on else "1"
    return "1" if on else "0"


@dataclass(frozen=True, slots=True)
class SmartMacReading:
    """One getdata answer.

    `values` holds every entry whose value is a finite number, in the unit the device reports
    (`units`); Wh stays Wh so nothing is rescaled twice. Entries whose value is missing or not a
    number land in `extra` as the raw text instead, so an unparseable value is never shown as 0.
    `attributes` keeps the top-level strings as sent (`devid`, `time`, `pout`, `powset`, ...).
    """

    devid: str
    time: int | None
    pout: str | None
    model: SmartMacModel
    extended: bool
    values: Mapping[str, float] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)


def request_interval(extended: bool) -> float:
    """Seconds a device wants between requests: an extended version needs more."""
    return EXTENDED_INTERVAL if extended else STANDARD_INTERVAL


def relay_on(reading: SmartMacReading, polarity: RelayPolarity) -> bool | None:
    """Whether the relay is on, or None when the reading carries no recognisable `pout`."""
    pout = (reading.pout or "").strip()
    if pout not in {"0", "1"}:
        return None
    return pout == pout_for(True, polarity)
