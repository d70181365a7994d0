"""Sans-IO Device Settings API: receipts, answers, the stream decoder, the demux, the schemas.

Property tests feed arbitrary bytes and JSON: the result is a value or one of the library's
typed errors, never another exception; chunking never changes what the decoder yields; every
awaited answer is delivered exactly once whatever the order and whether it came early.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.ekm.commands import CT_RATIOS, PULSE_OUTPUT_RATIOS
from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterApiError,
    MeterAuthError,
    MeterError,
    MeterFrameError,
    MeterPermissionError,
    MeterRateLimitError,
    MeterServerError,
)
from custom_components.meterlink.meters.http import error_for_status
from custom_components.meterlink.meters.json import api_error_text
from custom_components.meterlink.meters.push.settings.commands import (
    COMMANDS,
    ParamKind,
    Target,
    command_spec,
    normalize_gateway,
    validate_command,
)
from custom_components.meterlink.meters.push.settings.stream import (
    MAX_MESSAGE,
    AnswerDemux,
    CommandAnswer,
    StreamDecoder,
    answers_in,
    parse_answer,
    parse_receipt,
)

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# The seed's own example answer and receipt (seed 000).
SEED_ANSWER = {
    "msg_id": "8fce23ce5d0b11ebb86e4c1d96d9f4c7",
    "timestamp": 1611374002.628128,
    "success": True,
    "error": None,
    "data": None,
}
SEED_RECEIPT = {
    "msg_id": "8fce23ce5d0b11ebb86e4c1d96d9f4c7",
    "response_channel_id": "response_NjUyNTQwNzI6dUU5N2F3MEFOMmxSdlVadTM0",
    "response_channel_host": "psrv1.ekmmetering.com",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def test_seed_example_answer_and_receipt() -> None:
    answer = parse_answer(SEED_ANSWER)
    assert answer.as_json() == SEED_ANSWER
    receipt = parse_receipt(200, json.dumps(SEED_RECEIPT).encode())
    assert receipt.msg_id == SEED_RECEIPT["msg_id"]
    assert receipt.response_channel_id == SEED_RECEIPT["response_channel_id"]
    assert receipt.response_channel_host == SEED_RECEIPT["response_channel_host"]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, MeterApiError),
        (404, MeterApiError),
        (401, MeterAuthError),
        (403, MeterPermissionError),
        (429, MeterRateLimitError),
        (500, MeterServerError),
        (503, MeterServerError),
    ],
)
def test_http_errors_are_typed_and_carry_the_api_text(status: int, kind: type[MeterError]) -> None:
    body = json.dumps({"error": "Invalid   parameter:\n relay"}).encode()
    with pytest.raises(kind) as caught:
        parse_receipt(status, body)
    assert "Invalid parameter: relay" in str(caught.value)
    if isinstance(caught.value, MeterApiError):
        assert caught.value.status == status


def test_rate_limit_retry_after() -> None:
    error = error_for_status(429, b"", retry_after="12")
    assert isinstance(error, MeterRateLimitError)
    assert error.retry_after == 12
    error = error_for_status(429, b"", retry_after="soon")
    assert isinstance(error, MeterRateLimitError)
    assert error.retry_after is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"msg_id": "x"}',
        b'{"msg_id": "x", "response_channel_id": "a/b", "response_channel_host": "h"}',
        b'{"msg_id": "x", "response_channel_id": "a", "response_channel_host": "h/p"}',
    ],
)
def test_bad_receipts_are_frame_errors(body: bytes) -> None:
    with pytest.raises(MeterFrameError):
        parse_receipt(200, body)


def test_200_with_an_error_attribute_is_an_api_error() -> None:
    with pytest.raises(MeterApiError, match="gateway offline"):
        parse_receipt(200, b'{"error": "gateway offline"}')


def test_wrapped_push_stream_message_is_unwrapped() -> None:
    wrapped = {"id": 3, "channel": "response_x", "text": json.dumps(SEED_ANSWER)}
    assert parse_answer(wrapped) == parse_answer(SEED_ANSWER)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [("1611374002.5", 1611374002.5), ("soon", None), (True, None), (math.inf, None), (7, 7.0)],
)
def test_answer_timestamp_forms(timestamp: object, expected: float | None) -> None:
    assert parse_answer({**SEED_ANSWER, "timestamp": timestamp}).timestamp == expected


def test_decoder_cuts_messages_out_of_noise() -> None:
    first = json.dumps(SEED_ANSWER)
    second = json.dumps({**SEED_ANSWER, "msg_id": "b", "data": {"x": "}{]["}})
    stream = f"ping\r\n{first}{second}\n\n: keepalive\n{{broken\n".encode()
    decoder = StreamDecoder()
    values = decoder.feed(stream)
    assert values[:2] == [json.loads(first), json.loads(second)]
    assert [a.msg_id for a in answers_in(values)] == [SEED_ANSWER["msg_id"], "b"]
    assert decoder.skipped > 0


def test_batches_of_answers_in_an_array() -> None:
    values = StreamDecoder().feed(json.dumps([SEED_ANSWER, {"other": 1}, 5]).encode())
    assert [a.msg_id for a in answers_in(values)] == [SEED_ANSWER["msg_id"]]


@PROPERTY
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=10))
def test_decoder_never_raises(data: bytes, cuts: list[int]) -> None:
    decoder = StreamDecoder()
    position = 0
    for size in [*cuts, len(data)]:
        for value in decoder.feed(data[position : position + size]):
            assert isinstance(value, dict | list)
        position += size
    answers_in(decoder.feed(b""))


answers = st.builds(
    lambda msg_id, success, error, data: {
        "msg_id": msg_id,
        "success": success,
        "error": error,
        "data": data,
        "timestamp": 1.5,
    },
    st.text(min_size=1, max_size=12).filter(str.strip),
    st.booleans(),
    st.none() | st.text(min_size=1, max_size=10),
    st.none() | st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@PROPERTY
@given(
    st.lists(answers, min_size=1, max_size=6),
    st.lists(st.integers(1, 40), max_size=20),
    st.sampled_from(["", "\n", "\r\n", "  "]),
)
def test_chunking_does_not_change_what_is_decoded(
    messages: list[dict[str, Any]], cuts: list[int], separator: str
) -> None:
    data = separator.join(json.dumps(message) for message in messages).encode()
    whole = StreamDecoder().feed(data)
    decoder = StreamDecoder()
    pieces: list[Any] = []
    position = 0
    for size in [*cuts, len(data)]:
        pieces += decoder.feed(data[position : position + size])
        position += size
    assert pieces == whole == messages
    assert [a.as_json() for a in answers_in(pieces)] == [
        {**m, "error": (m["error"] and " ".join(m["error"].split())) or None} for m in messages
    ]


@PROPERTY
@given(json_values)
def test_parse_answer_gives_an_answer_or_a_frame_error(value: Any) -> None:
    try:
        answer = parse_answer(value)
    except MeterFrameError:
        return
    assert isinstance(answer, CommandAnswer)
    assert isinstance(answer.success, bool)
    json.dumps(answer.as_json(), allow_nan=False)


@PROPERTY
@given(
    st.integers(100, 599),
    st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
)
def test_parse_receipt_gives_a_receipt_or_a_typed_error(status: int, body: bytes) -> None:
    try:
        receipt = parse_receipt(status, body)
    except MeterError:
        return
    assert 200 <= status < 300
    assert receipt.msg_id.strip()
    api_error_text(body)


@PROPERTY
@given(
    st.lists(
        st.text("abcdef0123456789", min_size=4, max_size=8), min_size=1, max_size=8, unique=True
    ),
    st.randoms(use_true_random=False),
    st.integers(0, 8),
)
def test_demux_delivers_each_awaited_answer_once(
    msg_ids: list[str], rng: Any, early_count: int
) -> None:
    """Some answers arrive before their command is awaited, the rest after, in any order."""
    demux = AnswerDemux()
    arrivals = [CommandAnswer(msg_id, True) for msg_id in msg_ids]
    rng.shuffle(arrivals)
    early, late = arrivals[:early_count], arrivals[early_count:]
    delivered = demux.feed(early)
    assert delivered == []
    got = {}
    for msg_id in msg_ids:
        found = demux.expect(msg_id)
        if found is not None:
            got[msg_id] = found
    for answer in late + late:  # replayed backlog: duplicates must not deliver twice
        for done in demux.feed([answer]):
            assert done.msg_id not in got
            got[done.msg_id] = done
    assert sorted(got) == sorted(msg_ids)
    assert demux.waiting == frozenset()


def test_demux_forgets_and_bounds_early_answers() -> None:
    demux = AnswerDemux(max_early=2)
    assert demux.expect("a") is None
    demux.forget("a")
    assert demux.feed([CommandAnswer("a", True)]) == []  # nobody waits any more: kept as early
    demux.feed([CommandAnswer("b", True), CommandAnswer("c", True)])
    assert demux.expect("a") is None  # the oldest early answer was dropped
    assert demux.expect("c") == CommandAnswer("c", True)


# Command schemas ------------------------------------------------------------------------------


def test_table_covers_the_documented_commands() -> None:
    """Every command name in the vendor document's two lists, and nothing else."""
    meter = {
        "SetMeterPassword", "SetCTRatio", "SetTime", "SetMaxDemandResetInterval",
        "SetMaxDemandResetNow", "SetMaxDemandPeriod", "SetLCD", "SetPulseInputRatio",
        "SetPulseOutputRatio", "SetZeroResettableKWH", "SetRelay", "SetHolidayDates",
        "SetSchedule", "SetWeekendHolidaySchedules", "GetSchedules", "GetTariffData",
    }  # fmt: skip
    iostack = {
        "SetPassword",
        "ScanOneWire",
        "GetStatus",
        "SetDateTime",
        "ResetDICount",
        "SetDOLevel",
    }
    assert {name for target, name in COMMANDS if target is Target.METER} == meter
    assert {name for target, name in COMMANDS if target is Target.IOSTACK} == iostack
    relay = command_spec("meter", "SetRelay")
    assert tuple(param.name for param in relay.params) == (
        "relay",
        "status",
        "duration",
        "meter_password",
    )
    by_name = {param.name: param for param in relay.params}
    assert by_name["relay"].choices == ("Relay_1", "Relay_2")
    assert by_name["status"].choices == ("open", "close")
    assert (by_name["duration"].minimum, by_name["duration"].maximum) == (0, 9999)
    assert by_name["meter_password"].secret
    assert not by_name["meter_password"].required


