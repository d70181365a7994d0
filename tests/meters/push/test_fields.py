"""One Push read as EKM fields: the same names, units and types as the RS-485 decoder.

Expectations come from the RS-485 decoder itself (a frame encoded from a SimMeter, decoded),
from the real Push3 answer in tests/fixtures/push3_gateway.json and from ekm.md (PF encoding:
C -> 200 - x, L -> x; Net_Calc_Watts = RMS watts signed by State_Watts_Dir).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.ekm.frames import decode_response, encode_response
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import EkmReading, MeterVersion
from custom_components.meterlink.meters.push.fields import (
    device_address,
    iostack_reading,
    is_bad_read,
    looks_like_meter,
    meter_reading,
    newest,
    number,
    version_of,
)
from custom_components.meterlink.meters.push.models import (
    IoStackReading,
    PushGateway,
    PushInventory,
    PushMeterReading,
    PushReadings,
)
from simulator.ekm.meter import SimMeter

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "push3_gateway.json"
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
V4 = "000300001001"


def rs485_truth(meter: SimMeter, block: Block) -> dict[str, Any]:
    frame = encode_response(block, meter.values(block), kwh_scale=meter.kwh_scale)
    return dict(decode_response(frame, block, kwh_scale=meter.kwh_scale).fields)


def as_cloud_strings(values: dict[str, Any]) -> dict[str, Any]:
    """The cloud's rendering, written here independently of the simulator."""
    result: dict[str, Any] = {}
    for name, value in values.items():
        if name.startswith("Cos_Theta_Ln_"):
            code = values[f"Power_Factor_Ln_{name[-1]}"]
            suffix = "" if code == 100 else (" C" if code > 100 else " L")
            result[name] = f"{value:.2f}{suffix}"
        else:
            result[name] = str(value)
    return result


@pytest.mark.parametrize("scale", [0, 1, 2, 3])
def test_cloud_strings_give_the_rs485_values_and_types(scale: int) -> None:
    meter = SimMeter(V4, kwh_scale=scale, watts=[850.0, -420.0, 0.0], power_factor=[0.95, -0.8, 1])
    truth = {**rs485_truth(meter, Block.V4B), **rs485_truth(meter, Block.V4A)}
    read = {"Good": "1", "Time_Stamp_UTC_ms": "1790697213797", **as_cloud_strings(truth)}
    result = meter_reading(V4, read, protocol="v4", gateway="4016fa0500cd")
    assert result is not None
    fields = dict(result.reading.fields)
    assert fields.pop("Time_Stamp_UTC_ms") == 1790697213797
    assert fields == truth
    assert {name: type(value) for name, value in fields.items()} == {
        name: type(value) for name, value in truth.items()
    }
    assert result.timestamp_ms == 1790697213797
    assert result.gateway == "4016fa0500cd"
    assert result.extra == {}


def test_v3_strings_without_derived_fields_are_derived_like_rs485() -> None:
    meter = SimMeter("000000011766", MeterVersion.V3)
    truth = rs485_truth(meter, Block.V3)
    read = {k: v for k, v in as_cloud_strings(truth).items() if not k.startswith("Power_Factor")}
    result = meter_reading("000000011766", read)
    assert result is not None
    assert result.reading.version is MeterVersion.V3
    assert dict(result.reading.fields) == truth


def test_real_push3_answer_matches_what_rs485_would_decode() -> None:
    document = json.loads(FIXTURE.read_text())
    v4 = meter_reading("000300000001", document["000300000001"][0])
    v3 = meter_reading("000000000002", document["000000000002"][0])
    assert v4 is not None
    assert v3 is not None
    assert v4.reading.version is MeterVersion.V4
    assert v3.reading.version is MeterVersion.V3
    fields = v4.reading.fields
    # kWh_Scale 0: RS-485 digits without decimals are ints, although the Push3 writes 218322.0.
    assert fields["kWh_Tot"] == 218322
    assert isinstance(fields["kWh_Tot"], int)
    assert isinstance(v3.reading.fields["kWh_Tot"], float)  # v3 always has one decimal
    assert fields["Cos_Theta_Ln_1"] == 0.83
    assert fields["Power_Factor_Ln_1"] == 200 - 83  # leading (C): 200 - x
    assert fields["Meter_Status_Code_A"] == 0
    assert "Request_Type" not in fields  # the RS-485 decoder does not publish it either
    # State_Watts_Dir 1 = all forward: signed watts equal the RMS watts.
    assert fields["Net_Calc_Watts_Tot"] == 4320 + 7770 + 0
    assert v4.reading.import_kwh == 218322 - 0
    assert v4.reliability == 100.0
    assert v4.timestamp_ms == 1790697213797
    assert v4.timestamp is not None
    assert v4.timestamp.year == 2026


