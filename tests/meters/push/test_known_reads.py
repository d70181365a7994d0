"""Reads a caller already published are skipped before parsing: cloud, Push3 and stream alike."""

from __future__ import annotations

import json

from custom_components.meterlink.meters.push.fields import brings_news
from custom_components.meterlink.meters.push.models import TIMESTAMP_FIELD
from custom_components.meterlink.meters.push.push3 import parse_push3
from custom_components.meterlink.meters.push.realtime import parse_readmeter
from simulator.ekm.push3 import Push3Simulator
from simulator.ekm.push_cloud import PushSimulator, SimIoStack
from tests.meters.conftest import V3_ADDRESS, V4_ADDRESS, make_meters

STACK = "000000900001"


def _cloud() -> PushSimulator:
    simulator = PushSimulator(make_meters(), [SimIoStack(STACK)], auto_poll=False)
    simulator.poll()
    return simulator


def _published(simulator: PushSimulator) -> dict[str, int]:
    return {address: history[-1].timestamp_ms for address, history in simulator.history.items()}


def test_cloud_answer_parses_only_news() -> None:
    simulator = _cloud()
    document = json.loads(
        json.dumps(
            {"readMeter": {"ReadSet": [simulator.read_set(a, 1) for a in simulator.history]}}
        )
    )
    published = _published(simulator)
    published[V4_ADDRESS] -= 1  # this meter brings a newer read

    def newer(address: str, timestamp: int | None) -> bool:
        return timestamp is None or timestamp > published[address]

    readings = parse_readmeter(document, newer_than=newer)
    assert set(readings.meters) == {V4_ADDRESS}
    assert readings.iostacks == {}
    assert readings.missing == {}  # old news is neither a reading nor missing
    assert parse_readmeter(document).addresses == set(simulator.history)


def test_push3_answer_of_old_news_only_is_no_error() -> None:
    simulator = _cloud()
    gateway = Push3Simulator(simulator)
    document = {a: [gateway.lan_read(a, h[-1])] for a, h in simulator.history.items()}
    published = _published(simulator)
    readings = parse_push3(document, newer_than=lambda a, t: t is None or t > published[a])
    assert readings.addresses == frozenset()
    assert readings.missing == {}
    published[V3_ADDRESS] -= 1
    newer = parse_push3(document, newer_than=lambda a, t: t is None or t > published[a])
    assert set(newer.meters) == {V3_ADDRESS}


def test_brings_news_takes_the_newest_time_stamp() -> None:
    reads = [{TIMESTAMP_FIELD: 5}, {TIMESTAMP_FIELD: "9"}, {"kWh_Tot": 1}]
    seen: list[int | None] = []

    def record(address: str, timestamp: int | None) -> bool:
        seen.append(timestamp)
        return False

    assert not brings_news(V4_ADDRESS, reads, record)
    assert brings_news(V4_ADDRESS, [{"kWh_Tot": 1}], lambda a, t: t is None)
    assert brings_news(V4_ADDRESS, reads, None)
    assert seen == [9]
