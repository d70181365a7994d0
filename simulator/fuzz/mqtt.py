"""The EKM MQTT stream parser for the fuzzer: seeds and a target.

A broker message arrives with no request of ours before it, so it gets the same treatment as
the polled answers: seeds from the simulated gateway that publishes them, and a target that
goes on through every accessor Home Assistant then reads, because an exception raised there is
an escape too.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from custom_components.meterlink.meters.errors import MeterError
from custom_components.meterlink.meters.push.models import PushReadings
from custom_components.meterlink.meters.push.mqtt import StreamKind, parse_message

from ..ekm.push3 import Push3Simulator
from ..ekm.push_cloud import SimRead
from ..ekm.push_mqtt import realtime_payload
from .seeds import _cloud


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