def test_cloud_derived_fields_are_used_when_valid() -> None:
    read = {
        "kWh_Tot": "10.5",
        "Cos_Theta_Ln_1": "0.90 L",
        "Power_Factor_Ln_1": "90",
        "Power_Factor_Ln_2": "150",  # no Cos_Theta_Ln_2: derived from the code
        "Power_Factor_Ln_3": "250",  # out of range: ignored
        "Net_Calc_Watts_Ln_1": "-5",
        "Net_Calc_Watts_Ln_2": "7",
        "Net_Calc_Watts_Ln_3": "0",
        "Net_Calc_Watts_Tot": "2",
    }
    result = meter_reading(V4, read, protocol="v4")
    assert result is not None
    fields = result.reading.fields
    assert fields["Power_Factor_Ln_1"] == 90
    assert fields["Cos_Theta_Ln_2"] == 0.5
    assert fields["Power_Factor_Ln_2"] == 150
    assert "Power_Factor_Ln_3" not in fields
    assert fields["Net_Calc_Watts_Ln_1"] == -5
    assert fields["Net_Calc_Watts_Tot"] == 2


@pytest.mark.parametrize(
    ("text", "value", "code"),
    [
        ("0.83 C", 0.83, 117),
        ("0.83C", 0.83, 117),
        ("0.95 L", 0.95, 95),
        ("1.00", 1.0, 100),
        ("C083", 0.83, 117),
        (" 100", 1.0, 100),
        (0.5, 0.5, 50),
    ],
)
def test_cos_theta_forms(text: object, value: float, code: int) -> None:
    result = meter_reading(V4, {"kWh_Tot": "1", "Cos_Theta_Ln_2": text})
    assert result is not None
    assert result.reading.fields["Cos_Theta_Ln_2"] == value
    assert result.reading.fields["Power_Factor_Ln_2"] == code


@pytest.mark.parametrize("text", ["1.50 C", "x", "", None, True, "0.9 Q"])
def test_unreadable_cos_theta_is_left_out(text: object) -> None:
    result = meter_reading(V4, {"kWh_Tot": "1", "Cos_Theta_Ln_1": text})
    assert result is not None
    assert "Cos_Theta_Ln_1" not in result.reading.fields
    assert "Power_Factor_Ln_1" not in result.reading.fields


@pytest.mark.parametrize(
    "read",
    [
        {"Good": 0, "kWh_Tot": "1"},
        {"Good": "0", "kWh_Tot": "1"},
        {"Good": False, "kWh_Tot": "1"},
        {"PERR.NR": 1, "kWh_Tot": "1"},
        {"kWh_Tot": "PERR.RXP"},
        {"Meter_Address": "000300009999", "kWh_Tot": "1"},  # another meter's read
        {"kWh_Tot": "garbage", "RMS_Volts_Ln_1": ""},  # not one usable field
        {},
    ],
)
def test_bad_reads_give_nothing_rather_than_zeros(read: dict[str, Any]) -> None:
    assert meter_reading(V4, read) is None


def test_malformed_values_are_left_out_not_zeroed() -> None:
    result = meter_reading(
        V4,
        {
            "kWh_Tot": "nan",
            "RMS_Volts_Ln_1": "-1",
            "RMS_Watts_Ln_1": "12.5",
            "Meter_Time": 26092903095334,
            "Model": 1024,
            "State_Out": "x",
            "Unknown_Field": "7",
            "Odd": [1],
        },
    )
    assert result is not None
    fields = result.reading.fields
    assert "kWh_Tot" not in fields
    assert "RMS_Volts_Ln_1" not in fields
    assert fields["RMS_Watts_Ln_1"] == 12.5
    assert fields["Meter_Time"] == "26092903095334"
    assert fields["Model"] == "1024"
    assert fields["State_Out"] == "x"
    assert result.extra == {"Unknown_Field": 7}


def test_iostack_keeps_every_field() -> None:
    read = {
        "Good": 1,
        "Time_Stamp_UTC_ms": 1000,
        "AI_1": "2.50",
        "Pulse_Cnt_4": "12",
        "Firmware": "10",
        "Some_New_Sensor": "on",
        "Nested": {"a": 1},
    }
    result = iostack_reading("000000900001", read, gateway="4016fa0500cd")
    assert result is not None
    assert result.fields == {
        "Time_Stamp_UTC_ms": 1000,
        "AI_1": 2.5,
        "Pulse_Cnt_4": 12,
        "Firmware": "10",
        "Some_New_Sensor": "on",
    }
    assert result.number("AI_1") == 2.5
    assert result.number("Some_New_Sensor") is None
    assert iostack_reading("000000900001", {"Good": 0, "AI_1": "1"}) is None
    assert iostack_reading("000000900001", {"Nested": {}}) is None


