"""Device Settings API client against the simulator over real HTTP streams and websockets.

The simulator is the truth: meters are `SimMeter`s whose relays and settings the commands
change, answers come after delays the tests choose, and every request is counted so "refused
before sending" is checked from the server's side.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterApiError,
    MeterAuthError,
    MeterConnectionError,
    MeterFrameError,
    MeterPermissionError,
    MeterTimeoutError,
)
from custom_components.meterlink.meters.push.settings.client import (
    AnswerTimeoutError,
    CommandFailedError,
    DeviceApiClient,
    StreamTransport,
    raise_for_failure,
)
from custom_components.meterlink.meters.push.settings.commands import Target
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_device_api import (
    DeviceApiSimulator,
    Privilege,
    SentCommand,
    SimGateway,
    SimIoStack,
    TokenInfo,
)

V4 = "000300004127"
V4_B = "000300004128"
V3 = "000000011766"
FOREIGN = "000300009999"  # another account's meter, on another gateway
IOSTACK = "ios-000001"
GATEWAY = "4016fa0500cd"
OTHER_GATEWAY = "4016fa0500ff"
GATEWAY_KEY = "MTAxMDoyMDIw"
OTHER_KEY = "T3RoZXJLZXk6OTk5"
ACCOUNT_KEY = "QWNjb3VudEtleTox"
OWNER_TOKEN = "owner-token-XZTdu8"
READ_TOKEN = "read-only-token-Qw3"
ADMIN_TOKEN = "admin-token-Zz9"
FOREIGN_TOKEN = "foreign-owner-token-Kk1"


@dataclass
class World:
    """The simulator, its base URL and the device models it shares."""

    sim: DeviceApiSimulator
    url: str
    meters: dict[str, SimMeter]
    iostacks: dict[str, SimIoStack]


def make_simulator() -> DeviceApiSimulator:
    meters = {
        V4: SimMeter(V4),
        V4_B: SimMeter(V4_B),
        V3: SimMeter(V3, MeterVersion.V3),
        FOREIGN: SimMeter(FOREIGN),
    }
    iostacks = {IOSTACK: SimIoStack(IOSTACK)}
    gateways = [
        SimGateway(GATEWAY, "acme", GATEWAY_KEY, {V4, V4_B, V3, IOSTACK}),
        SimGateway(OTHER_GATEWAY, "other", OTHER_KEY, {FOREIGN}),
    ]
    tokens = {
        OWNER_TOKEN: TokenInfo("acme"),
        READ_TOKEN: TokenInfo("acme", write=False),
        ADMIN_TOKEN: TokenInfo("ekm", Privilege.ADMIN),
        FOREIGN_TOKEN: TokenInfo("other"),
    }
    return DeviceApiSimulator(
        meters, iostacks, gateways, tokens, account_keys={ACCOUNT_KEY: "acme"}
    )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    sim = make_simulator()
    url = await sim.start()
    yield World(sim, url, sim.meters, sim.iostacks)
    await sim.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def client(
    session: aiohttp.ClientSession, world: World, token: str = OWNER_TOKEN, **kwargs: Any
) -> DeviceApiClient:
    kwargs.setdefault("answer_timeout", 3.0)
    kwargs.setdefault("reconnect_delay", 0.05)
    key = kwargs.pop("key", GATEWAY_KEY)
    return DeviceApiClient(session, token, key, api_url=world.url, **kwargs)


@pytest.mark.parametrize("transport", list(StreamTransport))
async def test_set_relay_changes_the_meter_and_returns_the_answer(
    world: World, session: aiohttp.ClientSession, transport: StreamTransport
) -> None:
    meter = world.meters[V4]
    assert meter.relays == [False, False]
    async with client(session, world, transport=transport) as api:
        answer = await api.send(
            "meter",
            V4,
            "SetRelay",
            {"relay": "Relay_2", "status": "close", "duration": 0, "meter_password": "00000000"},
        )
    published = world.sim.answers[answer.msg_id]
    assert answer.as_json() == published
    assert answer.success is True
    assert meter.relays == [False, True]
    # The reading reflects it: State_Out of the v4 A block encodes both relays.
    assert meter.values(Block.V4A)["State_Out"] == 2
    (sent,) = world.sim.commands
    assert sent.params == {
        "relay": "Relay_2",
        "status": "close",
        "duration": 0,
        "meter_password": "00000000",
    }
    assert sent.channel == api.response_channel_id


async def test_timed_relay_reverts_in_the_shared_meter_model(
    world: World, session: aiohttp.ClientSession
) -> None:
    meter = world.meters[V4]
    async with client(session, world) as api:
        answer = await api.send(
            "meter", V4, "setrelay", {"relay": "relay_1", "status": "CLOSE", "duration": 5}
        )
    assert answer.success
    assert meter.relays[0] is True
    meter.advance(5)
    assert meter.relays[0] is False


async def test_settings_commands_reach_the_meter(
    world: World, session: aiohttp.ClientSession
) -> None:
    meter = world.meters[V4]
    async with client(session, world) as api:
        answers = [
            await api.send("meter", V4, "SetCTRatio", {"ct_ratio": "400"}),
            await api.send("meter", V4, "SetMaxDemandPeriod", {"max_demand_period": 3}),
            await api.send("meter", V4, "SetMaxDemandResetInterval", {"interval": 2}),
            await api.send(
                "meter", V4, "SetPulseInputRatio", {"pulse_line": 2, "pulse_input_ratio": 250}
            ),
            await api.send(
                "meter", V4, "SetPulseOutputRatio", {"pulse_line": 1, "pulse_output_ratio": 1600}
            ),
            await api.send("meter", V4, "SetLCD", {"display_fields": [1, 12, 28]}),
            await api.send(
                "meter",
                V4,
                "SetTime",
                {
                    "year": "2026",
                    "month": "03",
                    "day": "01",
                    "hour": "12",
                    "minutes": "30",
                    "seconds": "05",
                },
            ),
            await api.send(
                "meter",
                V4,
                "SetWeekendHolidaySchedules",
                {"weekend_schedule": 2, "holiday_schedule": 3},
            ),
        ]
    assert all(answer.success for answer in answers), [a.error for a in answers]
    settings = meter.values(Block.V4B)
    assert settings["CT_Ratio"] == 400
    assert settings["Max_Demand_Period"] == 3
    assert settings["Max_Demand_Rst"] == 2
    assert settings["Pulse_Ratio_2"] == 250
    assert settings["CF_Ratio"] == 1600
    assert meter.lcd_items == [1, 12, 28]
    assert meter.clock == datetime(2026, 3, 1, 12, 30, 5)
    assert meter.weekend_holiday == "0203"


async def test_zero_resettable_and_demand_reset(
    world: World, session: aiohttp.ClientSession
) -> None:
    meter = world.meters[V4]
    meter.advance(3600)
    assert meter.values(Block.V4A)["kWh_Rst"] != 0
    assert meter.max_demand > 0
    async with client(session, world) as api:
        assert (await api.send("meter", V4, "SetZeroResettableKWH")).success
        assert (await api.send("meter", V4, "SetMaxDemandResetNow", {})).success
    assert meter.values(Block.V4A)["kWh_Rst"] == 0
    assert meter.max_demand == 0


async def test_meter_password_change_and_refusal(
    world: World, session: aiohttp.ClientSession
) -> None:
    meter = world.meters[V4]
    async with client(session, world) as api:
        changed = await api.send("meter", V4, "SetMeterPassword", {"new_password": "12345678"})
        assert changed.success
        assert meter.password == "12345678"
        refused = await api.send(
            "meter", V4, "SetRelay", {"relay": "Relay_1", "status": "close", "duration": 0}
        )
    assert refused.success is False
    assert refused.error == world.sim.answers[refused.msg_id]["error"]
    assert meter.relays[0] is False
    with pytest.raises(CommandFailedError) as caught:
        raise_for_failure(refused)
    assert caught.value.answer is refused


async def test_relay_on_a_v3_meter_is_reported_as_failure(
    world: World, session: aiohttp.ClientSession
) -> None:
    async with client(session, world) as api:
        answer = await api.send(
            "meter", V3, "SetRelay", {"relay": "Relay_1", "status": "close", "duration": 0}
        )
    assert answer.success is False
    assert answer.error == world.sim.answers[answer.msg_id]["error"]
    assert world.meters[V3].relays == [False, False]


async def test_read_commands_return_data(world: World, session: aiohttp.ClientSession) -> None:
    meter = world.meters[V4]
    async with client(session, world) as api:
        tariffs = await api.send("meter", V4, "GetTariffData")
        schedules = await api.send("meter", V4, "GetSchedules")
    expected = meter.values(Block.V4B)
    assert tariffs.data == {f"kWh_Tariff_{n}": expected[f"kWh_Tariff_{n}"] for n in (1, 2, 3, 4)}
    assert schedules.data == {"schedules": meter.schedules}


async def test_iostack_commands(world: World, session: aiohttp.ClientSession) -> None:
    io = world.iostacks[IOSTACK]
    counts, levels = io.di_counts, io.do_levels  # what GetStatus must report
    async with client(session, world, transport="websocket") as api:
        status = await api.send(Target.IOSTACK, IOSTACK, "GetStatus")
        scan = await api.send("iostack", IOSTACK, "ScanOneWire")
        level = await api.send(
            "iostack",
            IOSTACK,
            "SetDOLevel",
            {"pin": 3, "level": 1, "clear_watch": True, "password": io.password},
        )
        reset = await api.send("iostack", IOSTACK, "ResetDICount", {"pin": 1})
        clock = await api.send("iostack", IOSTACK, "SetDateTime")
        password = await api.send(
            "iostack", IOSTACK, "SetPassword", {"new_password": "n3w-pass", "password": io.password}
        )
    assert status.data == {"di_counts": counts, "do_levels": levels}
    assert scan.data == {"devices": io.one_wire}
    assert all(a.success for a in (level, reset, clock, password))
    assert io.do_levels == [*levels[:2], 1, levels[3]]
    assert io.watch_cleared
    assert io.di_counts[0] == 0
    assert io.clock_set
    assert io.password == "n3w-pass"


@pytest.mark.parametrize("transport", list(StreamTransport))
async def test_concurrent_commands_are_demultiplexed(
    world: World, session: aiohttp.ClientSession, transport: StreamTransport
) -> None:
    """Eight commands in flight on one channel; answers come back in reverse order."""
    delays = iter([0.40, 0.35, 0.30, 0.25, 0.20, 0.15, 0.10, 0.05])
    world.sim.delay_for = lambda sent: next(delays)
    world.sim.split_writes = True  # answers cut in two across stream chunks
    ratios = ["100", "200", "400", "600", "800", "1000", "1200", "1500"]
    async with client(session, world, transport=transport) as api:
        answers = await asyncio.gather(
            *(
                api.send("meter", V4 if i % 2 else V4_B, "SetCTRatio", {"ct_ratio": ratio})
                for i, ratio in enumerate(ratios)
            )
        )
    by_msg = {sent.msg_id: sent for sent in world.sim.commands}
    assert len(by_msg) == len(ratios)
    for ratio, answer in zip(ratios, answers, strict=True):
        assert by_msg[answer.msg_id].params == {"ct_ratio": ratio}
        assert answer.as_json() == world.sim.answers[answer.msg_id]
    published = list(world.sim.answers)
    sent_order = [sent.msg_id for sent in world.sim.commands]
    assert published != sent_order  # really out of order
    # Each meter holds the ratio of the command its gateway carried out last.
    for address in (V4, V4_B):
        last = [by_msg[m] for m in published if by_msg[m].target_id == address][-1]
        assert world.meters[address].ct_ratio == int(last.params["ct_ratio"])


async def test_two_clients_on_one_gateway_get_their_own_answers(
    world: World, session: aiohttp.ClientSession
) -> None:
    """Answers of another client (another channel) never complete this client's commands."""
    delays = iter([0.3, 0.05, 0.2, 0.1])
    world.sim.delay_for = lambda sent: next(delays)
    async with (
        client(session, world) as first,
        client(session, world, transport="websocket") as second,
    ):
        results = await asyncio.gather(
            first.send("meter", V4, "GetSchedules"),
            second.send("meter", V4_B, "GetTariffData"),
            first.send("meter", V4_B, "GetSchedules"),
            second.send("meter", V4, "GetTariffData"),
        )
    for result, owner in zip(results, (first, second, first, second), strict=True):
        sent = next(s for s in world.sim.commands if s.msg_id == result.msg_id)
        assert sent.channel == owner.response_channel_id