def test_seed_example_params_pass_and_normalise() -> None:
    _, params = validate_command(
        "meter",
        "setRelay",
        {"relay": "relay_1", "status": "CLOSE", "duration": 1, "meter_password": "00000000"},
    )
    assert params == {
        "relay": "Relay_1",
        "status": "close",
        "duration": 1,
        "meter_password": "00000000",
    }


def test_ranges_come_from_the_meter_constants() -> None:
    ct = {p.name: p for p in command_spec("meter", "SetCTRatio").params}["ct_ratio"]
    assert ct.choices == tuple(str(r) for r in CT_RATIOS)
    cf = {p.name: p for p in command_spec("meter", "SetPulseOutputRatio").params}
    assert cf["pulse_output_ratio"].choices == PULSE_OUTPUT_RATIOS


def test_free_form_commands_take_any_plain_json() -> None:
    _, params = validate_command("meter", "SetHolidayDates", {"Holiday_1": {"Month": 1, "Day": 1}})
    assert params == {"Holiday_1": {"Month": 1, "Day": 1}}
    with pytest.raises(InvalidParameterError):
        validate_command("meter", "SetSchedule", {"deep": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]})


def test_secret_values_never_appear_in_errors() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        validate_command("meter", "SetMeterPassword", {"new_password": "secret99x"})
    assert "secret99x" not in str(caught.value)


