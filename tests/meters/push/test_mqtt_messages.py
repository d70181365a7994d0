"""The MQTT message parser: the same readings as the Push3 and the cloud, typed errors only.

Messages are rendered by the simulators (their own code, not the parser's): a Push3-shaped
member by `Push3Simulator.lan_read`, a cloud-shaped one by `PushSimulator.cloud_read`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.errors import InvalidParameterError, MeterFrameError
from custom_components.meterlink.meters.push.models import TIMESTAMP_FIELD
from custom_components.meterlink.meters.push.mqtt import (
    Broker,
    StreamKind,
    parse_broker,
    parse_message,
    topic,
)
from custom_components.meterlink.meters.push.push3 import parse_push3
from simulator.ekm.meter import SimMeter
from simulator.ekm.push3 import Push3Simulator
from simulator.ekm.push_cloud import PushSimulator, SimIoStack
from simulator.ekm.push_mqtt import realtime_payload
from tests.meters.conftest import V3_ADDRESS, V4_ADDRESS, make_meters

STACK = "000000900001"


@pytest.fixture
def cloud() -> PushSimulator:
    simulator = PushSimulator(make_meters(), [SimIoStack(STACK)], auto_poll=False)
    simulator.poll()
    return simulator


def newest_reads(cloud: PushSimulator) -> dict[str, Any]:
    return {a: reads[-1] for a, reads in cloud.history.items()}


def test_push3_shaped_message_is_what_the_push3_gives(cloud: PushSimulator) -> None:
    gateway = Push3Simulator(cloud)
    message = parse_message(realtime_payload(gateway, newest_reads(cloud)))
    lan = parse_push3({a: [gateway.lan_read(a, r)] for a, r in newest_reads(cloud).items()})
    assert message.readings == lan
    assert set(message.readings.meters) == set(cloud.meters)
    assert set(message.readings.iostacks) == {STACK}
    for address in cloud.meters:
        truth = cloud.newest_good(address)
        assert truth is not None
        fields = message.readings.meters[address].reading.fields
        assert fields == {**truth.values, TIMESTAMP_FIELD: truth.timestamp_ms}


def test_cloud_shaped_strings_give_the_same_values(cloud: PushSimulator) -> None:
    reads = newest_reads(cloud)
    payload = {f"meter_{a}": cloud.cloud_read(a, reads[a]) for a in cloud.meters}
    message = parse_message(json.dumps(payload))
    for address in cloud.meters:
        truth = reads[address]
        fields = message.readings.meters[address].reading.fields
        assert fields == {**truth.values, TIMESTAMP_FIELD: truth.timestamp_ms}
        assert isinstance(fields["kWh_Tot"], float)
        assert 0 <= float(fields["Cos_Theta_Ln_1"]) <= 1


def test_hundred_meters_in_one_message() -> None:
    meters = [SimMeter(f"{300000000 + n:012d}") for n in range(100)]
    cloud = PushSimulator(meters, auto_poll=False)
    cloud.poll()
    message = parse_message(realtime_payload(Push3Simulator(cloud), newest_reads(cloud)))
    assert len(message.readings.meters) == 100
    for address, meter in message.readings.meters.items():
        assert meter.reading.fields["kWh_Tot"] == cloud.history[address][-1].values["kWh_Tot"]


def test_unknown_fields_are_kept_and_other_members_ignored(cloud: PushSimulator) -> None:
    gateway = Push3Simulator(cloud)
    read = gateway.lan_read(V4_ADDRESS, cloud.history[V4_ADDRESS][-1])
    payload = {
        f"meter_{V4_ADDRESS}": {**read, "Future_Field": "12.5", "Label": "panel A"},
        "gateway": "4016fa0500cd",
        "meter_123": {"kWh_Tot": 1},  # not 12 digits
        "Time_Stamp_UTC_ms": 1,
    }
    message = parse_message(json.dumps(payload))
    assert set(message.readings.meters) == {V4_ADDRESS}
    extra = message.readings.meters[V4_ADDRESS].extra
    assert extra["Future_Field"] == 12.5
    assert extra["Label"] == "panel A"


def test_a_list_of_reads_gives_the_newest(cloud: PushSimulator) -> None:
    gateway = Push3Simulator(cloud)
    cloud.advance(60)
    cloud.poll()
    history = cloud.history[V3_ADDRESS]
    reads = [gateway.lan_read(V3_ADDRESS, r) for r in history[-2:]]
    message = parse_message(json.dumps({f"meter_{V3_ADDRESS}": reads}))
    assert message.readings.meters[V3_ADDRESS].timestamp_ms == history[-1].timestamp_ms


def test_reads_not_newer_are_skipped_before_parsing(cloud: PushSimulator) -> None:
    gateway = Push3Simulator(cloud)
    payload = realtime_payload(gateway, newest_reads(cloud))
    known = {a: reads[-1].timestamp_ms for a, reads in cloud.history.items()}
    known[V4_ADDRESS] -= 1  # this one is newer than what was published

    def newer(address: str, timestamp: int | None) -> bool:
        return timestamp is None or timestamp > known[address]

    message = parse_message(payload, newer_than=newer)
    assert set(message.readings.meters) == {V4_ADDRESS}
    assert message.unchanged == {*cloud.meters, STACK} - {V4_ADDRESS}
    assert message.devices == {*cloud.meters, STACK}


def test_a_bad_read_is_missing_not_zero(cloud: PushSimulator) -> None:
    gateway = Push3Simulator(cloud)
    read = gateway.lan_read(V4_ADDRESS, cloud.history[V4_ADDRESS][-1])
    message = parse_message(json.dumps({f"meter_{V4_ADDRESS}": {**read, "Good": 0}}))
    assert message.readings.meters == {}
    assert V4_ADDRESS in message.readings.missing


def test_summary_members_become_end_of_period_reads() -> None:
    row = {
        "Start_Time_Stamp_UTC_ms": 1_700_000_000_000,
        "End_Time_Stamp_UTC_ms": 1_700_000_900_000,
        "Meter": 300001001,
        "Count": 15,
        "kWh_Tot_Min": "100.1",
        "kWh_Tot_Max": "101.3",
        "kWh_Tot_Diff": "1.2",
        "Rev_kWh_Tot_Last": 3.5,
        "Rev_kWh_Tot_Max": 3.4,
        "RMS_Volts_Ln_1_Average": 121.5,
        "RMS_Volts_Ln_1_Max": 124.0,
        "RMS_Watts_Ln_1_Last": 900,
        "Pulse_Cnt_1_Last": 1200,
        "Pulse_Cnt_1_Max": 1199,
    }
    message = parse_message(json.dumps({f"meter_{V4_ADDRESS}": row}).encode(), StreamKind.SUMMARY)
    meter = message.readings.meters[V4_ADDRESS]
    fields = meter.reading.fields
    assert fields["kWh_Tot"] == 101.3
    assert fields["Rev_kWh_Tot"] == 3.5
    assert fields["RMS_Volts_Ln_1"] == 121.5
    assert fields["RMS_Watts_Ln_1"] == 900
    assert fields["Pulse_Cnt_1"] == 1200
    assert meter.timestamp_ms == 1_700_000_900_000
    assert meter.extra["kWh_Tot_Diff"] == 1.2
    assert meter.extra["Count"] == 15


def test_iostack_member_keeps_every_field() -> None:
    values = {"Pulse_Cnt_1": 12, "AI_1": 2.5, "Time_Stamp_UTC_ms": 1_700_000_000_000}
    message = parse_message(json.dumps({f"iostack_{STACK}": values}))
    stack = message.readings.iostacks[STACK]
    assert stack.fields["AI_1"] == 2.5
    assert stack.timestamp_ms == 1_700_000_000_000


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"\xff\xfe{",
        b'{"meter_000300001001": {"kWh_Tot": 1}',  # truncated
        b"[]",
        b'"meter_000300001001"',
        b"{}",
        b'{"gateway": {"kWh_Tot": 1}}',
        b"{" + b'"a":' * 0 + b'"x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b" " * (5 * 1024 * 1024),
    ],
)
def test_malformed_payloads_are_frame_errors(payload: bytes) -> None:
    with pytest.raises(MeterFrameError):
        parse_message(payload)


def test_non_bytes_payloads_are_frame_errors() -> None:
    for payload in (None, 12, 1.5):
        with pytest.raises(MeterFrameError):
            parse_message(payload)  # type: ignore[arg-type]


def test_topics_and_broker_urls() -> None:
    assert topic(StreamKind.REALTIME, " KEY ") == "realtime/KEY"
    assert topic(StreamKind.SUMMARY, "KEY") == "summary/KEY"
    assert parse_broker("mqtts://mqtts.ekmpush.com:8883") == Broker("mqtts.ekmpush.com", 8883)
    assert parse_broker("mqtts://127.0.0.1") == Broker("127.0.0.1", 8883)
    assert parse_broker("mqtts://[::1]:1234") == Broker("::1", 1234)
    for bad in ("mqtt://host:1883", "https://host", "mqtts://host:0", "mqtts://host:99999", ""):
        with pytest.raises(InvalidParameterError):
            parse_broker(bad)
    with pytest.raises(InvalidParameterError):
        topic(StreamKind.REALTIME, "two words")


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
field_names = st.sampled_from(
    ["kWh_Tot", "Cos_Theta_Ln_1", "Good", "Meter_Address", TIMESTAMP_FIELD, "RMS_Volts_Ln_1",
     "kWh_Scale", "kWh_Tot_Max", "End_Time_Stamp_UTC_ms", "Power_Factor_Ln_2", "x"]
)  # fmt: skip
members = st.dictionaries(
    st.sampled_from([f"meter_{V4_ADDRESS}", f"iostack_{STACK}", "meter_1", "other"]),
    st.dictionaries(field_names, json_values) | json_values,
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(document=members, kind=st.sampled_from(StreamKind))
def test_any_json_gives_readings_or_a_frame_error(document: Any, kind: StreamKind) -> None:
    try:
        payload = json.dumps(document)
    except ValueError:
        return
    try:
        message = parse_message(payload, kind, newer_than=lambda _a, _t: True)
    except MeterFrameError:
        return
    assert message.devices
    for address, meter in message.readings.meters.items():
        assert meter.address == address
        for value in meter.reading.fields.values():
            assert isinstance(value, int | float | str)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=200))
def test_any_bytes_give_readings_or_a_frame_error(payload: bytes) -> None:
    try:
        message = parse_message(payload)
    except MeterFrameError:
        return
    assert message.devices  # accepted only when it names a device
