"""The send_command action against the simulated EKM cloud: answers, failures, token rights."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.meters.push.settings.commands import (
    COMMANDS,
    CommandSpec,
    ParamKind,
    Target,
)
from simulator.ekm.push_device_api import TokenInfo

from .cloud_sim import (
    GATEWAY,
    IOSTACK,
    OTHER_V4,
    READ_TOKEN,
    RELAY_METER,
    CloudSim,
)
from .conftest import CloudEntryBuilder, device_id_of, setup_cloud_entry


async def _send(hass: HomeAssistant, data: dict[str, Any], *, response: bool = True) -> Any:
    return await hass.services.async_call(
        DOMAIN, "send_command", data, blocking=True, return_response=response
    )


# A valid call of every documented command (the simulator's models accept these).
VALID: dict[tuple[Target, str], dict[str, Any]] = {
    (Target.METER, "SetMeterPassword"): {"new_password": "00000000"},
    (Target.METER, "SetCTRatio"): {"ct_ratio": "400"},
    (Target.METER, "SetTime"): {
        "year": "2026",
        "month": "11",
        "day": "21",
        "hour": "17",
        "minutes": "30",
        "seconds": "05",
    },
    (Target.METER, "SetMaxDemandResetInterval"): {"interval": 2},
    (Target.METER, "SetMaxDemandResetNow"): {},
    (Target.METER, "SetMaxDemandPeriod"): {"max_demand_period": 3},
    (Target.METER, "SetLCD"): {"display_fields": [1, 2, 3]},
    (Target.METER, "SetPulseInputRatio"): {"pulse_line": 2, "pulse_input_ratio": 100},
    (Target.METER, "SetPulseOutputRatio"): {"pulse_line": 1, "pulse_output_ratio": 800},
    (Target.METER, "SetZeroResettableKWH"): {"meter_password": "00000000"},
    (Target.METER, "SetRelay"): {"relay": "Relay_2", "status": "close", "duration": 0},
    (Target.METER, "SetHolidayDates"): {"dates": ["2026-12-25"]},
    (Target.METER, "SetSchedule"): {"schedule": 1},
    (Target.METER, "SetWeekendHolidaySchedules"): {"weekend_schedule": 2, "holiday_schedule": 3},
    (Target.METER, "GetSchedules"): {},
    (Target.METER, "GetTariffData"): {},
    (Target.IOSTACK, "SetPassword"): {"new_password": "secret99", "password": "12345678"},
    (Target.IOSTACK, "ScanOneWire"): {},
    (Target.IOSTACK, "GetStatus"): {},
    (Target.IOSTACK, "SetDateTime"): {},
    (Target.IOSTACK, "ResetDICount"): {"pin": 1},
    (Target.IOSTACK, "SetDOLevel"): {"pin": 3, "level": 1, "clear_watch": True},
}


def test_the_table_covers_every_command() -> None:
    assert set(VALID) == set(COMMANDS)


@pytest.mark.parametrize("key", sorted(VALID), ids=lambda key: f"{key[0]}-{key[1]}")
async def test_every_command_returns_the_devices_answer(
    hass: HomeAssistant,
    cloud_sim: CloudSim,
    cloud_entry: MockConfigEntry,
    key: tuple[Target, str],
) -> None:
    target, command = key
    address = RELAY_METER if target is Target.METER else IOSTACK
    data = {
        "device_id": device_id_of(hass, cloud_entry, address),
        "command": command,
        "params": VALID[key],
    }
    sent_before = len(cloud_sim.device_api.commands)
    if COMMANDS[key].free_form:
        # EKM does not document these commands' parameters; the simulated gateway answers
        # them with a failure, which is a Home Assistant error naming the device's reason.
        with pytest.raises(HomeAssistantError) as caught:
            await _send(hass, data)
        truth = cloud_sim.device_api.answers[cloud_sim.device_api.commands[-1].msg_id]
        assert truth["success"] is False
        assert caught.value.translation_key == "device_api_command_failed"
        assert caught.value.translation_placeholders["error"] == truth["error"]
        return
    response = await _send(hass, data)
    assert len(cloud_sim.device_api.commands) == sent_before + 1
    sent = cloud_sim.device_api.commands[-1]
    assert (sent.target, sent.target_id, sent.command) == (target.value, address, command)
    truth = cloud_sim.device_api.answers[sent.msg_id]
    assert response == {
        "target": target.value,
        "target_id": address,
        "command": command,
        "msg_id": sent.msg_id,
        "success": True,
        "error": None,
        "data": truth["data"],
        "timestamp": truth["timestamp"],
    }


async def test_set_relay_closes_the_simulated_relay(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    meter = cloud_sim.push.meters[RELAY_METER]
    assert meter.relays == [False, False]
    await _send(
        hass,
        {
            "device_id": device_id_of(hass, cloud_entry, RELAY_METER),
            "command": "SetRelay",
            "params": {"relay": "Relay_1", "status": "close", "duration": 0},
        },
        response=False,
    )
    assert meter.relays == [True, False]


async def test_entry_and_explicit_target(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    response = await _send(
        hass,
        {
            "config_entry_id": cloud_entry.entry_id,
            "target": "iostack",
            "target_id": IOSTACK,
            "command": "GetStatus",
        },
    )
    stack = cloud_sim.device_api.iostacks[IOSTACK]
    assert response["data"] == {"di_counts": stack.di_counts, "do_levels": stack.do_levels}


async def test_gateway_device_with_explicit_target(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    response = await _send(
        hass,
        {
            "device_id": device_id_of(hass, cloud_entry, GATEWAY),
            "target": "meter",
            "target_id": OTHER_V4,
            "command": "GetTariffData",
        },
    )
    assert response["success"] is True
    assert cloud_sim.device_api.commands[-1].target_id == OTHER_V4


async def test_concurrent_commands_each_get_their_own_answer(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    meter_id, stack_id = (
        device_id_of(hass, cloud_entry, RELAY_METER),
        device_id_of(hass, cloud_entry, IOSTACK),
    )
    calls = [
        {"device_id": meter_id, "command": "GetTariffData"},
        {"device_id": meter_id, "command": "GetSchedules"},
        {
            "device_id": meter_id,
            "command": "SetRelay",
            "params": {"relay": "Relay_2", "status": "close", "duration": 0},
        },
        {"device_id": stack_id, "command": "GetStatus"},
        {"device_id": stack_id, "command": "ScanOneWire"},
        *(
            {"device_id": stack_id, "command": "SetDOLevel", "params": {"pin": pin, "level": 1}}
            for pin in (1, 3, 4)
        ),
    ]
    # Answers come back in a different order than the commands went out.
    delays = iter([0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.02, 0.01])
    cloud_sim.device_api.delay_for = lambda _sent: next(delays)
    responses = await asyncio.gather(*(_send(hass, call) for call in calls))
    assert len({response["msg_id"] for response in responses}) == len(calls)
    for call, response in zip(calls, responses, strict=True):
        sent = next(c for c in cloud_sim.device_api.commands if c.msg_id == response["msg_id"])
        assert sent.command == call["command"] == response["command"]
        assert response["data"] == cloud_sim.device_api.answers[sent.msg_id]["data"]
    assert cloud_sim.push.meters[RELAY_METER].relays == [False, True]
    assert cloud_sim.push.iostacks[IOSTACK].outputs == [1, True, 1, 1]


async def test_an_answer_that_never_comes_names_the_command(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    cloud_sim.device_api.delay_for = lambda _sent: None  # the gateway never answers
    with pytest.raises(HomeAssistantError) as caught:
        await _send(
            hass,
            {
                "device_id": device_id_of(hass, cloud_entry, RELAY_METER),
                "command": "GetTariffData",
                "timeout": 0.3,
            },
        )
    assert caught.value.translation_key == "device_api_answer_timeout"
    assert (
        caught.value.translation_placeholders["msg_id"] == cloud_sim.device_api.commands[-1].msg_id
    )
    # The gateway works again: the next command gets its answer on the same client.
    cloud_sim.device_api.delay_for = lambda _sent: 0.01
    response = await _send(
        hass,
        {"device_id": device_id_of(hass, cloud_entry, RELAY_METER), "command": "GetTariffData"},
    )
    assert response["success"] is True
    assert response["msg_id"] == cloud_sim.device_api.commands[-1].msg_id


async def test_a_device_failure_is_a_home_assistant_error(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    cloud_sim.push.meters[RELAY_METER].password = "12345678"
    with pytest.raises(HomeAssistantError) as caught:
        await _send(
            hass,
            {
                "device_id": device_id_of(hass, cloud_entry, RELAY_METER),
                "command": "SetRelay",
                "params": {"relay": "Relay_1", "status": "close", "duration": 0},
            },
        )
    assert not isinstance(caught.value, ServiceValidationError)
    assert caught.value.translation_key == "device_api_command_failed"
    truth = cloud_sim.device_api.answers[cloud_sim.device_api.commands[-1].msg_id]
    assert caught.value.translation_placeholders["error"] == truth["error"]
    assert cloud_sim.push.meters[RELAY_METER].relays == [False, False]


async def test_an_api_refusal_is_a_home_assistant_error(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    with pytest.raises(HomeAssistantError) as caught:
        await _send(
            hass,
            {
                "config_entry_id": cloud_entry.entry_id,
                "target": "meter",
                "target_id": "000399999999",  # not on the account
                "command": "GetTariffData",
            },
        )
    assert not isinstance(caught.value, ServiceValidationError)
    assert caught.value.translation_key == "device_api_error"
    assert cloud_sim.device_api.requests[-1].status == 400


def _invalid_params(spec: CommandSpec) -> tuple[dict[str, Any], str]:
    """Parameters the command's schema refuses, and the name the error must mention."""
    if spec.free_form:
        return {"dates": float("nan")}, "dates"
    if not spec.params:
        return {"bogus": 1}, "bogus"
    param = spec.params[0]
    wrong: Any = "x" if param.kind is not ParamKind.STRING else 12
    return {**VALID[(spec.target, spec.name)], param.name: wrong}, param.name