@pytest.mark.parametrize("mac", ["4016fa0500cd", "40:16:FA:05:00:CD", "40-16-fa-05-00-cd"])
def test_gateway_macs_normalise(mac: str) -> None:
    assert normalize_gateway(mac) == "4016fa0500cd"


@pytest.mark.parametrize("mac", ["4016fa0500", "zz16fa0500cd", "", "4016fa0500cd0"])
def test_bad_gateway_macs(mac: str) -> None:
    with pytest.raises(InvalidParameterError):
        normalize_gateway(mac)


def _valid_value(param: Any) -> st.SearchStrategy[Any]:
    if param.choices is not None and param.kind is not ParamKind.LIST:
        return st.sampled_from(param.choices)
    match param.kind:
        case ParamKind.INTEGER:
            return st.integers(param.minimum, param.maximum)
        case ParamKind.BOOLEAN:
            return st.booleans()
        case ParamKind.LIST:
            return st.lists(
                st.integers(param.minimum, param.maximum),
                min_size=param.min_items,
                max_size=param.max_items,
            )
    return st.from_regex(param.pattern, fullmatch=True)


@st.composite
def valid_commands(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
    spec = draw(
        st.sampled_from([s for s in COMMANDS.values() if not s.free_form and s.name != "SetTime"])
    )
    params = {}
    for param in spec.params:
        if param.required or draw(st.booleans()):
            params[param.name] = draw(_valid_value(param))
    return spec, params


@PROPERTY
@given(valid_commands())
def test_values_inside_the_schema_pass_unchanged(command: tuple[Any, dict[str, Any]]) -> None:
    spec, params = command
    assert spec.validate(params) == params


@PROPERTY
@given(
    st.sampled_from(sorted(COMMANDS, key=str)),
    st.dictionaries(st.text(max_size=12), json_values, max_size=4) | json_values,
)
def test_arbitrary_params_give_params_or_invalid_parameter(key: Any, params: Any) -> None:
    target, name = key
    try:
        _, checked = validate_command(target, name, params)
    except InvalidParameterError:
        return
    json.dumps(checked, allow_nan=False)


def test_decoder_drops_non_json_brackets_and_endless_messages() -> None:
    decoder = StreamDecoder()
    good = json.dumps(SEED_ANSWER)
    assert decoder.feed(f"{{]{{'single': quotes}}{good}".encode()) == [SEED_ANSWER]
    endless = StreamDecoder()
    assert endless.feed(b'{"msg_id": "' + b"x" * (MAX_MESSAGE + 1)) == []
    assert endless.skipped > MAX_MESSAGE
    assert endless.feed(good.encode()) == [SEED_ANSWER]  # back in step afterwards


@pytest.mark.parametrize(
    "message",
    [
        "text",
        [SEED_ANSWER],
        {**SEED_ANSWER, "msg_id": " "},
        {**SEED_ANSWER, "success": "true"},
        {"id": 1, "text": "not json"},
    ],
)
def test_messages_that_are_no_answers(message: object) -> None:
    with pytest.raises(MeterFrameError):
        parse_answer(message)


def test_answer_data_keeps_json_but_not_non_finite_numbers() -> None:
    answer = parse_answer({**SEED_ANSWER, "data": {"a": [1, math.nan], "b": "x"}, "error": " "})
    assert answer.data == {"a": [1, None], "b": "x"}
    assert answer.error is None
