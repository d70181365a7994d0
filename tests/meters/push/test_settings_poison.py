"""One hostile message on the Device Settings response stream costs itself, nothing more.

Issue 11: a huge `timestamp` (OverflowError) or `data` nested ~1000 deep killed the stream
reader; it restarted, re-read the same message from the backlog and died again, so every
later command timed out although the gateway carried it out. And the decoder was quadratic
in an unfinished message arriving in small chunks, on Home Assistant's event loop.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from types import FrameType
from typing import Any

import aiohttp
import pytest

from custom_components.meterlink.meters.push.settings import stream
from custom_components.meterlink.meters.push.settings.client import DeviceApiClient
from custom_components.meterlink.meters.push.settings.stream import (
    StreamDecoder,
    answers_in,
    parse_answer,
)
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_device_api import DeviceApiSimulator, SimGateway, TokenInfo

METER = "000300004127"
GATEWAY = "4016fa0500cd"
KEY = "MTAxMDoyMDIw"
TOKEN = "owner-token-XZTdu8"
HUGE = "1" + "0" * 400
RELAY = {"relay": "Relay_1", "status": "close", "duration": 0}


def _deep(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def _message(msg_id: str, *, timestamp: str = "1611374002.6", data: str = "null") -> str:
    return (
        f'{{"msg_id": "{msg_id}", "success": true, "error": null, '
        f'"timestamp": {timestamp}, "data": {data}}}'
    )


def test_a_huge_timestamp_costs_only_the_timestamp() -> None:
    answer = parse_answer(json.loads(_message("a", timestamp=HUGE)))
    assert answer.msg_id == "a"
    assert answer.success is True
    assert answer.timestamp is None
    assert parse_answer(json.loads(_message("b", timestamp='"1e999"'))).timestamp is None


@pytest.mark.parametrize("depth", [70, 1000, 5000])
def test_deeply_nested_data_costs_only_the_data(depth: int) -> None:
    (answer,) = answers_in(StreamDecoder().feed(_message("a", data=_deep(depth)).encode()))
    assert (answer.msg_id, answer.success, answer.data) == ("a", True, None)


def test_hostile_messages_do_not_hide_the_next_answer() -> None:
    text = _message("x", timestamp=HUGE) + _message("y", data=_deep(3000)) + _message("z")
    answers = answers_in(StreamDecoder().feed_text(text))
    assert [answer.msg_id for answer in answers] == ["x", "y", "z"]


@pytest.fixture
async def world() -> AsyncIterator[tuple[DeviceApiSimulator, str]]:
    sim = DeviceApiSimulator(
        {METER: SimMeter(METER)},
        {},
        [SimGateway(GATEWAY, "acme", KEY, {METER})],
        {TOKEN: TokenInfo("acme")},
    )
    url = await sim.start()
    yield sim, url
    await sim.stop()


@pytest.mark.parametrize(
    "poison",
    [_message("poison-1", timestamp=HUGE), _message("poison-2", data=_deep(1000))],
)
async def test_a_poisoned_backlog_does_not_stop_later_commands(
    world: tuple[DeviceApiSimulator, str], poison: str, socket_enabled: None
) -> None:
    sim, url = world
    async with (
        aiohttp.ClientSession() as session,
        DeviceApiClient(
            session, TOKEN, KEY, api_url=url, answer_timeout=3.0, reconnect_delay=0.05
        ) as client,
    ):
        # On the channel before the first command: every (re)subscription replays it.
        sim.publish(client.response_channel_id, poison)
        first = await client.send("meter", METER, "SetRelay", RELAY)
        second = await client.send("meter", METER, "SetRelay", {**RELAY, "status": "open"})
    assert first.success
    assert second.success
    assert sim.meters[METER].relays[0] is False


def _python_lines(run: Any) -> int:
    """Python lines executed in the stream module: a measure of work that is not a timer."""
    count = 0
    module = stream.__file__

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if frame.f_code.co_filename != module:
            return None
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        run()
    finally:
        sys.settrace(None)
    return count


def _feed_unfinished(size: int) -> None:
    decoder = StreamDecoder()
    data = b'{"msg_id": "x", "data": "' + b"a" * size
    for index in range(len(data)):
        decoder.feed(data[index : index + 1])


def test_an_unfinished_message_in_one_byte_chunks_costs_linear_work() -> None:
    small = _python_lines(lambda: _feed_unfinished(256))
    large = _python_lines(lambda: _feed_unfinished(1024))
    # Four times the input: about four times the work (a rescan per chunk gave sixteen).
    assert large < 6 * small
