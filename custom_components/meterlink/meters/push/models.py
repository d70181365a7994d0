"""Typed results of EKM Push (cloud) and Push3 (LAN): meter and ioStack readings, inventory.

A meter's values are an `EkmReading`, the same model the RS-485 transport produces, so one
entity table serves every transport; what only the Push system knows (when the gateway read
the meter, which gateway, how reliable the link is) sits beside it in `PushMeterReading`.
ioStacks have no documented field list, so their reading keeps every field it was given.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..ekm.reading import EkmReading, FieldValue

TIMESTAMP_FIELD = "Time_Stamp_UTC_ms"
"""When the gateway read the device (Unix milliseconds); the staleness clock of every read."""


def _datetime(timestamp_ms: int | None) -> datetime | None:
    if timestamp_ms is None:
        return None
    try:
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    except OverflowError, OSError, ValueError:
        return None


def _age(timestamp_ms: int | None, now: float) -> float | None:
    if timestamp_ms is None:
        return None
    return max(0.0, now - timestamp_ms / 1000)


@dataclass(frozen=True, slots=True)
class PushMeterReading:
    """The newest good read of one Omnimeter, as the gateway took it.

    `reading.fields` carries `Time_Stamp_UTC_ms` too; `timestamp_ms` is the same value typed.
    `gateway` is the Push3's MAC address when the cloud names it (`MAC_Addr`), `reliability`
    the gateway's share of good reads in percent (Push3 `Reliability_Ratio`), and `extra` the
    read's fields that are not EKM meter fields (kept, never mixed into `reading`).
    """

    reading: EkmReading
    timestamp_ms: int | None = None
    gateway: str | None = None
    reliability: float | None = None
    extra: Mapping[str, FieldValue] = field(default_factory=dict)

    @property
    def address(self) -> str:
        """The meter's 12-digit address."""
        return self.reading.address

    @property
    def timestamp(self) -> datetime | None:
        """When the gateway read the meter (UTC), or None when the read has no time stamp."""
        return _datetime(self.timestamp_ms)

    def age(self, now: float) -> float | None:
        """Seconds since the gateway read the meter, at Unix time `now` (None: unknown).

        The Push system keeps serving a meter's last read after it stops answering, so this
        is how a silent meter is noticed.
        """
        return _age(self.timestamp_ms, now)

    def is_stale(self, max_age: float, now: float) -> bool:
        """Whether the read is older than `max_age` seconds (a read without time is stale)."""
        age = self.age(now)
        return age is None or age > max_age


@dataclass(frozen=True, slots=True)
class IoStackReading:
    """The newest good read of one ioStack: every field, numbers where they are numeric."""

    address: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    timestamp_ms: int | None = None
    gateway: str | None = None

    def number(self, name: str) -> float | None:
        """A numeric field, or None."""
        value = self.fields.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if isinstance(value, int):  # math.isfinite would overflow on a huge integer
            return value if abs(value) <= sys.float_info.max else None
        return value if math.isfinite(value) else None

    @property
    def timestamp(self) -> datetime | None:
        """When the gateway read the ioStack (UTC)."""
        return _datetime(self.timestamp_ms)

    def age(self, now: float) -> float | None:
        """Seconds since the gateway read the ioStack, at Unix time `now`."""
        return _age(self.timestamp_ms, now)

    def is_stale(self, max_age: float, now: float) -> bool:
        """Whether the read is older than `max_age` seconds (a read without time is stale)."""
        age = self.age(now)
        return age is None or age > max_age


@dataclass(frozen=True, slots=True)
class PushReadings:
    """One poll's result: readings by 12-digit address, and why the others have none.

    `missing` names devices that were asked for (or listed) but gave no good read, with a short
    reason ("only bad reads", "no data yet (API 1000)", ...), so a caller can mark exactly
    those unavailable while the rest update.
    """

    meters: Mapping[str, PushMeterReading] = field(default_factory=dict)
    iostacks: Mapping[str, IoStackReading] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)

    def merged_with(self, other: PushReadings) -> PushReadings:
        """Combine two polls (batches); a device with a reading in either is not missing."""
        meters = {**self.meters, **other.meters}
        iostacks = {**self.iostacks, **other.iostacks}
        missing = {
            address: reason
            for address, reason in {**self.missing, **other.missing}.items()
            if address not in meters and address not in iostacks
        }
        return PushReadings(meters, iostacks, missing)

    @property
    def addresses(self) -> frozenset[str]:
        """Every device with a reading."""
        return frozenset(self.meters) | frozenset(self.iostacks)

    @property
    def gateways(self) -> frozenset[str]:
        """MAC addresses of the gateways the readings came through (cloud only)."""
        found = [r.gateway for r in self.meters.values()]
        found += [r.gateway for r in self.iostacks.values()]
        return frozenset(mac for mac in found if mac)


@dataclass(frozen=True, slots=True)
class PushGateway:
    """A Push3 gateway on the account: its MAC (the Push system's id), name and devices."""

    mac: str
    name: str | None = None
    meters: tuple[str, ...] = ()
    iostacks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PushInventory:
    """What a key may see: gateways, and every meter and ioStack (with or without gateway)."""

    gateways: tuple[PushGateway, ...] = ()
    meters: tuple[str, ...] = ()
    iostacks: tuple[str, ...] = ()

    @property
    def devices(self) -> tuple[str, ...]:
        """Meters then ioStacks: every address a realtime read should ask for."""
        return (*self.meters, *(a for a in self.iostacks if a not in self.meters))

    def gateway_of(self, address: str) -> PushGateway | None:
        """The gateway a meter or ioStack belongs to, when the account says so."""
        return next(
            (g for g in self.gateways if address in g.meters or address in g.iostacks), None
        )
