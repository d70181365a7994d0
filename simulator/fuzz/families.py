"""The parser families the fuzzer knows: seeds, and what one input runs through.

Add a parser with one line in `FAMILIES` (a name, a seed function, a target). A target takes
the raw bytes and drives them through everything a caller would do with the result (the
accessors entities read included), because an exception raised later, inside an entity, is an
escape too.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from custom_components.meterlink.meters.ekm.frames import decode_response, scan_response
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import EkmReading
from custom_components.meterlink.meters.errors import MeterError
from custom_components.meterlink.meters.push.account import interpret_account
from custom_components.meterlink.meters.push.models import PushReadings
from custom_components.meterlink.meters.push.push3 import interpret_push3
from custom_components.meterlink.meters.push.realtime import interpret_readmeter
from custom_components.meterlink.meters.push.rrule import parse_rrule
from custom_components.meterlink.meters.push.settings.stream import (
    StreamDecoder,
    answers_in,
    parse_answer,
    parse_receipt,
)
from custom_components.meterlink.meters.push.triggers import (
    RRuleCondition,
    parse_triggers,
    validate_trigger,
)
from custom_components.meterlink.meters.smartmac.models import (
    RelayPolarity,
    relay_on,
    request_interval,
)
from custom_components.meterlink.meters.smartmac.protocol import interpret_response

from . import seeds

NOW = 1_700_000_000.0


@dataclass(frozen=True)
class Family:
    """One parser family: `target(data)` must return or raise a MeterError, nothing else."""

    name: str
    seeds: Callable[[], list[bytes]]
    target: Callable[[bytes], object]
    structured: bool = True  # seeds are JSON: mutate their structure too


# Targets ------------------------------------------------------------------------------------


def _use_ekm_reading(reading: EkmReading) -> None:
    for name in reading.fields:
        reading.number(name)
        reading.code(name)
    _ = (reading.model, reading.model_name, reading.firmware, reading.meter_time)
    _ = (reading.import_kwh, reading.demand_period_minutes, reading.auto_reset_interval)
    for line in (1, 2, 3):
        reading.line_direction(line)
        reading.input_low(line)
    for relay in (1, 2):
        reading.relay_closed(relay)


def rs485(data: bytes) -> object:
    """A receive buffer: find a frame, decode it as every block (with and without scale)."""
    scan = scan_response(data)
    frame = scan.frame if scan.frame is not None else data[:255]
    for block in Block:
        for scale in (None, 0, 3):
            try:
                reading = decode_response(frame, block, kwh_scale=scale)
            except MeterError:
                continue
            _use_ekm_reading(reading)
    return scan


def _use_push(readings: PushReadings) -> None:
    for meter in readings.meters.values():
        _use_ekm_reading(meter.reading)
        _ = (meter.timestamp, meter.age(NOW), meter.is_stale(60, NOW), meter.extra)
    for stack in readings.iostacks.values():
        for name in stack.fields:
            stack.number(name)
        _ = (stack.timestamp, stack.age(NOW), stack.is_stale(60, NOW))
    merged = readings.merged_with(readings)
    _ = (merged.addresses, merged.gateways)


def cloud_readmeter(data: bytes) -> object:
    """An answer to readMeter, asked for two devices."""
    readings = interpret_readmeter(200, data, key="k", requested=(seeds.V4, "000000000001"))
    _use_push(readings)
    return readings


def push3_readmeter(data: bytes) -> object:
    """A Push3 LAN answer (also as the wrong-key 500 it may be)."""
    readings = interpret_push3(200, data)
    _use_push(readings)
    with contextlib.suppress(MeterError):
        interpret_push3(500, data)
    return readings


def account(data: bytes) -> object:
    """An Account API answer: the inventory and every lookup on it."""
    inventory = interpret_account(200, data, key="k")
    for address in inventory.devices:
        inventory.gateway_of(address)
    return inventory


def triggers(data: bytes) -> object:
    """A Trigger API answer; each trigger sent back (validated) and its rules parsed.

    The same bytes are also taken as a trigger a user gives to the create service.
    """
    found = []
    with contextlib.suppress(MeterError):
        found = parse_triggers(data)
    for trigger in found:
        _ = (trigger.as_json(), trigger.writable_json())
        for condition in trigger.conditions:
            if isinstance(condition, RRuleCondition):
                with contextlib.suppress(MeterError):
                    parse_rrule(condition.rrule).format()
        with contextlib.suppress(MeterError):
            validate_trigger(trigger)
    try:
        document = json.loads(data)
    except ValueError, RecursionError:
        return found
    if isinstance(document, dict) and isinstance(document.get("triggers"), list):
        for item in document["triggers"][:4]:
            with contextlib.suppress(MeterError):
                validate_trigger(item if isinstance(item, dict) else {"x": item})
    elif isinstance(document, dict):
        validate_trigger(document)
    return found


def rrule(data: bytes) -> object:
    """An RRULE condition text."""
    return parse_rrule(data.decode("utf-8", "replace")).format()


def device_stream(data: bytes) -> object:
    """Stream bytes in random chunks, as bytes or as websocket text; every answer read."""
    rng = random.Random(len(data))
    feed_text = rng.random() < 0.5
    sizes = (1, 7, 128, 4096) if len(data) < 4096 else (128, 4096)  # 1-byte chunks: linearity
    decoder = StreamDecoder()
    values: list[object] = []
    position = 0
    while position < len(data):
        size = rng.choice(sizes)
        chunk = data[position : position + size]
        position += size
        if feed_text:
            values += decoder.feed_text(chunk.decode("utf-8", "replace"))
        else:
            values += decoder.feed(chunk)
    for answer in answers_in(values):
        answer.as_json()
    try:
        return parse_answer(json.loads(data))
    except ValueError, RecursionError:
        return None


def device_receipt(data: bytes) -> object:
    """A reply to sendCommand (as 200 and as 400)."""
    with contextlib.suppress(MeterError):
        parse_receipt(400, data)
    return parse_receipt(200, data)


def smartmac_getdata(data: bytes) -> object:
    """An answer to getdata from the device that was asked."""
    reading = interpret_response(200, data, expected_devid="1728053249", pin="012345")
    for polarity in RelayPolarity:
        relay_on(reading, polarity)
    request_interval(reading.extended)
    return reading


FAMILIES: tuple[Family, ...] = (
    Family("rs485", seeds.rs485, rs485, structured=False),
    Family("cloud-readmeter", seeds.cloud_readmeter, cloud_readmeter),
    Family("push3-readmeter", seeds.push3_readmeter, push3_readmeter),
    Family("account", seeds.account, account),
    Family("triggers", seeds.triggers, triggers),
    Family("rrule", seeds.rrules, rrule, structured=False),
    Family("device-stream", seeds.device_stream, device_stream),
    Family("device-receipt", seeds.device_receipt, device_receipt),
    Family("smartmac-getdata", seeds.smartmac_getdata, smartmac_getdata),
    # Families of the parsers being written now are added here, one line each, e.g.
    # Family("egauge-register", seeds.egauge_register, egauge_register),
)
