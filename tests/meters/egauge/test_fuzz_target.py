"""The eGauge fuzz target over mutated seeds: nothing but a MeterError may come out."""

from __future__ import annotations

import random

from custom_components.meterlink.meters.errors import MeterError
from simulator.fuzz import egauge


def _mutations(seed: bytes, rng: random.Random, count: int) -> list[bytes]:
    result = []
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            choice = rng.random()
            position = rng.randrange(len(data) + 1)
            if choice < 0.4 and data:
                data[min(position, len(data) - 1)] = rng.randrange(256)
            elif choice < 0.7:
                data[position:position] = rng.choice([b'"', b"-", b"9" * 20, b"[]", b"{}", b"null"])
            else:
                del data[position : position + rng.randint(1, 16)]
        result.append(bytes(data))
    return result


def test_seeds_are_understood() -> None:
    seeds = egauge.seeds()
    assert len(seeds) >= 10
    for seed in seeds:
        assert egauge.target(seed) is not None


def test_mutated_seeds_give_models_or_typed_errors() -> None:
    rng = random.Random(12)
    escapes = []
    for seed in egauge.seeds():
        for data in _mutations(seed, rng, 40):
            try:
                egauge.target(data)
            except MeterError:
                pass
            except Exception as err:
                escapes.append((data[:80], repr(err)))
    assert escapes == []