async def test_never_answered_command_times_out_with_its_msg_id(
    world: World, session: aiohttp.ClientSession
) -> None:
    world.sim.delay_for = lambda sent: None
    async with client(session, world, answer_timeout=0.3) as api:
        with pytest.raises(AnswerTimeoutError) as caught:
            await api.send(
                "meter", V4, "SetRelay", {"relay": "Relay_1", "status": "open", "duration": 0}
            )
    (sent,) = world.sim.commands
    assert caught.value.msg_id == sent.msg_id
    assert caught.value.response_channel_id == sent.channel
    assert sent.msg_id in str(caught.value)


async def test_late_answer_after_timeout_does_not_confuse_the_next_command(
    world: World, session: aiohttp.ClientSession
) -> None:
    delays = iter([0.5, 0.05])
    world.sim.delay_for = lambda sent: next(delays)
    async with client(session, world, answer_timeout=0.2) as api:
        with pytest.raises(AnswerTimeoutError) as caught:
            await api.send("meter", V4, "GetSchedules")
        await asyncio.sleep(0.4)  # the late answer is published meanwhile
        second = await api.send("meter", V4, "GetTariffData")
    assert second.msg_id != caught.value.msg_id
    assert second.msg_id == world.sim.commands[1].msg_id


async def test_answer_published_before_subscribing_comes_from_the_backlog(
    world: World, session: aiohttp.ClientSession
) -> None:
    """The answer overtakes the receipt: published before any stream is open."""
    world.sim.delay_for = lambda sent: 0.0
    async with client(session, world) as api:
        answer = await api.send("meter", V4, "GetSchedules")
        assert answer.msg_id == world.sim.commands[0].msg_id
        # Nobody listens any more once nothing is in flight.
        await asyncio.sleep(0.05)
        assert world.sim.subscribers(api.response_channel_id) == 0


