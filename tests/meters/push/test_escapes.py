"""Minimal reproducers of the hostile inputs that let a non-MeterError escape a Push parser.

Each input was found by the mutation fuzzer (`scripts/fuzz`) or by reading the code (issue 11).
The rule they check: bad input costs the bad value (or gives a typed error), never the answer.
"""

from __future__ import annotations

import json

import pytest

from custom_components.meterlink.meters.errors import InvalidParameterError, MeterError
from custom_components.meterlink.meters.json import number
from custom_components.meterlink.meters.push.push3 import interpret_push3
from custom_components.meterlink.meters.push.realtime import interpret_readmeter
from custom_components.meterlink.meters.push.rrule import parse_rrule
from custom_components.meterlink.meters.push.settings.commands import command_spec
from custom_components.meterlink.meters.push.triggers import (
    parse_triggers,
    validate_action,
    validate_trigger,
)

METER = "000300001001"
STACK = "000000900001"
HUGE = "1" + "0" * 400  # a JSON integer of 1e400: valid JSON, too large for a float


def _cloud(read: dict[str, object], *, address: str = METER, protocol: str = "v4") -> str:
    """A readMeter answer; the string "HUGE" stands for a bare 1e400 integer."""
    read_set = {"Meter": address, "Protocol": protocol, "ReadData": [read]}
    return json.dumps({"readMeter": {"ReadSet": [read_set]}}).replace('"HUGE"', HUGE)


@pytest.mark.parametrize(
    "field",
    ["kWh_Tot", "RMS_Watts_Ln_1", "RMS_Volts_Ln_1", "Cos_Theta_Ln_1", "Reliability_Ratio"],
)
def test_a_huge_integer_costs_only_its_own_value_in_a_cloud_read(field: str) -> None:
    body = _cloud({"kWh_Tot": "12.5", "RMS_Volts_Ln_2": "120.1", field: "HUGE"})
    readings = interpret_readmeter(200, body)
    fields = readings.meters[METER].reading.fields
    assert field not in fields
    assert fields["RMS_Volts_Ln_2"] == 120.1
    if field != "kWh_Tot":
        assert fields["kWh_Tot"] == 12.5


def test_a_huge_integer_costs_only_its_own_value_in_a_push3_read() -> None:
    body = json.dumps({METER: [{"kWh_Tot": 1.5, "RMS_Volts_Ln_1": 120.0}]}).replace("120.0", HUGE)
    readings = interpret_push3(200, body)
    fields = readings.meters[METER].reading.fields
    assert fields["kWh_Tot"] == 1.5
    assert "RMS_Volts_Ln_1" not in fields


def test_an_iostack_value_too_large_for_a_float_is_left_out_not_raised_later() -> None:
    body = _cloud({"AI_1": "HUGE", "AI_2": "2.5"}, address=STACK, protocol="ios")
    stack = interpret_readmeter(200, body).iostacks[STACK]
    assert stack.number("AI_2") == 2.5
    assert stack.number("AI_1") is None
    assert "AI_1" not in stack.fields


def test_number_refuses_integers_beyond_the_float_range() -> None:
    assert number(int(HUGE)) is None
    assert number(-int(HUGE)) is None
    assert number(10**300) == 10**300


def test_an_iostack_that_says_protocol_v4_is_still_an_iostack() -> None:
    read = {"Pulse_Cnt_1": "7", "Pulse_Cnt_4": "3", "AI_1": "2.5", "State_Out_1": "1"}
    readings = interpret_readmeter(200, _cloud(read, address=STACK, protocol="v4"))
    assert STACK in readings.iostacks
    assert STACK not in readings.meters
    assert readings.iostacks[STACK].number("AI_1") == 2.5
    # A meter keeps being a meter whatever its fields' company.
    meter = interpret_readmeter(200, _cloud({"kWh_Tot": "1.0", "AI_1": "3"}, protocol="v4"))
    assert METER in meter.meters


# Triggers and RRULEs ------------------------------------------------------------------------

_ACTION = {"target": "gateway", "command": "sendEmail"}


def _trigger(condition: dict[str, object]) -> dict[str, object]:
    return {"trigger_name": "t", "conditions": [condition], "actions": [_ACTION]}


def _data_condition(threshold: object, **more: object) -> dict[str, object]:
    return {
        "type": "data",
        "source": "meter",
        "source_id": METER,
        "field": "kWh_Tot",
        "threshold_test": ">",
        "threshold_value": threshold,
        **more,
    }


def test_a_huge_threshold_in_a_listed_trigger_is_no_number_not_a_crash() -> None:
    condition = _data_condition("HUGE", duration="HUGE")
    trigger_json = {"trigger_name": "t", "conditions": [condition], "actions": []}
    body = json.dumps({"triggers": [trigger_json]}).replace('"HUGE"', HUGE)
    (trigger,) = parse_triggers(body)
    assert trigger.conditions[0].threshold_value is None  # type: ignore[union-attr]


def test_a_huge_threshold_to_send_is_refused_with_a_typed_error() -> None:
    with pytest.raises(InvalidParameterError):
        validate_trigger(_trigger(_data_condition(int(HUGE))))


@pytest.mark.parametrize(
    "rule", ["FREQ=DAILY;COUNT=²", "FREQ=DAILY;INTERVAL=①", "FREQ=DAILY;COUNT=٣"]
)
def test_unicode_digits_in_an_rrule_are_refused_with_a_typed_error(rule: str) -> None:
    with pytest.raises(MeterError):
        parse_rrule(rule)
    with pytest.raises(InvalidParameterError):
        validate_trigger(_trigger({"type": "rrule", "rrule": rule}))


@pytest.mark.parametrize("url", ["http://[x", "https://[::1", "http://[not-an-ip]/"])
def test_an_unparsable_webhook_url_is_refused_with_a_typed_error(url: str) -> None:
    with pytest.raises(InvalidParameterError, match="sendWebhook"):
        validate_action({"target": "gateway", "command": "sendWebhook", "params": {"url": url}})


def _relay_action(relay: str) -> dict[str, object]:
    return {
        "target": "meter",
        "target_id": METER,
        "command": "setRelay",
        "params": {"relay": relay, "status": "close", "duration": 1},
    }


@pytest.mark.parametrize("relay", ["relay_1", "Relay_1", "RELAY_2"])
def test_a_trigger_action_is_sent_with_the_users_own_relay_spelling(relay: str) -> None:
    # Seed 001 documents trigger actions as "setRelay" / "relay_1"; nothing is rewritten.
    sent = validate_action(_relay_action(relay))
    assert sent["command"] == "setRelay"
    assert sent["params"] == {"relay": relay, "status": "close", "duration": 1}


def test_a_trigger_relay_that_is_no_relay_is_still_refused() -> None:
    with pytest.raises(InvalidParameterError):
        validate_action(_relay_action("relay_3"))


def test_a_command_names_its_secrets_and_takes_a_stored_meter_password() -> None:
    relay = command_spec("meter", "SetRelay")
    assert relay.secrets == ("meter_password",)
    assert command_spec("meter", "SetMeterPassword").secrets == ("new_password", "meter_password")
    assert command_spec("iostack", "GetStatus").secrets == ()
    params = {"relay": "Relay_1", "status": "close", "duration": 0}
    assert relay.with_meter_password(params, "12345678") == {**params, "meter_password": "12345678"}
    given = {**params, "meter_password": "87654321"}
    assert relay.with_meter_password(given, "12345678") == given  # what is given wins
    assert relay.with_meter_password(params, None) == params
    assert command_spec("iostack", "GetStatus").with_meter_password({}, "12345678") == {}
