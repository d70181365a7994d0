"""Every /cmd operation: validated before sending, sent to the simulator, tokens followed."""

from __future__ import annotations

import base64

import pytest

from custom_components.meterlink.meters.egauge import commands
from custom_components.meterlink.meters.egauge.client import EgaugeClient
from custom_components.meterlink.meters.egauge.models import OperationStatus
from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterCommandError,
    MeterTimeoutError,
    MissingSaveRightError,
)
from simulator.egauge import SimEgauge

from .conftest import VIEWER, VIEWER_PASSWORD, ClientFactory, FakeClock

TOKEN = "473c31462e62848b5352314dfc608669"
TARGET = "11:22:33:44:55:66/ABCD-EFGH-IJKL-MNOP"


def _sent(meter: SimEgauge) -> tuple[str, object]:
    return meter.commands[-1]


async def test_short_operations_reach_the_meter_as_specified(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    cases = [
        (commands.reboot(), ("reboot", None)),
        (commands.set_time(1677523091.25), ("set-time", "1677523091.25")),
        (commands.set_time(None), ("set-time", None)),
        (commands.clear("excess"), ("clear", "excess")),
        (commands.clear("web_cache"), ("clear", "web_cache")),
        (
            commands.db_zero(10, 20, [0, 3]),
            ("db", {"action": "zero", "from": "10", "to": "20", "regs": [0, 3]}),
        ),
        (commands.db_split([1]), ("db", {"action": "split", "regs": [1]})),
        (
            commands.db_restore(b"backup", more_chunks=True),
            (
                "db",
                {
                    "action": "restore",
                    "data": base64.b64encode(b"backup").decode(),
                    "more_chunks": True,
                },
            ),
        ),
        (
            commands.wlan("add", ssid="home", key="00ff", hex_key=True, hidden=True),
            ("wlan", {"action": "add", "ssid": "home", "key": "00ff", "hex": True, "hidden": True}),
        ),
        (commands.wlan("select", network_id=2), ("wlan", {"action": "select", "id": 2})),
        (
            commands.homeplug("HomePlugAV", [TARGET]),
            ("homeplug", {"action": "setpwd", "password": "HomePlugAV", "targets": [TARGET]}),
        ),
    ]
    for request, sent in cases:
        result = await commands.run(client, request)
        assert result.answer.document == {"status": "OK"}
        assert _sent(meter) == sent
        meter.reboot(delay=3600)  # keep the simulated reboot from taking the meter away


async def test_set_time_moves_the_meter_clock_and_resync_restores_it(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    await commands.run(client, commands.set_time(clock() + 3600))
    assert meter.now() == pytest.approx(clock() + 3600)
    await commands.run(client, commands.set_time(None))
    assert meter.skew == 0


async def test_db_zero_resets_counters(client: EgaugeClient, meter: SimEgauge) -> None:
    await commands.run(client, commands.db_zero())
    assert meter.reported()["Solar"] == 0


async def test_update_list_and_install_follow_the_token(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    offer = await commands.available_update(client)
    assert (offer.version, offer.minimum) == ("4.7", "4.1.2")
    meter.faults.version_as_number = True
    assert (await commands.available_update(client)).version == "4.7"
    seen: list[OperationStatus] = []
    result = await commands.run(
        client, commands.update_install("4.7"), poll_interval=0, on_progress=seen.append
    )
    assert result.status is not None
    assert result.status.done
    assert result.status.error is None
    progress = [s.progress for s in seen if s.progress is not None]
    assert progress == sorted(progress)
    assert len(seen) == 6
    assert [s.info for s in seen[:-1]] == ["CHKSIG", "EXTRACT", "FLASH", "INSTALL", "FINALIZE"]
    assert seen[2].info_text == "writing to flash"
    assert meter.firmware == "4.7"
    clock.advance(2)
    assert meter.down  # installing reboots the meter


async def test_update_not_newer_is_an_operation_failure(client: EgaugeClient) -> None:
    with pytest.raises(MeterCommandError, match=r"not newer than the installed version 4\.6\.2"):
        await commands.run(client, commands.update_install("4.6"), poll_interval=0)


async def test_token_operations_return_their_result(client: EgaugeClient) -> None:
    mail = await commands.run(client, commands.mail_test("me@example.com"), poll_interval=0)
    assert "example.com" in mail.result["log"]  # type: ignore[index]
    remote = await commands.run(
        client, commands.remote_test("modbus://sunspec.1@USB2", "modbus"), poll_interval=0
    )
    assert remote.result["regs"] == [{"name": "Grid", "type": "P"}]  # type: ignore[index]
    service = await commands.run(client, commands.activate("push", "Cloudly"), poll_interval=0)
    assert service.result["activated"] is True  # type: ignore[index]


async def test_no_wait_returns_the_token_and_cancel_ends_it(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    started = await commands.run(client, commands.update_install("4.8"), wait=False)
    token = started.answer.token
    assert token is not None
    assert started.status is None
    assert (await commands.run(client, commands.cancel(token))).answer.document == {"status": "OK"}
    status = await client.status(token)
    assert status.done
    assert status.error == "CANCELED"
    assert status.error_text == "the operation was cancelled"
    with pytest.raises(MeterCommandError, match="Unknown token"):
        await commands.run(client, commands.cancel("0" * 32))


async def test_following_gives_up_after_the_timeout(client: EgaugeClient) -> None:
    with pytest.raises(MeterTimeoutError):
        await commands.run(client, commands.update_install("4.9"), poll_interval=0, give_up_after=0)


async def test_missing_save_right_is_refused_before_sending(
    make_client: ClientFactory, meter: SimEgauge
) -> None:
    viewer = make_client(VIEWER, VIEWER_PASSWORD)
    with pytest.raises(MissingSaveRightError):
        await commands.run(viewer, commands.reboot())
    assert meter.commands == []


async def test_meter_refusal_is_an_operation_failure(client: EgaugeClient) -> None:
    request = commands.CommandRequest("clear", "/cmd/clear", "everything")
    with pytest.raises(MeterCommandError, match="Invalid argument"):
        await commands.run(client, request)


@pytest.mark.parametrize(
    "build",
    [
        lambda: commands.set_time(float("nan")),
        lambda: commands.set_time(-1),
        lambda: commands.clear("all"),
        lambda: commands.update_list("bios"),
        lambda: commands.update_list(branch="a\nb"),
        lambda: commands.update_install("4.7; rm"),
        lambda: commands.mail_test("not-an-address"),
        lambda: commands.mail_test("a@b", mailpass=""),
        lambda: commands.remote_test("x", "carrier-pigeon"),
        lambda: commands.remote_test("", "modbus"),
        lambda: commands.activate("spam", "x"),
        lambda: commands.activate("push", ""),
        lambda: commands.cancel("abc"),
        lambda: commands.db_zero(20, 10),
        lambda: commands.db_zero(regs=[]),
        lambda: commands.db_zero(regs=[-1]),
        lambda: commands.db_restore(b""),
        lambda: commands.db_restore(b"x" * (2 * 1024 * 1024)),
        lambda: commands.wlan("add"),
        lambda: commands.wlan("add", ssid="x", key="zz", hex_key=True),
        lambda: commands.wlan("forget"),
        lambda: commands.wlan("scan"),
        lambda: commands.homeplug("abc", [TARGET]),
        lambda: commands.homeplug('with"quote', [TARGET]),
        lambda: commands.homeplug("HomePlugAV", []),
        lambda: commands.homeplug("HomePlugAV", ["11:22:33/KEY"]),
    ],
)
def test_bad_input_is_refused_before_sending(build: object) -> None:
    with pytest.raises(InvalidParameterError):
        build()  # type: ignore[operator]


def test_destructive_operations_and_secrets_are_marked() -> None:
    destructive = {
        commands.db_zero().operation,
        commands.db_split().operation,
        commands.db_restore(b"x").operation,
        commands.factory_restore().operation,
        commands.wlan("forget", network_id=1).operation,
        commands.homeplug("HomePlugAV", [TARGET]).operation,
    }
    assert all(
        request.destructive
        for request in (commands.db_zero(), commands.factory_restore(), commands.db_split())
    )
    assert destructive == {
        "db-zero",
        "db-split",
        "db-restore",
        "factory-restore",
        "wlan",
        "homeplug",
    }
    assert not commands.reboot().destructive
    assert commands.wlan("add", ssid="x", key="k3y-secret").secrets == ("k3y-secret",)
    assert commands.mail_test("a@b.c", mailpass="pw").secrets == ("pw",)
    full = commands.mail_test("a@b.c", smarthost="smtp", mailuser="u", fromaddr="f@b.c")
    assert full.body == {
        "address": "a@b.c",
        "smarthost": "smtp",
        "mailuser": "u",
        "fromaddr": "f@b.c",
    }
    assert commands.update_list("kernel", "").body == {
        "action": "list",
        "target": "kernel",
        "branch": "",
    }
    install = commands.update_install(None, force=True, branch="beta")
    assert install.body == {"action": "install", "target": "fw", "branch": "beta", "force": True}


async def test_factory_restore_reboots(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    await commands.run(client, commands.factory_restore())
    clock.advance(1.5)
    assert meter.down


def test_build_by_name_covers_every_operation_of_the_cli() -> None:
    from custom_components.meterlink.meters.egauge.cli import OPERATIONS as CLI_OPERATIONS

    assert {operation.name for operation in CLI_OPERATIONS} == set(commands.OPERATIONS)
    assert commands.build("set-time").body is None  # no time: a resync
    assert commands.build("set-time", {"time": "1677523091.5"}).body == "1677523091.5"
    restored = commands.build("db-restore", {"data": base64.b64encode(b"x").decode()})
    assert restored.body == {"action": "restore", "data": "eA=="}
    assert commands.build("wlan", {"action": "forget", "id": 3}).body == {
        "action": "forget",
        "id": 3,
    }
    for operation, params in (
        ("explode", {}),
        ("reboot", {"now": True}),
        ("set-time", {"time": "noon"}),
        ("set-time", {"time": [1]}),
        ("update-list", {"branch": 5}),
        ("db-restore", {"data": "***"}),
        ("db-restore", {}),
    ):
        with pytest.raises(InvalidParameterError):
            commands.build(operation, params)