async def test_subscribes_before_sending_once_the_host_is_known(
    world: World, session: aiohttp.ClientSession
) -> None:
    seen: list[int] = []

    def delay(sent: SentCommand) -> float:
        seen.append(sum(1 for r in world.sim.requests if r.path.startswith("/sub/")))
        return 0.05

    world.sim.delay_for = delay
    async with client(session, world, backlog=0) as api:
        await api.send("meter", V4, "GetSchedules")  # learns the host; no backlog: live only
        await api.send("meter", V4, "GetSchedules")
    # First command: the host is unknown, the stream opens after the receipt (0 before).
    # Second: the stream (the second one) is open before the command is posted.
    assert seen == [0, 2]


@pytest.mark.parametrize(
    ("token", "key", "target_id", "error", "status"),
    [
        (READ_TOKEN, GATEWAY_KEY, V4, MeterPermissionError, 403),
        ("no-such-token", GATEWAY_KEY, V4, MeterAuthError, 401),
        (OWNER_TOKEN, "bad-key", V4, MeterAuthError, 401),
        (OWNER_TOKEN, GATEWAY_KEY, FOREIGN, MeterPermissionError, 403),
        (OWNER_TOKEN, OTHER_KEY, FOREIGN, MeterPermissionError, 403),
        (FOREIGN_TOKEN, GATEWAY_KEY, V4, MeterPermissionError, 403),
        (OWNER_TOKEN, GATEWAY_KEY, "000300000000", MeterApiError, 400),
    ],
)
async def test_refusals_are_typed(
    world: World,
    session: aiohttp.ClientSession,
    token: str,
    key: str,
    target_id: str,
    error: type[Exception],
    status: int,
) -> None:
    async with client(session, world, token, key=key) as api:
        with pytest.raises(error) as caught:
            await api.send(
                "meter",
                target_id,
                "SetRelay",
                {"relay": "Relay_1", "status": "close", "duration": 1},
            )
    (request,) = world.sim.requests
    assert request.status == status
    assert token not in str(caught.value)
    assert key not in str(caught.value)
    assert world.sim.commands == []
    assert world.meters[V4].relays == [False, False]