def test_newest_good_read_wins_and_ties_keep_the_last() -> None:
    reads = [
        meter_reading(V4, {"kWh_Tot": "1", "Time_Stamp_UTC_ms": 3000}),
        meter_reading(V4, {"kWh_Tot": "2", "Time_Stamp_UTC_ms": 1000}),
        meter_reading(V4, {"kWh_Tot": "3", "Time_Stamp_UTC_ms": 3000}),
        meter_reading(V4, {"kWh_Tot": "4"}),
    ]
    best = newest(r for r in reads if r is not None)
    assert best is not None
    assert best.reading.fields["kWh_Tot"] == 3.0
    assert newest([]) is None


def test_staleness_from_the_gateway_time_stamp() -> None:
    reading = PushMeterReading(EkmReading(V4, MeterVersion.V4), timestamp_ms=1_000_000)
    assert reading.age(1_060.0) == 60.0
    assert reading.is_stale(30, 1_060.0)
    assert not reading.is_stale(90, 1_060.0)
    undated = PushMeterReading(EkmReading(V4, MeterVersion.V4))
    assert undated.age(5.0) is None
    assert undated.is_stale(10**9, 5.0)
    assert undated.timestamp is None
    assert PushMeterReading(EkmReading(V4, MeterVersion.V4), timestamp_ms=10**15).timestamp is None
    stack = IoStackReading("000000900001", timestamp_ms=2000)
    assert stack.age(3.0) == 1.0
    assert not stack.is_stale(5, 3.0)
    assert stack.timestamp is not None
    assert IoStackReading("1").is_stale(1, 1.0)


def test_readings_merge_and_inventory_helpers() -> None:
    meter = PushMeterReading(EkmReading(V4, MeterVersion.V4), gateway="4016fa0500cd")
    first = PushReadings(meters={V4: meter}, missing={"000000000009": "no reads"})
    second = PushReadings(
        iostacks={"000000000009": IoStackReading("000000000009", gateway="aabbccddeeff")},
        missing={"000000000007": "only bad reads"},
    )
    merged = first.merged_with(second)
    assert merged.missing == {"000000000007": "only bad reads"}
    assert merged.addresses == {V4, "000000000009"}
    assert merged.gateways == {"4016fa0500cd", "aabbccddeeff"}
    gateway = PushGateway("4016fa0500cd", meters=(V4,), iostacks=("000000000009",))
    inventory = PushInventory((gateway,), (V4,), ("000000000009", V4))
    assert inventory.devices == (V4, "000000000009")
    assert inventory.gateway_of("000000000009") is gateway
    assert inventory.gateway_of("000000000001") is None


def test_small_helpers() -> None:
    assert number("12") == 12
    assert number(" -3.5 ") == -3.5
    assert number("1e3") == 1000.0
    for bad in ("nan", "inf", "0x1f", "1_000", "١٢", True, None, [], float("inf"), "9" * 50):
        assert number(bad) is None
    assert device_address(10068) == "000000010068"
    assert device_address("300001001") == "000300001001"
    for bad in ("", "1234567890123", "12a", True, 1.5):
        assert device_address(bad) is None
    assert is_bad_read({"Good": 1}) is False
    assert looks_like_meter({}, "v5")
    assert not looks_like_meter({"kWh_Tot": 1}, "ios")
    assert looks_like_meter({"kWh_Tot": 1})
    assert version_of({}, "v5") is MeterVersion.V4
    assert version_of({}, "v3") is MeterVersion.V3
    assert version_of({"kWh_Scale": 2}) is MeterVersion.V4


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
field_names = st.sampled_from(
    ["kWh_Tot", "Cos_Theta_Ln_1", "Power_Factor_Ln_2", "Net_Calc_Watts_Tot", "Meter_Time",
     "Model", "kWh_Scale", "State_Watts_Dir", "RMS_Watts_Ln_1", "Good", "Meter_Address",
     "Time_Stamp_UTC_ms", "Reliability_Ratio", "State_Out", "PERR.NR", "AI_1"]
) | st.text(max_size=10)  # fmt: skip


@SETTINGS
@given(
    read=st.dictionaries(field_names, json_values, max_size=12),
    protocol=st.none() | st.sampled_from(["v3", "v4", "v5", "ios", ""]) | st.integers(),
)
def test_any_read_gives_a_reading_or_none(read: dict[str, Any], protocol: object) -> None:
    result = meter_reading(V4, read, protocol=protocol)
    if result is not None:
        assert result.address == V4
        for value in result.reading.fields.values():
            assert isinstance(value, int | float | str)
    stack = iostack_reading(V4, read)
    assert stack is None or all(isinstance(v, int | float | str) for v in stack.fields.values())
