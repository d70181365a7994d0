"""smart-MAC sans-IO protocol: the vendor's example, every key variant, and hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterAddressError,
    MeterAuthError,
    MeterConnectionError,
    MeterError,
    MeterFrameError,
    MeterRateLimitError,
)
from custom_components.meterlink.meters.http import normalize_host, parse_retry_after
from custom_components.meterlink.meters.smartmac.models import (
    RelayPolarity,
    SmartMacModel,
    SmartMacReading,
    pout_for,
    relay_on,
    request_interval,
)
from custom_components.meterlink.meters.smartmac.protocol import (
    auth_failure,
    build_url,
    detect_model,
    interpret_response,
    parse_number,
    parse_reading,
    reading_from_json,
    redact,
)

# The vendor's example answer (KB article 40), byte for byte as published: note the raw
# newlines inside the `br` names, which strict JSON does not allow.
VENDOR_EXAMPLE = (
    '{"devid":"1728053249","time":"1530607456","pout":"0","data":{"V1":{"name":"Voltage 1",'
    '"unit":"V","value":"220.89"},"A1":{"name":"Current 1","unit":"A","value":"2.78"},"W1":'
    '{"name":"Active Power 1","unit":"W","value":"586"},"rW1":{"name":"Rev. Active Power 1",'
    '"unit":"W","value":"0"},"Wh1":{"name":"Energy 1","unit":"Wh","value":"33549075"},"rWh1":'
    '{"name":"Rev. Energy 1","unit":"Wh","value":"0"},"PF1":{"name":"Power Factor 1","unit":'
    '"","value":"0.94"},"br0":{"name":"\n"},"V2":{"name":"Voltage 2","unit":"V","value":'
    '"213.40"},"A2":{"name":"Current 2","unit":"A","value":"0.34"},"W2":{"name":'
    '"Active Power 2","unit":"W","value":"30"},"rW2":{"name":"Rev. Active Power 2","unit":"W",'
    '"value":"0"},"Wh2":{"name":"Energy 2","unit":"Wh","value":"4831905"},"rWh2":{"name":'
    '"Rev. Energy 2","unit":"Wh","value":"0"},"PF2":{"name":"Power Factor 2","unit":"",'
    '"value":"0.42"},"br1":{"name":"\n"},"V3":{"name":"Voltage 3","unit":"V","value":'
    '"218.59"},"A3":{"name":"Current 3","unit":"A","value":"0.28"},"W3":{"name":'
    '"Active Power 3","unit":"W","value":"37"},"rW3":{"name":"Rev. Active Power 3","unit":"W",'
    '"value":"0"},"Wh3":{"name":"Energy 3","unit":"Wh","value":"6710742"},"rWh3":{"name":'
    '"Rev. Energy 3","unit":"Wh","value":"0"},"PF3":{"name":"Power Factor 3","unit":"",'
    '"value":"0.60"},"br2":{"name":"\n"},"T":{"name":"Temperature","unit":"°C","value":"14"}}}'
)
PIN = "937451"


def doc(data: dict[str, object], **top: object) -> dict[str, object]:
    return {"devid": "42", "time": "1530607456", "pout": "1", **top, "data": data}


def entries(**values: str) -> dict[str, object]:
    return {key: {"name": key, "unit": "", "value": value} for key, value in values.items()}


# The vendor example -----------------------------------------------------------------------


def test_vendor_example_parses_to_the_documented_numbers() -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(VENDOR_EXAMPLE)  # the quirk the parser must tolerate
    reading = parse_reading(VENDOR_EXAMPLE.encode())
    assert reading.devid == "1728053249"
    assert reading.time == 1530607456
    assert reading.pout == "0"
    assert reading.model is SmartMacModel.D103
    assert reading.extended is True
    assert reading.values == {
        "V1": 220.89, "A1": 2.78, "W1": 586, "rW1": 0, "Wh1": 33549075, "rWh1": 0, "PF1": 0.94,
        "V2": 213.40, "A2": 0.34, "W2": 30, "rW2": 0, "Wh2": 4831905, "rWh2": 0, "PF2": 0.42,
        "V3": 218.59, "A3": 0.28, "W3": 37, "rW3": 0, "Wh3": 6710742, "rWh3": 0, "PF3": 0.60,
        "T": 14,
    }  # fmt: skip
    assert reading.extra == {}
    assert reading.units["T"] == "°C"
    assert reading.units["Wh1"] == "Wh"
    assert reading.units["PF2"] == ""
    assert reading.names["rW3"] == "Rev. Active Power 3"
    assert reading.attributes == {"devid": "1728053249", "time": "1530607456", "pout": "0"}
    assert request_interval(reading.extended) == 6.0


def test_vendor_example_through_interpret_response() -> None:
    reading = interpret_response(200, VENDOR_EXAMPLE.encode(), expected_devid="1728053249")
    assert reading.values["Wh1"] == 33549075


# Key variants -----------------------------------------------------------------------------


def test_d101_unsuffixed_keys() -> None:
    reading = reading_from_json(doc(entries(V="231.2", A="1.05", W="230", Wh="1 204 332", T="31")))
    assert reading.model is SmartMacModel.D101
    assert reading.extended is False
    assert reading.values == {"V": 231.2, "A": 1.05, "W": 230, "Wh": 1204332, "T": 31}
    assert request_interval(reading.extended) == 60.0


def test_d101_with_reverse_power_and_power_factor_is_extended() -> None:
    reading = reading_from_json(
        doc(entries(V="231", A="1", W="0", rW="200", Wh="5", rWh="17", PF="0.99", Fr="50.01"))
    )
    assert reading.model is SmartMacModel.D101
    assert reading.extended is True
    assert reading.values["rWh"] == 17
    assert reading.values["Fr"] == 50.01


def test_d103_standard_with_totals() -> None:
    data = entries(
        V1="230.1", A1="1.00", W1="200", Wh1="10",
        V2="229.9", A2="2.00", W2="400", Wh2="20",
        V3="231.0", A3="3.00", W3="600", Wh3="30",
        A="6.00", W="1200", TWh="60", T="20",
    )  # fmt: skip
    reading = reading_from_json(doc(data))
    assert reading.model is SmartMacModel.D103
    assert reading.extended is False
    assert reading.values["TWh"] == 60
    assert reading.values["A"] == 6.0


def test_d103_extended_with_frequency_totals_and_powset() -> None:
    data = entries(
        V1="230", W1="10", rW1="5", PF1="0.5", Fr1="49.98", Fr2="50.00", Fr3="50.02",
        A="1", W="10", rW="5", TWh="1 000", rTWh="2 500 000",
    )  # fmt: skip
    reading = reading_from_json(doc(data, powset="3"))
    assert reading.model is SmartMacModel.D103
    assert reading.extended is True
    assert reading.values["Fr3"] == 50.02
    assert reading.values["rTWh"] == 2_500_000
    assert reading.attributes["powset"] == "3"


def test_d105_pulse_counter() -> None:
    data = entries(
        Ch1="12", Ch2="0", TCh1="10 450", TCh2="377",
        T1="21.5", T2="22.0", T3="-5.2", T4="4.0", T5="60.5", ADC="1.23",
    )  # fmt: skip
    reading = reading_from_json(doc(data))
    assert reading.model is SmartMacModel.D105
    assert reading.extended is False
    assert reading.values["TCh1"] == 10450
    assert reading.values["T3"] == -5.2
    assert reading.values["ADC"] == 1.23


@pytest.mark.parametrize(
    ("keys", "hint", "expected"),
    [
        (["V1", "A1", "W1", "Wh1"], None, SmartMacModel.D103),
        (["V1", "A1", "W1", "Wh1"], SmartMacModel.D101, SmartMacModel.D101),  # a single line
        (["V1", "V2", "W3"], SmartMacModel.D101, SmartMacModel.D103),  # hint refuted by keys
        (["V", "W"], SmartMacModel.D103, SmartMacModel.D101),  # D103 has no unsuffixed V
        (["A", "W"], None, SmartMacModel.D101),
        (["A", "W"], SmartMacModel.D103, SmartMacModel.D103),  # totals alone: either
        (["Ch1", "V1"], SmartMacModel.D103, SmartMacModel.D105),
        (["T", "foo"], None, SmartMacModel.UNKNOWN),
        ([], SmartMacModel.D101, SmartMacModel.UNKNOWN),
    ],
)
def test_model_detection_and_hint(
    keys: list[str], hint: SmartMacModel | None, expected: SmartMacModel
) -> None:
    assert detect_model(keys, hint) is expected


def test_model_hint_passes_through_the_parser() -> None:
    data = entries(V1="230", W1="1", Wh1="2")
    assert reading_from_json(doc(data)).model is SmartMacModel.D103
    assert reading_from_json(doc(data), model_hint=SmartMacModel.D101).model is SmartMacModel.D101


# Separators, spaces, unknown keys, garbage -----------------------------------------------


def test_br_separators_are_ignored_but_a_br_with_a_value_is_kept() -> None:
    data: dict[str, object] = {
        "br0": {"name": "\n"},
        "br1": {"name": " "},
        "br": {},
        "br7": {"name": "x", "unit": "", "value": "5"},
        **entries(V="230"),
    }
    reading = reading_from_json(doc(data))
    assert reading.values == {"V": 230, "br7": 5}
    assert reading.extra == {}
    assert "br0" not in reading.names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("33549075", 33549075),
        ("33 549 075", 33549075),
        (" 1\u00a0234.5 ", 1234.5),
        ("1\u202f000", 1000),
        ("-12.5", -12.5),
        ("+3", 3),
        (".5", 0.5),
        ("7.", 7),
        ("1e3", 1000),
        ("0.60", 0.6),
    ],
)
def test_numbers_parse_with_spaces(text: str, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", " ", "n/a", "nan", "NaN", "inf", "-Infinity", "1e999", "1_000", "12,5", "٣", "0x10",
     "1.2.3", "--1", "12 V", "1e", "e5", "١٢"],
)  # fmt: skip
def test_garbage_numbers_are_refused(text: str) -> None:
    assert parse_number(text) is None


def test_garbage_values_are_left_out_of_values_and_kept_raw() -> None:
    data: dict[str, object] = {
        **entries(V1="230.1", W1="n/a", Wh1="nan", A1="", PF1="0,94", T="1e999"),
        "rW1": {"name": "x", "unit": "W", "value": None},
        "rWh1": {"name": "x", "unit": "Wh", "value": [1, 2]},
        "Fr1": {"name": "Frequency 1", "unit": "Hz"},
    }
    reading = reading_from_json(doc(data))
    assert reading.values == {"V1": 230.1}
    assert reading.extra == {
        "W1": "n/a",
        "Wh1": "nan",
        "A1": "",
        "PF1": "0,94",
        "T": "1e999",
        "rW1": "null",
        "rWh1": "[1, 2]",
        "Fr1": "",
    }
    assert reading.units["rW1"] == "W"
    # The keys still say what the device is, even when its values are garbage.
    assert reading.model is SmartMacModel.D103
    assert reading.extended is True


def test_unknown_keys_are_kept() -> None:
    data: dict[str, object] = {
        **entries(V="230", Hum="45.5", MAC="aa:bb:cc", RSSI="-67"),
        "Cfg": {"name": "c", "value": {"a": 1}},
        "Flat": "12.5",
        "FlatNum": 7,
        "FlatBool": True,
    }
    reading = reading_from_json(doc(data))
    assert reading.values == {"V": 230, "Hum": 45.5, "RSSI": -67, "Flat": 12.5, "FlatNum": 7}
    assert reading.extra == {"MAC": "aa:bb:cc", "Cfg": '{"a": 1}', "FlatBool": "true"}


def test_numeric_top_level_fields_and_odd_times() -> None:
    reading = reading_from_json({"devid": 1728053249, "time": "soon", "data": {}})
    assert reading.devid == "1728053249"
    assert reading.time is None
    assert reading.pout is None
    assert reading.model is SmartMacModel.UNKNOWN
    assert reading_from_json({"devid": "1", "data": {}}).time is None


@pytest.mark.parametrize(
    "document",
    [
        [],
        "text",
        42,
        None,
        {},
        {"data": {}},
        {"devid": None, "data": {}},
        {"devid": "", "data": {}},
        {"devid": "  ", "data": {}},
        {"devid": True, "data": {}},
        {"devid": "1"},
        {"devid": "1", "data": []},
        {"devid": "1", "data": "V1=230"},
    ],
)
def test_documents_that_are_not_readings(document: object) -> None:
    with pytest.raises(MeterFrameError):
        reading_from_json(document)


@pytest.mark.parametrize("body", [b"", b"not json", b"<html></html>", b"[" * 100_000, b"\xff\xfe"])
def test_bodies_that_are_not_json(body: bytes) -> None:
    with pytest.raises(MeterFrameError):
        parse_reading(body)


def test_utf8_bom_is_accepted() -> None:
    body = "\ufeff" + json.dumps(doc(entries(V="1")))
    assert parse_reading(body.encode()).values == {"V": 1}


# Relay polarity ---------------------------------------------------------------------------


def reading_with_pout(pout: str | None) -> SmartMacReading:
    document: dict[str, object] = {"devid": "1", "data": {}}
    if pout is not None:
        document["pout"] = pout
    return reading_from_json(document)


def test_relay_polarity() -> None:
    assert relay_on(reading_with_pout("0"), RelayPolarity.VENDOR_DOC) is True
    assert relay_on(reading_with_pout("1"), RelayPolarity.VENDOR_DOC) is False
    assert relay_on(reading_with_pout("0"), RelayPolarity.INVERTED) is False
    assert relay_on(reading_with_pout("1"), RelayPolarity.INVERTED) is True
    for odd in (None, "", "2", "on"):
        assert relay_on(reading_with_pout(odd), RelayPolarity.VENDOR_DOC) is None
    assert pout_for(True, RelayPolarity.VENDOR_DOC) == "0"
    assert pout_for(True, RelayPolarity.INVERTED) == "1"
    for polarity in RelayPolarity:
        for on in (True, False):
            assert relay_on(reading_with_pout(pout_for(on, polarity)), polarity) is on


# URLs and redaction -----------------------------------------------------------------------


def test_url_follows_the_vendor_doc_and_encodes_the_pin() -> None:
    assert build_url("192.168.4.1", "1728053249", "012345") == (
        "http://192.168.4.1/?page=getdata&devid=1728053249&devpass=012345"
    )
    url = build_url("http://meter.local:8080/", "7", "a&b c", pout="0")
    assert url == "http://meter.local:8080/?page=getdata&devid=7&devpass=a%26b+c&pout=0"
    assert "a%26b" not in redact(url)
    assert redact(url).endswith("devpass=***&pout=0")


def test_redact_removes_a_verbatim_pin() -> None:
    assert PIN not in redact(f"failed for devpass={PIN} and again {PIN}", PIN)
    assert redact("no secret here", None) == "no secret here"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("192.168.4.1", "192.168.4.1"),
        (" 192.168.4.1:8080 ", "192.168.4.1:8080"),
        ("http://smartmac.local/", "smartmac.local"),
        ("::1", "[::1]"),
        ("[fe80::1]:81", "[fe80::1]:81"),
    ],
)
def test_hosts(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


@pytest.mark.parametrize(
    "host", ["", "  ", "host/path", "host:99999", "host:0", "host:x", "user@host", "a b", "h?x"]
)
def test_bad_hosts(host: str) -> None:
    with pytest.raises(InvalidParameterError):
        normalize_host(host)


@pytest.mark.parametrize("device_id", ["", " ", "12 34", "1\n2"])
def test_bad_device_ids(device_id: str) -> None:
    with pytest.raises(InvalidParameterError):
        build_url("h", device_id, "1")


def test_bad_pout_and_pin() -> None:
    with pytest.raises(InvalidParameterError):
        build_url("h", "1", "1", pout="2")
    with pytest.raises(InvalidParameterError):
        build_url("h", "1", "12\r\n34")


# Answers: auth, rate limit, server errors --------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, b""),
        (403, b"Forbidden"),
        (401, VENDOR_EXAMPLE.encode()),  # the status decides, whatever the body
        (200, b"<html><head><title>Login</title></head><body></body></html>"),
        (200, b"<html><head><title>MAIC Login</title></head></html>"),
        (200, b"<HTML><TITLE>smart-MAC login</TITLE></HTML>"),
        (200, b"Unauthorized"),
        (200, b"<p>Enter PIN</p>"),
        (200, b"Wrong password"),
        (400, b"please log in"),
        (200, b'{"error": "wrong password"}'),
        (200, b'{"err": 1}'),
        (200, b'{"ERROR": "bad devid"}'),
        (200, b'{"status": "fail", "auth": false}'),
        (200, b'{"devid": "42", "error": "wrong PIN"}'),
        (200, b'"login required"'),
    ],
)
def test_wrong_pin_in_every_shape(status: int, body: bytes) -> None:
    with pytest.raises(MeterAuthError):
        interpret_response(status, body)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html><body>spinner, ping, shipping</body></html>"),
        (200, b"<html><head><title>Status</title></head></html>"),
        (404, b"Not Found"),
        (200, b""),
        (200, b'{"status": "ok"}'),
        (200, b"[1, 2]"),
        (200, b'{"devid": "42", "error": "busy"}'),
    ],
)
def test_non_readings_that_are_not_refusals(status: int, body: bytes) -> None:
    with pytest.raises(MeterFrameError) as caught:
        interpret_response(status, body)
    assert not isinstance(caught.value, MeterAuthError)


def test_auth_message_quotes_the_device_without_the_pin() -> None:
    body = json.dumps({"error": f"wrong password {PIN} for devpass={PIN}"}).encode()
    with pytest.raises(MeterAuthError) as caught:
        interpret_response(200, body, pin=PIN)
    assert "wrong password" in str(caught.value)
    assert PIN not in str(caught.value)


def test_429_with_retry_after_seconds() -> None:
    with pytest.raises(MeterRateLimitError) as caught:
        interpret_response(429, b"Too Many Requests", retry_after="12", fallback_retry_after=60)
    assert caught.value.retry_after == 12


def test_429_with_retry_after_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    header = format_datetime(datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)
    with pytest.raises(MeterRateLimitError) as caught:
        interpret_response(429, b"", retry_after=header, now=now, fallback_retry_after=60)
    assert caught.value.retry_after == 30


@pytest.mark.parametrize("header", [None, "", "soon", "-5", "Wed, 99 Foo 2026 99:99:99 GMT"])
def test_429_without_a_usable_retry_after_falls_back(header: str | None) -> None:
    with pytest.raises(MeterRateLimitError) as caught:
        interpret_response(429, b"", retry_after=header, now=0.0, fallback_retry_after=6.0)
    assert caught.value.retry_after == 6.0


def test_parse_retry_after_date_needs_a_clock() -> None:
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:30 GMT") is None
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:30 GMT", now=2e9) == 0.0
    assert parse_retry_after(" 7 ") == 7


@pytest.mark.parametrize("status", [500, 502, 503, 599])
def test_server_errors_are_connection_errors_with_the_status(status: int) -> None:
    with pytest.raises(MeterConnectionError, match=str(status)):
        interpret_response(status, VENDOR_EXAMPLE.encode())


def test_another_device_answering_is_an_address_error() -> None:
    with pytest.raises(MeterAddressError, match="1728053249"):
        interpret_response(200, VENDOR_EXAMPLE.encode(), expected_devid="99")
    reading = interpret_response(200, VENDOR_EXAMPLE.encode(), expected_devid="01728053249")
    assert reading.devid == "1728053249"


def test_a_reading_with_an_odd_4xx_status_is_still_a_reading() -> None:
    # A public client reports "Unknown error" after relay commands that did switch the relay.
    assert interpret_response(400, VENDOR_EXAMPLE.encode()).pout == "0"


# Properties -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
entry_values = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"name": st.text(max_size=8)},
        optional={"unit": json_values, "value": json_values | st.from_regex(r"[ 0-9.eE+-]{0,12}")},
    ),
)
data_keys = st.text(max_size=5) | st.sampled_from(["V1", "br0", "Ch1", "V", "rW2", "TWh", "Fr3"])


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_is_a_reading_or_a_frame_error(document: object) -> None:
    try:
        reading = reading_from_json(document)
    except MeterFrameError:
        return
    assert isinstance(reading, SmartMacReading)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(data_keys, entry_values, max_size=12),
    st.one_of(st.text(min_size=1), st.integers()),
    st.dictionaries(st.sampled_from(["time", "pout", "powset"]), json_values),
)
def test_reading_shaped_documents_always_parse_and_lose_nothing(
    data: dict[str, object], devid: str | int, top: dict[str, object]
) -> None:
    document = {**top, "devid": devid, "data": data}
    try:
        reading = reading_from_json(document)
    except MeterFrameError:
        assert not str(devid).strip()
        return
    kept = set(reading.values) | set(reading.extra)
    dropped = set(data) - kept
    for key in dropped:
        entry = data[key]
        assert key.startswith("br")
        assert isinstance(entry, dict)
        assert "value" not in entry
    assert not set(reading.values) & set(reading.extra)
    assert all(value == value and abs(value) != float("inf") for value in reading.values.values())


@settings(max_examples=300, deadline=None)
@given(st.binary() | st.text().map(str.encode))
def test_any_body_is_a_reading_or_a_frame_error(body: bytes) -> None:
    try:
        reading = parse_reading(body)
    except MeterFrameError:
        return
    assert reading.devid.strip()


@settings(max_examples=300, deadline=None)
@given(st.binary() | st.text().map(str.encode) | json_values.map(lambda v: json.dumps(v).encode()))
def test_a_200_answer_is_a_reading_an_auth_error_or_a_frame_error(body: bytes) -> None:
    assert isinstance(auth_failure(200, body), str | None)
    try:
        reading = interpret_response(200, body)
    except MeterAuthError, MeterFrameError:
        return
    assert reading.devid.strip()


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=100, max_value=599),
    st.binary() | json_values.map(lambda v: json.dumps(v).encode()),
    st.none() | st.text(max_size=40),
)
def test_any_answer_only_ever_raises_meter_errors(
    status: int, body: bytes, retry_after: str | None
) -> None:
    error: MeterError | None = None
    try:
        interpret_response(status, body, retry_after=retry_after, now=1e9, pin=PIN)
    except MeterError as err:
        error = err
    assert error is None or PIN not in str(error)


@given(st.integers(min_value=0, max_value=10**15))
def test_space_grouped_integers_round_trip(number: int) -> None:
    assert parse_number(f"{number:,}".replace(",", " ")) == number


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_formatted_floats_round_trip(number: float) -> None:
    assert parse_number(repr(number)) == number


def test_hostile_login_page_lookalikes_stay_fast() -> None:
    body = b"<title" * 40_000 + b"<title>" * 5_000
    with pytest.raises(MeterFrameError):
        interpret_response(200, body)