async def test_http_400_carries_the_api_error_text(
    world: World, session: aiohttp.ClientSession
) -> None:
    async with client(session, world, gateway="001122334455") as api:
        with pytest.raises(MeterApiError) as caught:
            await api.send("meter", V4, "GetSchedules")
    assert caught.value.status == 400
    (request,) = world.sim.requests
    assert request.status == 400
    assert "unknown gateway" in str(caught.value)


async def test_admin_token_and_account_key_reach_devices_of_the_key(
    world: World, session: aiohttp.ClientSession
) -> None:
    async with client(session, world, ADMIN_TOKEN, key=OTHER_KEY, gateway=OTHER_GATEWAY) as api:
        assert (await api.send("meter", FOREIGN, "GetSchedules")).success
    async with client(session, world, OWNER_TOKEN, key=ACCOUNT_KEY, gateway=GATEWAY) as api:
        assert (await api.send("meter", V4, "GetSchedules")).success


async def test_unreachable_api_is_a_connection_error(session: aiohttp.ClientSession) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        api = DeviceApiClient(session, OWNER_TOKEN, GATEWAY_KEY, api_url=f"http://127.0.0.1:{port}")
        with pytest.raises(MeterConnectionError) as caught:
            await api.send("meter", V4, "GetSchedules")
    assert GATEWAY_KEY not in str(caught.value)
    assert OWNER_TOKEN not in str(caught.value)


