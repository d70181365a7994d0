"""`python -m benchmarks mqtt-parse`: what parsing one EKM MQTT message costs (library only).

The message is what `simulator.push_mqtt` publishes for 1, 100 or 1000 v4 meters on one
gateway (Push3 LAN shapes, about 1.3 kB per meter). Per message, median CPU milliseconds
(`time.thread_time()`, no other thread involved) of:

* changed: every meter brings a newer read, so every member is parsed into an `EkmReading`;
* unchanged: every read is the one already published (`newer_than` says no), so the cost is
  the JSON decode and one time-stamp check per meter;
* decode: `orjson.loads` alone, the floor of any message.

The Home Assistant side (coordinator, state writes) is `scripts/bench push`'s streaming
scenario; this is the part of it the library owns.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import orjson

from custom_components.meterlink.meters.push.mqtt import parse_message
from simulator.ekm.meter import SimMeter
from simulator.ekm.push3 import Push3Simulator
from simulator.ekm.push_cloud import PushSimulator
from simulator.ekm.push_mqtt import realtime_payload


def _median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.thread_time()
        action()
        samples.append((time.thread_time() - start) * 1000)
    return statistics.median(samples)


def parse_costs(meters: int, runs: int) -> tuple[int, float, float, float]:
    """Payload bytes and the changed, unchanged and decode-only CPU ms of one message."""
    simulator = PushSimulator(
        [SimMeter(f"{300001001 + n:012d}") for n in range(meters)], auto_poll=False
    )
    simulator.poll()
    reads = {address: history[-1] for address, history in simulator.history.items()}
    payload = realtime_payload(Push3Simulator(simulator), reads)
    published = {address: read.timestamp_ms for address, read in reads.items()}

    def newer(address: str, timestamp: int | None) -> bool:
        return timestamp is not None and timestamp > published.get(address, -1)

    def older(address: str, timestamp: int | None) -> bool:
        return True

    changed = _median_ms(lambda: parse_message(payload, newer_than=older), runs)
    unchanged = _median_ms(lambda: parse_message(payload, newer_than=newer), runs)
    decode = _median_ms(lambda: orjson.loads(payload), runs)
    assert not parse_message(payload, newer_than=newer).readings.meters
    assert len(parse_message(payload).readings.meters) == meters
    return len(payload), changed, unchanged, decode


def mqtt_parse_bench(sizes: list[int], runs: int) -> None:
    """Print one row per size."""
    print(f"EKM MQTT realtime message -> readings (library); CPU ms, median of {runs} runs")
    print("per 100 meters in a message (at least 5).")
    print(f"{'meters':>6} {'bytes':>9} {'changed':>9} {'unchanged':>9} {'decode':>9}")
    for meters in sizes:
        size, changed, unchanged, decode = parse_costs(
            meters, max(5, runs // max(1, meters // 100))
        )
        print(f"{meters:>6} {size:>9} {changed:>9.3f} {unchanged:>9.3f} {decode:>9.3f}")
    print("HA target (with coordinator and state writes): <= 5 ms for an unchanged 100-meter one.")