@pytest.mark.parametrize("key", sorted(COMMANDS), ids=lambda key: f"{key[0]}-{key[1]}")
async def test_invalid_parameters_never_reach_the_api(
    hass: HomeAssistant,
    cloud_sim: CloudSim,
    cloud_entry: MockConfigEntry,
    key: tuple[Target, str],
) -> None:
    spec = COMMANDS[key]
    params, name = _invalid_params(spec)
    address = RELAY_METER if spec.target is Target.METER else IOSTACK
    with pytest.raises(ServiceValidationError) as caught:
        await _send(
            hass,
            {
                "device_id": device_id_of(hass, cloud_entry, address),
                "command": spec.name,
                "params": params,
            },
        )
    assert caught.value.translation_key == "device_api_invalid_parameter"
    assert name in caught.value.translation_placeholders["error"]
    assert cloud_sim.device_api.send_command_requests == 0


@pytest.mark.parametrize(
    ("data", "mentions"),
    [
        ({"command": "SetRelayNow"}, "SetRelayNow"),
        ({"command": "SetDOLevel", "params": {"pin": 1, "level": 1}}, "SetDOLevel"),
        ({"target": "meter", "target_id": "12", "command": "GetTariffData"}, "12-digit"),
        # Another target type than the device's needs its own id.
        ({"target": "iostack", "command": "GetStatus"}, "target_id"),
    ],
)
async def test_invalid_commands_and_targets(
    hass: HomeAssistant,
    cloud_sim: CloudSim,
    cloud_entry: MockConfigEntry,
    data: dict[str, Any],
    mentions: str,
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await _send(hass, {"device_id": device_id_of(hass, cloud_entry, RELAY_METER), **data})
    assert mentions in caught.value.translation_placeholders["error"]
    assert cloud_sim.device_api.send_command_requests == 0


async def test_targets_that_are_not_cloud_devices(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await _send(hass, {"device_id": "no-such-device", "command": "GetTariffData"})
    assert caught.value.translation_key == "device_api_target_not_found"
    with pytest.raises(ServiceValidationError) as caught:
        await _send(hass, {"config_entry_id": "no-such-entry", "command": "GetTariffData"})
    assert caught.value.translation_key == "device_api_target_not_found"
    with pytest.raises(ServiceValidationError) as caught:
        await _send(hass, {"command": "GetTariffData"})
    assert caught.value.translation_key == "device_api_no_target"
    with pytest.raises(ServiceValidationError) as caught:
        await _send(hass, {"config_entry_id": cloud_entry.entry_id, "command": "GetTariffData"})
    assert caught.value.translation_key == "device_api_invalid_parameter"
    await hass.config_entries.async_unload(cloud_entry.entry_id)
    with pytest.raises(ServiceValidationError) as caught:
        await _send(hass, {"config_entry_id": cloud_entry.entry_id, "command": "GetTariffData"})
    assert caught.value.translation_key == "device_api_entry_not_loaded"
    assert cloud_sim.device_api.send_command_requests == 0


@pytest.mark.parametrize(
    ("token", "key"),
    [
        (None, "device_api_token_missing"),
        (READ_TOKEN, "device_api_token_read_only"),
        ("not-a-known-token", "device_api_token_rejected"),
    ],
)
async def test_commands_need_a_write_token(
    hass: HomeAssistant,
    cloud_sim: CloudSim,
    make_cloud_entry: CloudEntryBuilder,
    token: str | None,
    key: str,
) -> None:
    entry = await setup_cloud_entry(hass, make_cloud_entry(token))
    with pytest.raises(ServiceValidationError) as caught:
        await _send(
            hass,
            {
                "device_id": device_id_of(hass, entry, RELAY_METER),
                "command": "SetRelay",
                "params": {"relay": "Relay_1", "status": "close", "duration": 0},
            },
        )
    assert caught.value.translation_key == key
    assert caught.value.translation_placeholders == {"entry": entry.title}
    assert cloud_sim.device_api.send_command_requests == 0
    assert cloud_sim.push.meters[RELAY_METER].relays == [False, False]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("status", "key"),
    [
        (401, "device_api_token_rejected"),
        (403, "device_api_not_permitted"),
        (429, "device_api_rate_limited"),
        (500, "device_api_error"),
    ],
)
async def test_api_failures_are_translated(
    hass: HomeAssistant,
    cloud_sim: CloudSim,
    cloud_entry: MockConfigEntry,
    status: int,
    key: str,
) -> None:
    cloud_sim.refuse["/sendCommand"] = status
    with pytest.raises(HomeAssistantError) as caught:
        await _send(
            hass,
            {"device_id": device_id_of(hass, cloud_entry, RELAY_METER), "command": "GetSchedules"},
        )
    assert not isinstance(caught.value, ServiceValidationError)
    assert caught.value.translation_key == key
    assert cloud_sim.account_key not in str(caught.value.translation_placeholders)
    assert cloud_sim.device_api.commands == []


async def test_another_accounts_device_is_not_permitted(
    hass: HomeAssistant, cloud_sim: CloudSim, make_cloud_entry: CloudEntryBuilder
) -> None:
    cloud_sim.device_api.tokens["other-account-token"] = TokenInfo("account-2")
    entry = await setup_cloud_entry(hass, make_cloud_entry("other-account-token"))
    with pytest.raises(HomeAssistantError) as caught:
        await _send(
            hass,
            {"device_id": device_id_of(hass, entry, RELAY_METER), "command": "GetSchedules"},
        )
    assert caught.value.translation_key == "device_api_not_permitted"
    assert "another account" in caught.value.translation_placeholders["error"]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_rs485_meter_is_not_a_cloud_target(
    hass: HomeAssistant, cloud_sim: CloudSim, init_integration: MockConfigEntry
) -> None:
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, RELAY_METER), init_integration.entry_id
    )
    assert device is not None
    with pytest.raises(ServiceValidationError) as caught:
        await _send(hass, {"device_id": device.id, "command": "GetSchedules"})
    assert caught.value.translation_key == "device_api_target_not_found"
    with pytest.raises(ServiceValidationError) as caught:
        await _send(hass, {"config_entry_id": init_integration.entry_id, "command": "GetSchedules"})
    assert caught.value.translation_key == "device_api_target_not_found"


def test_the_command_selector_offers_every_command() -> None:
    services = yaml.safe_load(
        (Path(__file__).parents[2] / "custom_components/meterlink/services.yaml").read_text()
    )
    options = services["send_command"]["fields"]["command"]["selector"]["select"]["options"]
    assert sorted(options) == sorted({name for _target, name in COMMANDS})