# Refused before anything is sent -----------------------------------------------------------

BAD_PARAMS: list[tuple[str, str, dict[str, Any]]] = [
    ("meter", "SetMeterPassword", {"new_password": "1234"}),
    ("meter", "SetMeterPassword", {}),
    ("meter", "SetCTRatio", {"ct_ratio": "250"}),
    ("meter", "SetCTRatio", {"ct_ratio": 200}),
    (
        "meter",
        "SetTime",
        {
            "year": "2026",
            "month": "02",
            "day": "30",
            "hour": "00",
            "minutes": "00",
            "seconds": "00",
        },
    ),
    (
        "meter",
        "SetTime",
        {"year": "26", "month": "02", "day": "01", "hour": "00", "minutes": "00", "seconds": "00"},
    ),
    ("meter", "SetMaxDemandResetInterval", {"interval": 5}),
    ("meter", "SetMaxDemandResetNow", {"now": True}),
    ("meter", "SetMaxDemandPeriod", {"max_demand_period": 15}),
    ("meter", "SetLCD", {"display_fields": []}),
    ("meter", "SetLCD", {"display_fields": [1, 99]}),
    ("meter", "SetLCD", {"display_fields": "1,2"}),
    ("meter", "SetPulseInputRatio", {"pulse_line": 4, "pulse_input_ratio": 1}),
    ("meter", "SetPulseOutputRatio", {"pulse_line": 1, "pulse_output_ratio": 3}),
    ("meter", "SetZeroResettableKWH", {"all": 1}),
    ("meter", "SetRelay", {"relay": "Relay_3", "status": "close", "duration": 0}),
    ("meter", "SetRelay", {"relay": "Relay_1", "status": "on", "duration": 0}),
    ("meter", "SetRelay", {"relay": "Relay_1", "status": "close", "duration": 10000}),
    ("meter", "SetRelay", {"relay": "Relay_1", "status": "close", "duration": True}),
    ("meter", "SetRelay", {"relay": "Relay_1", "status": "close"}),
    (
        "meter",
        "SetRelay",
        {"relay": "Relay_1", "status": "close", "duration": 1, "meter_password": "abc"},
    ),
    ("meter", "SetHolidayDates", {"dates": float("nan")}),
    ("meter", "SetSchedule", {"x": object()}),
    ("meter", "SetWeekendHolidaySchedules", {"weekend_schedule": 0, "holiday_schedule": 1}),
    ("meter", "GetSchedules", {"schedule": 1}),
    ("meter", "GetTariffData", {"month": 1}),
    ("meter", "Reboot", {}),
    ("iostack", "SetPassword", {"new_password": "", "password": "x"}),
    ("iostack", "ScanOneWire", {"bus": 1}),
    ("iostack", "GetStatus", {"verbose": True}),
    ("iostack", "SetDateTime", {"year": "2026"}),
    ("iostack", "ResetDICount", {"pin": 0}),
    ("iostack", "SetDOLevel", {"pin": 1, "level": 2}),
    ("iostack", "SetDOLevel", {"pin": 1, "level": 1, "clear_watch": "yes"}),
    ("gateway", "SetRelay", {}),
]


