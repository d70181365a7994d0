"""The EKM MQTT stream and Summary API parsers for the fuzzer: seeds and targets.

Both parsers read what EKM's servers send with no answer of ours in between (a broker message,
a history page), so they get the same treatment as the polled answers: seeds from the
simulators that serve them, and targets that go on through what Home Assistant then does with
the result (every reading's accessors, the hour arithmetic of the statistics import), because
an exception raised there is an escape too.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from custom_components.meterlink.meters.energy_hours import hourly_energy
from custom_components.meterlink.meters.errors import MeterError
from custom_components.meterlink.meters.push.models import PushReadings
from custom_components.meterlink.meters.push.mqtt import StreamKind, parse_message
from custom_components.meterlink.meters.push.summary import (
    by_meter,
    interpret_summary,
    opening_registers,
    register_sample,
)

from ..ekm.push3 import Push3Simulator
from ..ekm.push_cloud import SimRead
from ..ekm.push_mqtt import realtime_payload
from ..ekm.push_summary import attach_summary
from .seeds import _cloud

_QUARTER_MS = 15 * 60 * 1000


def mqtt_seeds() -> list[bytes]:
    """Realtime messages the simulated gateway publishes: one read per device, and two polls."""
    cloud = _cloud()
    gateway = Push3Simulator(cloud)
    taken: list[dict[str, SimRead]] = []
    cloud.poll_listeners.append(taken.append)
    cloud.advance(61.0)
    cloud.poll()
    cloud.advance(61.0)
    cloud.poll()
    messages = [realtime_payload(gateway, reads) for reads in taken]
    both = {**json.loads(messages[0]), **{"other": 1}}
    return [*messages, json.dumps(both).encode()]


def mqtt_message(data: bytes, use: Callable[[PushReadings], None]) -> object:
    """A message as realtime and as summary, with and without the dedupe callback.

    `use` walks every accessor of the readings (the families module's walk, shared with the
    polled transports).
    """
    message = parse_message(data, StreamKind.REALTIME)
    use(message.readings)
    with contextlib.suppress(MeterError):
        use(parse_message(data, StreamKind.SUMMARY).readings)
    with contextlib.suppress(MeterError):
        parse_message(data, newer_than=lambda _address, stamp: stamp is None or stamp % 2 == 0)
    return message


def summary_seeds() -> list[bytes]:
    """Pages of `/summary` for two meters over two hours, and the status answers it gives."""
    cloud = _cloud()
    now = datetime(2026, 11, 2, tzinfo=UTC)
    service = attach_summary(cloud, first_report=now - timedelta(days=1), clock=now.timestamp)
    end = int(now.timestamp() * 1000)
    rows = service.rows(list(service.histories), end - 8 * _QUARTER_MS, end)
    return [
        json.dumps(rows).encode(),
        json.dumps(rows[::-1]).encode(),
        json.dumps({"error": {"code": 1002, "message": "First report 2026-11-01 00:00"}}).encode(),
        b"Error: bad arguments",
    ]


def summary(data: bytes) -> object:
    """A Summary page, and the hourly energy the statistics import computes from it."""
    page = interpret_summary(200, data, key="k", now=0.0)
    for buckets in by_meter(page.buckets).values():
        baseline = opening_registers(buckets[0])
        hourly_energy((register_sample(bucket) for bucket in buckets), baseline=baseline)
        for bucket in buckets:
            bucket.end_value("kWh_Tot")
    return page
