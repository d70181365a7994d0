"""Lifetime EKM registers never go backwards in Home Assistant, whatever the transport says.

A meter never counts its lifetime registers down, so a lower value can only be a bad read (a
corrupted frame that still passed its CRC, a cloud read of another meter, a stale gateway cache).
The guard holds the previous value instead, so the Energy dashboard never books a negative hour.
`EnergyGuard` serves every transport that yields `EkmReading`s (RS-485, EKM Push, Push3);
`CounterGuard` serves devices whose counters are independent (smart-MAC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from .const import LOGGER
from .meters.ekm import EkmReading, FieldValue

# Each pair is (both directions, reverse): the import derived from a pair (the difference) is
# a lifetime register too, so a pair is accepted or held as a whole.
GUARDED_PAIRS: Final[tuple[tuple[str, str], ...]] = (
    ("kWh_Tot", "Rev_kWh_Tot"),
    *((f"kWh_Tariff_{n}", f"Rev_kWh_Tariff_{n}") for n in (1, 2, 3, 4)),
    *((f"kWh_Ln_{n}", f"Rev_kWh_Ln_{n}") for n in (1, 2, 3)),
)
GUARDED_SINGLES: Final[tuple[str, ...]] = (
    "Reactive_Energy_Tot",
    "Pulse_Cnt_1",
    "Pulse_Cnt_2",
    "Pulse_Cnt_3",
)
# Registers the user may zero (command D3): they may drop, but only to zero.
RESETTABLE: Final[tuple[str, ...]] = ("kWh_Rst", "Rev_kWh_Rst")


@dataclass(slots=True)
class EnergyGuard:
    """The published lifetime registers of one meter, and which of them are held back."""

    address: str
    published: dict[str, float] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)  # held back right now (warned once)
    reset_expected: bool = False  # the resettable registers were zeroed by us

    def apply(self, reading: EkmReading) -> EkmReading:
        """The reading to publish: lower lifetime registers replaced by the previous values."""
        fields: dict[str, FieldValue] = dict(reading.fields)
        memory = self.published
        changed = False

        def accept(names: tuple[str, ...], ok: bool) -> None:
            nonlocal changed
            if ok:
                for name in names:
                    memory[name] = float(fields[name])
                    if name in self.held:
                        self.held.discard(name)
                        LOGGER.info("Meter %s: %s is increasing again", self.address, name)
                return
            changed = True
            for name in names:
                fields[name] = _as_published(memory[name], fields[name])
            if not self.held.issuperset(names):
                self.held.update(names)
                LOGGER.warning(
                    "Meter %s reported %s lower than before; keeping the previous value",
                    self.address,
                    ", ".join(names),
                )

        for total, reverse in GUARDED_PAIRS:
            new_total, new_reverse = reading.number(total), reading.number(reverse)
            if new_total is None or new_reverse is None:
                continue
            old_total, old_reverse = memory.get(total), memory.get(reverse)
            if old_total is None or old_reverse is None:
                accept((total, reverse), ok=True)
                continue
            accept(
                (total, reverse),
                ok=new_total >= old_total
                and new_reverse >= old_reverse
                and new_total - new_reverse >= old_total - old_reverse - 1e-9,
            )
        for name in GUARDED_SINGLES:
            if (value := reading.number(name)) is None:
                continue
            old = memory.get(name)
            accept((name,), ok=old is None or value >= old)
        for name in RESETTABLE:
            if (value := reading.number(name)) is None:
                continue
            old = memory.get(name)
            accept((name,), ok=old is None or value >= old or value == 0 or self.reset_expected)
        self.reset_expected = False
        if not changed:
            return reading
        return EkmReading(reading.address, reading.version, fields)


def _as_published(previous: float, new: FieldValue) -> FieldValue:
    """The held value in the same type the decoder uses for the field (int stays int)."""
    return int(previous) if isinstance(new, int) else previous


@dataclass(slots=True)
class CounterGuard:
    """Independent lifetime counters (smart-MAC Wh totals, pulse totals) that only grow.

    A drop to exactly zero is a reset done on the device and is passed on (Home Assistant's
    `total_increasing` books it as a new cycle); any other drop is a bad read and is held.
    """

    name: str  # the device, for the log
    published: dict[str, float] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)

    def apply(self, values: Mapping[str, float], counters: Iterable[str]) -> dict[str, float]:
        """`values` with every counter that went down (but not to zero) held at its last value."""
        result = dict(values)
        newly_held: list[str] = []
        for name in counters:
            if (value := values.get(name)) is None:
                continue
            old = self.published.get(name)
            if old is None or value >= old or value == 0:
                self.published[name] = value
                if name in self.held:
                    self.held.discard(name)
                    LOGGER.info("%s: %s is increasing again", self.name, name)
                continue
            result[name] = old
            if name not in self.held:
                self.held.add(name)
                newly_held.append(name)
        if newly_held:
            LOGGER.warning(
                "%s reported %s lower than before; keeping the previous value",
                self.name,
                ", ".join(sorted(newly_held)),
            )
        return result