@pytest.mark.parametrize(("target", "command", "params"), BAD_PARAMS)
async def test_invalid_parameters_are_refused_before_sending(
    world: World, session: aiohttp.ClientSession, target: str, command: str, params: dict[str, Any]
) -> None:
    async with client(session, world) as api:
        with pytest.raises(InvalidParameterError):
            await api.send(target, IOSTACK if target == "iostack" else V4, command, params)
    assert world.sim.send_command_requests == 0
    assert world.sim.requests == []


def test_every_documented_command_has_a_refused_case() -> None:
    from custom_components.meterlink.meters.push.settings.commands import COMMANDS

    covered = {(Target(t), c) for t, c, _ in BAD_PARAMS if t in ("meter", "iostack")}
    assert set(COMMANDS) <= covered


@pytest.mark.parametrize(
    ("target", "target_id"), [("meter", "4127"), ("meter", 300004127), ("iostack", "a b")]
)
async def test_bad_target_ids_are_refused_before_sending(
    world: World, session: aiohttp.ClientSession, target: str, target_id: Any
) -> None:
    async with client(session, world) as api:
        with pytest.raises(InvalidParameterError):
            await api.send(
                target, target_id, "GetStatus" if target == "iostack" else "GetSchedules"
            )
    assert world.sim.requests == []


def test_constructor_refuses_missing_token_and_bad_url() -> None:
    with pytest.raises(MeterAuthError):
        DeviceApiClient(None, "", GATEWAY_KEY)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        DeviceApiClient(None, OWNER_TOKEN, GATEWAY_KEY, api_url="ftp://x")  # type: ignore[arg-type]


def test_stream_url_takes_the_api_scheme() -> None:
    https = DeviceApiClient(None, OWNER_TOKEN, GATEWAY_KEY)  # type: ignore[arg-type]
    assert re.fullmatch(
        r"https://psrv1\.example/sub/response_[0-9a-f]{32}\.b20",
        https.stream_url("psrv1.example", https.response_channel_id),
    )
    ws = DeviceApiClient(None, OWNER_TOKEN, GATEWAY_KEY, transport="websocket", backlog=0)  # type: ignore[arg-type]
    assert ws.stream_url("h", "c") == "wss://h/ws/c"
    plain = DeviceApiClient(
        None, OWNER_TOKEN, GATEWAY_KEY, api_url="http://127.0.0.1:1/", transport="websocket"
    )  # type: ignore[arg-type]
    assert plain.stream_url("127.0.0.1:1", "c") == "ws://127.0.0.1:1/ws/c.b20"


