"""`meter push command|triggers` run in-process against the simulator.

The `push` family is registered here with only the device actions (the real family adds them
with `add_device_actions`); the tool runs its own event loop in a worker thread while the
simulator serves on this one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from custom_components.meterlink.meters import cli
from custom_components.meterlink.meters.ekm.layout import Block
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_cloud import PushSimulator, SimIoStack
from simulator.ekm.push_device_api import DeviceApiSimulator, TokenInfo, attach_to_cloud

from .test_settings_client import (
    GATEWAY,
    GATEWAY_KEY,
    OWNER_TOKEN,
    READ_TOKEN,
    V3,
    V4,
    make_simulator,
)
from .test_triggers import SEED_CREATE, trigger_for

V4_CLOUD = "000300004001"
STACK_CLOUD = "000000904001"


@pytest.fixture
async def sim() -> AsyncIterator[tuple[DeviceApiSimulator, str]]:
    simulator = make_simulator()
    url = await simulator.start()
    yield simulator, url
    await simulator.stop()


def _run(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


async def run(*argv: str) -> int:
    return await asyncio.to_thread(_run, list(argv))


def single_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def auth(url: str, token: str = OWNER_TOKEN) -> list[str]:
    return ["--token", token, "--key", GATEWAY_KEY, "--gateway", GATEWAY, "--api-url", url]


async def test_command_prints_the_answer_and_switches_the_relay(
    sim: tuple[DeviceApiSimulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, url = sim
    params = json.dumps({"relay": "Relay_1", "status": "close", "duration": 0})
    code = await run(
        "push", "command", *auth(url), "--target", "meter", "--target-id", V4,
        "--command", "SetRelay", "--params", params,
    )  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == simulator.answers[printed["msg_id"]]
    assert printed["success"] is True
    assert simulator.meters[V4].relays == [True, False]


async def test_command_failure_prints_the_answer_and_exits_non_zero(
    sim: tuple[DeviceApiSimulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, url = sim
    params = json.dumps({"relay": "Relay_1", "status": "close", "duration": 0})
    code = await run(
        "push", "command", *auth(url), "--target-id", V3, "--command", "SetRelay",
        "--params", params, "--transport", "websocket",
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 7
    printed = json.loads(out)
    assert printed == simulator.answers[printed["msg_id"]]
    assert printed["success"] is False
    assert "device reported failure" in single_line(err)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (
            [
                "--command",
                "SetRelay",
                "--params",
                '{"relay": "Relay_9", "status": "close", "duration": 0}',
            ],
            "invalid parameter",
        ),
        (["--command", "SetRelay", "--params", "{not json"], "invalid parameter"),
        (["--command", "SetRelay", "--params", "[1]"], "invalid parameter"),
        (["--command", "Launch", "--params", "{}"], "invalid parameter"),
        (
            ["--command", "GetStatus", "--target", "iostack", "--params", '{"x": 1}'],
            "invalid parameter",
        ),
    ],
)
async def test_invalid_input_is_refused_before_sending(
    sim: tuple[DeviceApiSimulator, str],
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    reason: str,
) -> None:
    simulator, url = sim
    code = await run("push", "command", *auth(url), "--target-id", V4, *extra)
    assert code == 2
    assert reason in single_line(capsys.readouterr().err)
    assert simulator.requests == []


async def test_read_only_token_and_timeout_exit_codes(
    sim: tuple[DeviceApiSimulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, url = sim
    argv = ["--target-id", V4, "--command", "GetSchedules"]
    assert await run("push", "command", *auth(url, READ_TOKEN), *argv) == 15
    err = single_line(capsys.readouterr().err)
    assert "not permitted" in err
    assert READ_TOKEN not in err
    simulator.delay_for = lambda sent: None
    assert await run("push", "command", *auth(url), *argv, "--answer-timeout", "0.2") == 4
    err = single_line(capsys.readouterr().err)
    assert simulator.commands[-1].msg_id in err


async def test_triggers_round_trip(
    sim: tuple[DeviceApiSimulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, url = sim
    body = json.dumps(trigger_for())
    assert await run("push", "triggers", "create", *auth(url), "--trigger", body) == 0
    created = json.loads(capsys.readouterr().out)["trigger"]
    uuid = created["trigger_uuid"]
    assert simulator.triggers[uuid][1] == created

    assert await run("push", "triggers", "list", *auth(url)) == 0
    assert json.loads(capsys.readouterr().out) == {"triggers": [created]}

    assert await run("push", "triggers", "get", *auth(url), "--uuid", uuid) == 0
    fetched = json.loads(capsys.readouterr().out)
    assert fetched == {"trigger": created}

    # The printed object goes back unchanged apart from the name.
    fetched["trigger"]["trigger_name"] = "renamed"
    edit = json.dumps(fetched)
    assert (
        await run("push", "triggers", "update", *auth(url), "--uuid", uuid, "--trigger", edit) == 0
    )
    assert json.loads(capsys.readouterr().out)["trigger"]["trigger_name"] == "renamed"
    assert simulator.triggers[uuid][1]["trigger_name"] == "renamed"

    assert await run("push", "triggers", "delete", *auth(url), "--uuid", uuid) == 0
    assert json.loads(capsys.readouterr().out)["trigger_uuid"] == uuid
    assert simulator.triggers == {}

    assert await run("push", "triggers", "get", *auth(url), "--uuid", uuid) == 16
    assert "no such trigger" in single_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv",
    [
        ["create"],
        ["create", "--trigger", "{"],
        [
            "create",
            "--trigger",
            json.dumps(
                {
                    **SEED_CREATE["trigger"],
                    "conditions": [{"type": "rrule", "rrule": "FREQ=SOMETIMES"}],
                }
            ),
        ],
        ["get"],
        ["delete", "--uuid", "x"],
        ["update", "--uuid", "058f3dba18cb11edbdf452540000ef9a", "--trigger", "{}"],
    ],
)
async def test_trigger_input_is_refused_before_sending(
    sim: tuple[DeviceApiSimulator, str], capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    simulator, url = sim
    assert await run("push", "triggers", argv[0], *auth(url), *argv[1:]) == 2
    assert "invalid parameter" in single_line(capsys.readouterr().err)
    assert simulator.requests == []


async def test_list_needs_a_gateway(
    sim: tuple[DeviceApiSimulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, url = sim
    argv = ["--token", OWNER_TOKEN, "--key", GATEWAY_KEY, "--api-url", url]
    assert await run("push", "triggers", "list", *argv) == 2
    assert "--gateway" in single_line(capsys.readouterr().err)
    assert simulator.requests == []


async def test_one_simulated_cloud_serves_readings_and_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`scripts/simulate ekm-push` wiring: a command's effect shows in the next `push read`."""
    cloud = PushSimulator([SimMeter(V4_CLOUD)], [SimIoStack(STACK_CLOUD)])
    token = "cloud-write-token"
    attach_to_cloud(cloud, {token: TokenInfo("account-1")})
    url = await cloud.start()
    try:
        key = cloud.account_key
        common = ["--key", key, "--api-url", url]
        params = json.dumps({"relay": "Relay_2", "status": "close", "duration": 0})
        code = await run(
            "push", "command", "--token", token, *common, "--target", "meter",
            "--target-id", V4_CLOUD, "--command", "SetRelay", "--params", params,
        )  # fmt: skip
        assert code == 0
        assert json.loads(capsys.readouterr().out)["success"] is True
        output = json.dumps({"pin": 1, "level": 1})
        code = await run(
            "push", "command", "--token", token, *common, "--target", "iostack",
            "--target-id", STACK_CLOUD, "--command", "SetDoLevel", "--params", output,
        )  # fmt: skip
        assert code == 0
        capsys.readouterr()
        cloud.poll()
        code = await run("push", "read", *common, "--account-url", url, "--json")
        assert code == 0
        read = json.loads(capsys.readouterr().out)
        closed = SimMeter(V4_CLOUD)
        closed.relays = [False, True]
        assert read[V4_CLOUD]["State_Out"] == closed.values(Block.V4A)["State_Out"]
        assert cloud.iostacks[STACK_CLOUD].outputs[0] is True
    finally:
        await cloud.stop()
