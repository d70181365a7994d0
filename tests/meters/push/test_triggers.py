"""Trigger API client against the simulator's trigger store, and its parsers on any JSON.

The simulator refuses read-only attributes in requests, so a client that sent one back would
fail there; request bodies are also inspected directly.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterFrameError,
    MeterPermissionError,
)
from custom_components.meterlink.meters.push.triggers import (
    READ_ONLY_ATTRIBUTES,
    DataCondition,
    OtherCondition,
    RRuleCondition,
    Trigger,
    TriggerAction,
    TriggerClient,
    TriggerNotFoundError,
    parse_trigger,
    parse_triggers,
    validate_trigger,
)
from simulator.ekm.push_device_api import DeviceApiSimulator

from .test_settings_client import (
    ADMIN_TOKEN,
    FOREIGN,
    FOREIGN_TOKEN,
    GATEWAY,
    GATEWAY_KEY,
    IOSTACK,
    OTHER_GATEWAY,
    OTHER_KEY,
    OWNER_TOKEN,
    READ_TOKEN,
    V4,
    make_simulator,
)

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# The create example of seed 001, verbatim.
SEED_CREATE = {
    "trigger": {
        "actions": [
            {
                "target": "meter",
                "target_id": "000350000900",
                "command": "setRelay",
                "params": {"relay": "relay_1", "status": "close", "duration": 1},
            }
        ],
        "conditions": [
            {
                "type": "data",
                "field": "kWh_Tot",
                "source": "meter",
                "duration": "0",
                "source_id": "000350000900",
                "continuous": False,
                "hysteresis": "60",
                "threshold_test": "rise_eq",
                "threshold_value": "10",
            }
        ],
        "enabled": True,
        "trigger_name": "Some trigger",
    }
}
SEED_LIST = (
    '{"triggers": [{"trigger_uuid": "058f3dba18cb11edbdf452540000ef9a", "trigger_name": "test", '
    '"conditions": [{"type": "data", "field": "kWh_Tot", "source": "meter", "duration": "0", '
    '"source_id": "000350000900", "continuous": false, "hysteresis": "60", "threshold_test": '
    '"rise_eq", "threshold_value": "10"}], "actions": [{"params": {"relay": "relay_1", "status": '
    '"close", "duration": 1}, "target": "meter", "command": "setRelay", "target_id": '
    '"000350000900"}], "extras": {}, "enabled": true, "created_at": '
    '"2021-07-28T17:20:31.824621+00:00", "updated_at": "2021-07-28T17:20:31.824621+00:00"}]}'
)
RRULE_CONDITION = {
    "type": "rrule",
    "rrule": "DTSTART:20210702T173200\nRRULE:FREQ=DAILY;BYHOUR=0;BYMINUTE=35;BYSECOND=0",
}


def trigger_for(meter: str = V4, **extra: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED_CREATE["trigger"])
    body["actions"][0]["target_id"] = meter
    body["conditions"][0]["source_id"] = meter
    body.update(extra)
    return body


@pytest.fixture
async def sim() -> AsyncIterator[tuple[DeviceApiSimulator, str]]:
    simulator = make_simulator()
    url = await simulator.start()
    yield simulator, url
    await simulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def triggers(
    session: aiohttp.ClientSession, url: str, token: str = OWNER_TOKEN, key: str = GATEWAY_KEY
) -> TriggerClient:
    return TriggerClient(session, token, key, api_url=url, request_timeout=5)


def test_seed_list_example_parses() -> None:
    (trigger,) = parse_triggers(SEED_LIST.encode())
    assert trigger.trigger_uuid == "058f3dba18cb11edbdf452540000ef9a"
    assert trigger.created_at == "2021-07-28T17:20:31.824621+00:00"
    (condition,) = trigger.conditions
    assert isinstance(condition, DataCondition)
    assert condition.threshold_value == 10.0
    assert condition.hysteresis == 60.0
    assert condition.duration == 0.0
    assert condition.continuous is False
    assert trigger.actions == (
        TriggerAction(
            "meter",
            "setRelay",
            "000350000900",
            {"relay": "relay_1", "status": "close", "duration": 1},
        ),
    )
    assert trigger.as_json() == json.loads(SEED_LIST)["triggers"][0]
    assert not set(READ_ONLY_ATTRIBUTES) & set(trigger.writable_json())


def test_seed_create_example_validates_as_is() -> None:
    # Sent exactly as the Trigger API documents it: "relay_1" is not rewritten to "Relay_1".
    assert validate_trigger(SEED_CREATE) == SEED_CREATE["trigger"]


async def test_create_list_get_update_delete(
    sim: tuple[DeviceApiSimulator, str], session: aiohttp.ClientSession
) -> None:
    simulator, url = sim
    api = triggers(session, url)
    created = await api.create(
        GATEWAY, trigger_for(conditions=[trigger_for()["conditions"][0], RRULE_CONDITION])
    )
    stored_gateway, stored = simulator.triggers[created.trigger_uuid or ""]
    assert stored_gateway == GATEWAY
    assert created.as_json() == stored
    assert isinstance(created.conditions[1], RRuleCondition)
    assert created.conditions[1].rrule == RRULE_CONDITION["rrule"]

    listed = await api.list(GATEWAY.upper())
    assert [t.as_json() for t in listed] == [stored]
    fetched = await api.get(created.trigger_uuid or "")
    assert fetched == created

    # Take what `get` returned, change the name, send it all back: read-only parts are dropped.
    edited = fetched.as_json() | {"trigger_name": "renamed", "enabled": False}
    updated = await api.update(fetched.trigger_uuid or "", edited)
    assert updated.trigger_name == "renamed"
    assert updated.enabled is False
    assert updated.created_at == created.created_at
    assert simulator.triggers[created.trigger_uuid or ""][1] == updated.as_json()
    put = simulator.requests[-1]
    assert put.method == "PUT"
    assert set(put.body["trigger"]) & set(READ_ONLY_ATTRIBUTES) == {"trigger_uuid"}
    post = next(r for r in simulator.requests if r.method == "POST")
    assert not set(post.body["trigger"]) & set(READ_ONLY_ATTRIBUTES)

    partial = await api.update(created.trigger_uuid or "", {"trigger_name": "only the name"})
    assert partial.trigger_name == "only the name"
    assert partial.enabled is False

    answer = await api.delete(created.trigger_uuid or "")
    assert answer["trigger_uuid"] == created.trigger_uuid
    assert simulator.triggers == {}
    with pytest.raises(TriggerNotFoundError):
        await api.get(created.trigger_uuid or "")
    assert await api.list(GATEWAY) == []


async def test_read_token_may_look_but_not_change(
    sim: tuple[DeviceApiSimulator, str], session: aiohttp.ClientSession
) -> None:
    simulator, url = sim
    created = await triggers(session, url).create(GATEWAY, trigger_for())
    reader = triggers(session, url, READ_TOKEN)
    assert [t.trigger_uuid for t in await reader.list(GATEWAY)] == [created.trigger_uuid]
    uuid = created.trigger_uuid or ""
    with pytest.raises(MeterPermissionError):
        await reader.create(GATEWAY, trigger_for())
    with pytest.raises(MeterPermissionError):
        await reader.update(uuid, {"trigger_name": "x"})
    with pytest.raises(MeterPermissionError):
        await reader.delete(uuid)
    assert list(simulator.triggers) == [uuid]
    assert simulator.triggers[uuid][1] == created.as_json()


async def test_foreign_gateway_and_bad_token(
    sim: tuple[DeviceApiSimulator, str], session: aiohttp.ClientSession
) -> None:
    simulator, url = sim
    created = await triggers(session, url, ADMIN_TOKEN, OTHER_KEY).create(
        OTHER_GATEWAY, trigger_for(FOREIGN)
    )
    with pytest.raises(MeterPermissionError):
        await triggers(session, url).list(OTHER_GATEWAY)  # not this key's gateway
    with pytest.raises(MeterPermissionError):
        await triggers(session, url, OWNER_TOKEN, OTHER_KEY).list(OTHER_GATEWAY)  # not owned
    with pytest.raises(MeterPermissionError):
        await triggers(session, url, FOREIGN_TOKEN).create(GATEWAY, trigger_for())
    with pytest.raises(MeterPermissionError):
        await triggers(session, url).delete(created.trigger_uuid or "")
    with pytest.raises(MeterAuthError):
        await triggers(session, url, "nobody").list(GATEWAY)
    assert len(simulator.triggers) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"trigger_name": "x", "conditions": [], "actions": SEED_CREATE["trigger"]["actions"]},
        trigger_for(enabled="yes"),
        trigger_for(colour="red"),
        trigger_for(trigger_name=" "),
        trigger_for(
            conditions=[
                {"type": "rrule", "rrule": "DTSTART:20210702T173200+0200\nRRULE:FREQ=DAILY"}
            ]
        ),
        trigger_for(conditions=[{"type": "rrule", "rrule": "RRULE:FREQ=DAILY;BYHOUR=25"}]),
        trigger_for(conditions=[{"type": "rrule"}]),
        trigger_for(conditions=[{"type": "rrule", "rrule": "FREQ=DAILY", "x": 1}]),
        trigger_for(conditions=[{"type": "schedule"}]),
        trigger_for(conditions=["kWh_Tot > 1"]),
        trigger_for(conditions=[trigger_for()["conditions"][0] | {"threshold_test": "=>"}]),
        trigger_for(conditions=[trigger_for()["conditions"][0] | {"threshold_value": "ten"}]),
        trigger_for(conditions=[trigger_for()["conditions"][0] | {"hysteresis": -1}]),
        trigger_for(conditions=[trigger_for()["conditions"][0] | {"continuous": "false"}]),
        trigger_for(conditions=[trigger_for()["conditions"][0] | {"source": "gateway"}]),
        trigger_for(conditions=[trigger_for()["conditions"][0] | {"source_id": "12"}]),
        trigger_for(conditions=[trigger_for()["conditions"][0] | {"field": "kWh Tot"}]),
        trigger_for(conditions=[trigger_for()["conditions"][0] | {"extra": 1}]),
        trigger_for(
            conditions=[{k: v for k, v in trigger_for()["conditions"][0].items() if k != "field"}]
        ),
        trigger_for(
            actions=[
                {
                    "target": "meter",
                    "target_id": V4,
                    "command": "setRelay",
                    "params": {"relay": "relay_3", "status": "close", "duration": 1},
                }
            ]
        ),
        trigger_for(actions=[{"target": "meter", "target_id": V4, "command": "explode"}]),
        trigger_for(
            actions=[
                {
                    "target": "iostack",
                    "target_id": IOSTACK,
                    "command": "SetDOLevel",
                    "params": {"pin": 9, "level": 1},
                }
            ]
        ),
        trigger_for(actions=[{"target": "gateway", "command": "sendSms"}]),
        trigger_for(
            actions=[{"target": "gateway", "command": "sendWebhook", "params": {"url": "ftp://x"}}]
        ),
        trigger_for(actions=[{"target": "gateway", "command": "sendEmail", "colour": 1}]),
        trigger_for(actions=[{"target": "gateway", "command": "sendEmail", "params": "x"}]),
        trigger_for(actions=[{"target": "gateway", "target_id": "nomac", "command": "sendEmail"}]),
        trigger_for(actions=[{"target": "relay", "command": "sendEmail"}]),
        trigger_for(actions=[{"target": "meter", "target_id": V4}]),
        trigger_for(actions=["close relay"]),
        trigger_for(extras=[1]),
    ],
)
async def test_invalid_triggers_are_refused_before_sending(
    sim: tuple[DeviceApiSimulator, str], session: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    simulator, url = sim
    with pytest.raises(InvalidParameterError):
        await triggers(session, url).create(GATEWAY, body)
    assert simulator.requests == []


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("get", ("not-a-uuid",)),
        ("delete", ("1234",)),
        ("update", ("058f3dba18cb11edbdf452540000ef9a", {})),
        ("update", ("058f3dba18cb11edbdf452540000ef9a", {"trigger_name": ""})),
        ("list", ("gateway-1",)),
        ("create", ("4016fa0500", {})),
    ],
)
async def test_bad_arguments_are_refused_before_sending(
    sim: tuple[DeviceApiSimulator, str],
    session: aiohttp.ClientSession,
    call: str,
    args: tuple[Any, ...],
) -> None:
    simulator, url = sim
    with pytest.raises(InvalidParameterError):
        await getattr(triggers(session, url), call)(*args)
    assert simulator.requests == []


async def test_webhook_and_email_actions_and_model_input(
    sim: tuple[DeviceApiSimulator, str], session: aiohttp.ClientSession
) -> None:
    simulator, url = sim
    model = Trigger(
        trigger_name="notify",
        conditions=(RRuleCondition("FREQ=WEEKLY;BYDAY=MO;BYHOUR=6"),),
        actions=(
            TriggerAction("gateway", "sendEmail"),
            TriggerAction("gateway", "sendWebhook", params={"url": "https://example.invalid/hook"}),
        ),
    )
    created = await triggers(session, url).create(GATEWAY, model)
    assert created.conditions == (RRuleCondition("RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=6"),)
    assert created.actions == model.actions
    assert simulator.triggers[created.trigger_uuid or ""][1]["actions"] == [
        {"target": "gateway", "command": "sendEmail"},
        {
            "target": "gateway",
            "command": "sendWebhook",
            "params": {"url": "https://example.invalid/hook"},
        },
    ]


# Parsers on arbitrary input -----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
trigger_keys = st.sampled_from(
    ["trigger_name", "conditions", "actions", "enabled", "extras", "trigger_uuid", "created_at",
     "type", "source", "source_id", "field", "threshold_test", "threshold_value", "rrule",
     "target", "target_id", "command", "params", "duration", "hysteresis"]
)  # fmt: skip
trigger_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "data",
            "rrule",
            "meter",
            "gateway",
            "sendEmail",
            "SetRelay",
            V4,
            "kWh_Tot",
            "==",
            "FREQ=DAILY",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(trigger_keys, children, max_size=6)
    ),
    max_leaves=30,
)


@PROPERTY
@given(json_values | trigger_like)
def test_parse_trigger_gives_a_trigger_or_a_frame_error(value: Any) -> None:
    for parse in (parse_trigger, parse_triggers):
        try:
            result = parse(value)
        except MeterFrameError:
            continue
        for trigger in result if isinstance(result, list) else [result]:
            assert isinstance(trigger, Trigger)
            json.dumps(trigger.as_json())


@PROPERTY
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_parse_triggers_on_any_bytes(body: bytes | str) -> None:
    with contextlib.suppress(MeterFrameError):
        parse_triggers(body)


@PROPERTY
@given(json_values | trigger_like, st.booleans())
def test_validate_trigger_gives_a_request_or_invalid_parameter(value: Any, partial: bool) -> None:
    try:
        checked = validate_trigger(value, partial=partial)
    except InvalidParameterError:
        return
    assert not set(checked) & set(READ_ONLY_ATTRIBUTES)
    json.dumps(checked, allow_nan=False)
    assert validate_trigger(checked, partial=partial) == checked  # checking is idempotent


def test_unknown_condition_types_survive_a_listing() -> None:
    (trigger,) = parse_triggers(
        {"triggers": [{"trigger_name": "x", "conditions": [{"type": "geo", "r": 5}]}]}
    )
    (condition,) = trigger.conditions
    assert isinstance(condition, OtherCondition)
    assert condition.type == "geo"
    assert trigger.as_json()["conditions"] == [{"type": "geo", "r": 5}]


DEEP: Any = 1
for _ in range(40):
    DEEP = [DEEP]


@pytest.mark.parametrize(
    "value",
    [
        {"trigger_name": "x", "conditions": ["c"]},
        {"trigger_name": "x", "conditions": [{"type": "rrule"}]},
        {"trigger_name": "x", "conditions": [{"type": "data", "field": "kWh_Tot"}]},
        {"trigger_name": "x", "actions": [5]},
        {"trigger_name": "x", "actions": [{"target": "meter"}]},
        {"trigger_name": "x", "actions": {}},
        {"conditions": []},
        {"trigger_name": "x", "extras": {"a": DEEP}},
        {"trigger_name": "x", "extras": {"a": object()}},
    ],
)
def test_malformed_api_triggers_are_frame_errors(value: dict[str, Any]) -> None:
    with pytest.raises(MeterFrameError):
        parse_trigger(value)


def test_api_numbers_written_in_any_form() -> None:
    trigger = parse_trigger(
        {
            "trigger_name": "t",
            "enabled": 1,
            "extras": None,
            "conditions": [
                {"type": "data", "source": "meter", "source_id": V4, "field": "kWh_Tot",
                 "threshold_test": ">", "threshold_value": [1], "duration": True,
                 "hysteresis": "NaN", "tolerance": 1e-3, "continuous": "no"}
            ],
            "actions": [
                {"target": "gateway", "command": "sendEmail", "params": "x", "target_id": 5}
            ],
        }
    )  # fmt: skip
    (condition,) = trigger.conditions
    assert isinstance(condition, DataCondition)
    assert condition.threshold_value is None
    assert condition.duration is None
    assert condition.hysteresis is None
    assert condition.tolerance == 1e-3
    assert condition.continuous is None
    assert trigger.enabled is True
    assert trigger.actions == (TriggerAction("gateway", "sendEmail"),)


def test_models_built_in_code_serialise_and_validate() -> None:
    condition = DataCondition(
        "meter", V4, "RMS_Watts_Tot", ">=", 5000, hysteresis=120, continuous=True
    )
    assert condition.as_json() == {
        "type": "data", "source": "meter", "source_id": V4, "field": "RMS_Watts_Tot",
        "threshold_test": ">=", "threshold_value": 5000, "hysteresis": 120, "continuous": True,
    }  # fmt: skip
    params = {"relay": "Relay_1", "status": "open", "duration": 0}
    action = TriggerAction("meter", "SetRelay", V4, params)
    trigger = Trigger("load shed", (condition,), (action,), extras={"note": "x"})
    assert validate_trigger(trigger) == trigger.writable_json()
    with pytest.raises(InvalidParameterError):
        validate_trigger(trigger_for(trigger_name="x" * 201))
    with pytest.raises(InvalidParameterError):
        validate_trigger([1])  # type: ignore[arg-type]


async def test_unexpected_api_answers(session: aiohttp.ClientSession) -> None:
    """A stand-in API answering with shapes the simulator never sends."""
    from aiohttp import web

    answers = {"GET": b'{"triggers": []}', "POST": b"<html>", "PUT": b'{"ok": 1}', "DELETE": b""}

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=answers[request.method], content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/api/trigger", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    api = triggers(session, f"http://127.0.0.1:{port}")
    uuid = "058f3dba18cb11edbdf452540000ef9a"
    try:
        with pytest.raises(TriggerNotFoundError):
            await api.get(uuid)
        with pytest.raises(MeterFrameError):
            await api.create(GATEWAY, trigger_for())
        with pytest.raises(MeterFrameError):
            await api.update(uuid, {"enabled": False})
        assert await api.delete(uuid) == {}
    finally:
        await runner.cleanup()