# Stream faults ------------------------------------------------------------------------------


async def until(condition: Callable[[], bool], limit: float = 3.0) -> None:
    """Poll the simulator's state (it has no events to wait on) for at most `limit` s."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 - polling state that has no event
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("transport", list(StreamTransport))
@pytest.mark.parametrize(("status", "error"), [(403, MeterPermissionError), (401, MeterAuthError)])
async def test_a_refused_stream_fails_the_waiting_command_at_once(
    world: World,
    session: aiohttp.ClientSession,
    transport: StreamTransport,
    status: int,
    error: type[Exception],
) -> None:
    world.sim.stream_status = status
    async with client(session, world, transport=transport, answer_timeout=5) as api:
        started = asyncio.get_running_loop().time()
        with pytest.raises(error):
            await api.send("meter", V4, "GetSchedules")
    assert asyncio.get_running_loop().time() - started < 2  # not the answer timeout
    assert [r.status for r in world.sim.requests] == [200, status]


@pytest.mark.parametrize("transport", list(StreamTransport))
async def test_a_failing_stream_is_retried_and_named_in_the_timeout(
    world: World, session: aiohttp.ClientSession, transport: StreamTransport
) -> None:
    world.sim.stream_status = 503
    async with client(session, world, transport=transport, answer_timeout=0.4) as api:
        with pytest.raises(AnswerTimeoutError, match="response stream") as caught:
            await api.send("meter", V4, "GetSchedules")
    assert caught.value.msg_id == world.sim.commands[0].msg_id
    assert sum(r.status == 503 for r in world.sim.requests) >= 2  # retried


async def test_an_unreachable_stream_host_is_named_in_the_timeout(
    world: World, session: aiohttp.ClientSession
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        world.sim.channel_host = f"127.0.0.1:{unused.getsockname()[1]}"
        async with client(session, world, answer_timeout=0.4) as api:
            with pytest.raises(AnswerTimeoutError, match="cannot read answers"):
                await api.send("meter", V4, "GetSchedules")


@pytest.mark.parametrize("transport", list(StreamTransport))
async def test_stream_restart_is_survived_through_the_backlog(
    world: World, session: aiohttp.ClientSession, transport: StreamTransport
) -> None:
    world.sim.delay_for = lambda sent: 0.3
    world.sim.binary_frames = True
    async with client(session, world, transport=transport) as api:
        pending = asyncio.create_task(api.send("meter", V4, "GetSchedules"))
        await until(lambda: world.sim.subscribers(api.response_channel_id) > 0)
        assert world.sim.kick_subscribers() == 1
        answer = await pending
    assert answer.msg_id == world.sim.commands[0].msg_id
    opened = [r for r in world.sim.requests if r.method == "GET"]
    assert len(opened) >= 2


async def test_api_choosing_its_own_channel_is_followed(
    world: World, session: aiohttp.ClientSession
) -> None:
    world.sim.own_channel_ids = True
    async with client(session, world) as api:
        answers = await asyncio.gather(*(api.send("meter", V4, "GetSchedules") for _ in range(3)))
    assert [a.msg_id for a in answers] == [c.msg_id for c in world.sim.commands]
    assert all(c.channel != api.response_channel_id for c in world.sim.commands)


async def test_queue_only_returns_the_receipt(world: World, session: aiohttp.ClientSession) -> None:
    async with client(session, world) as api:
        receipt = await api.queue(
            "meter", V4, "SetRelay", {"relay": "relay_2", "status": "close", "duration": 0}
        )
    (sent,) = world.sim.commands
    assert receipt.msg_id == sent.msg_id
    assert receipt.response_channel_id == api.response_channel_id
    assert sent.params["relay"] == "Relay_2"


async def test_close_ends_waiting_commands(world: World, session: aiohttp.ClientSession) -> None:
    world.sim.delay_for = lambda sent: None
    api = client(session, world, answer_timeout=5)
    pending = asyncio.create_task(api.send("meter", V4, "GetSchedules"))
    await until(lambda: bool(world.sim.commands))
    await asyncio.sleep(0.05)
    await api.close()
    with pytest.raises(MeterConnectionError):
        await pending
    with pytest.raises(MeterConnectionError):
        await api.send("meter", V4, "GetSchedules")
    assert len(world.sim.commands) == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"answer_timeout": 0}, {"request_timeout": -1}, {"backlog": 5000}, {"gateway": "gw-1"}],
)
def test_bad_client_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        DeviceApiClient(None, OWNER_TOKEN, GATEWAY_KEY, **kwargs)  # type: ignore[arg-type]


async def test_oversized_and_slow_api_answers(session: aiohttp.ClientSession) -> None:
    """A stand-in API that misbehaves in ways the simulator does not."""

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"{" + b" " * 300_000 + b"}", content_type="application/json")

    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/huge/sendCommand", huge)
    app.router.add_post("/slow/sendCommand", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        big = DeviceApiClient(session, OWNER_TOKEN, GATEWAY_KEY, api_url=f"{base}/huge")
        with pytest.raises(MeterFrameError, match="larger than"):
            await big.send("meter", V4, "GetSchedules")
        late = DeviceApiClient(
            session, OWNER_TOKEN, GATEWAY_KEY, api_url=f"{base}/slow", request_timeout=0.2
        )
        with pytest.raises(MeterTimeoutError):
            await late.send("meter", V4, "GetSchedules")
    finally:
        release.set()
        await runner.cleanup()


async def test_install_mounts_onto_another_app(session: aiohttp.ClientSession) -> None:
    """The Push simulator mounts these routes next to its own; cleanup drops pending answers."""
    sim = make_simulator()
    sim.delay_for = lambda sent: 0.05 if sent.command == "GetSchedules" else 30

    async def read_meter(request: web.Request) -> web.Response:
        return web.json_response({"readMeter": {}})

    app = web.Application()
    app.router.add_get("/readMeter", read_meter)
    sim.install(app)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    api = DeviceApiClient(session, OWNER_TOKEN, GATEWAY_KEY, api_url=f"http://127.0.0.1:{port}")
    try:
        assert (await api.send("meter", V4, "GetSchedules")).success
        await api.queue("meter", V4, "GetTariffData")  # answered in 30 s: still pending
        async with session.get(f"http://127.0.0.1:{port}/readMeter") as response:
            assert response.status == 200
    finally:
        await api.close()
        await runner.cleanup()
    assert len(sim.commands) == 2
    assert list(sim.answers) == [sim.commands[0].msg_id]


async def test_rate_limits_keep_their_retry_after(session: aiohttp.ClientSession) -> None:
    """A 429 from sendCommand or the Trigger API carries the header's wait, seconds or date."""
    from email.utils import format_datetime
    from time import time

    from custom_components.meterlink.meters.errors import MeterRateLimitError
    from custom_components.meterlink.meters.push import TriggerClient

    in_a_minute = format_datetime(datetime.fromtimestamp(time() + 60, UTC), usegmt=True)

    async def send_command(request: web.Request) -> web.Response:
        return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "7"})

    async def trigger(request: web.Request) -> web.Response:
        return web.json_response({}, status=429, headers={"Retry-After": in_a_minute})

    app = web.Application()
    app.router.add_post("/sendCommand", send_command)
    app.router.add_route("*", "/api/trigger", trigger)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        api = DeviceApiClient(session, OWNER_TOKEN, GATEWAY_KEY, api_url=base)
        with pytest.raises(MeterRateLimitError, match="slow down") as sent:
            await api.queue("meter", V4, "GetSchedules")
        assert sent.value.retry_after == 7
        with pytest.raises(MeterRateLimitError) as listed:
            await TriggerClient(session, OWNER_TOKEN, GATEWAY_KEY, api_url=base).list(GATEWAY)
        assert listed.value.retry_after is not None
        assert 55 <= listed.value.retry_after <= 60
    finally:
        await api.close()
        await runner.cleanup()
