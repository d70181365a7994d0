"""Sans-IO Realtime and Account APIs: URLs, batching math, status codes, hostile answers.

Status codes and their meanings are the vendor's table (seeds 001/003 "Status Codes"); the
answer shapes are those of ekm.md §2.1. Whatever arrives, the parsers give readings or one of
the library's typed errors, never another exception.
"""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from custom_components.meterlink.meters.json import decode
from custom_components.meterlink.meters.push.account import (
    account_url,
    interpret_account,
    parse_inventory,
)
from custom_components.meterlink.meters.push.models import (
    PushGateway,
    PushInventory,
    PushReadings,
)
from custom_components.meterlink.meters.push.push3 import (
    gateway_unique_id,
    interpret_push3,
    parse_push3,
    push3_url,
)
from custom_components.meterlink.meters.push.realtime import (
    MAX_URL_LENGTH,
    batch_addresses,
    check_addresses,
    check_key,
    interpret_readmeter,
    mac_address,
    normalize_base_url,
    readmeter_url,
)
from custom_components.meterlink.meters.push.status import (
    PushInvalidMeterError,
    PushNoDataError,
    PushQueryError,
    api_error,
    redact,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = "MTAxMDoyMDIw"
API = "https://api.ekmpush.com"
V4 = "000300001001"


def readmeter(*read_sets: dict[str, Any]) -> bytes:
    return json.dumps({"readMeter": {"ReadSet": list(read_sets)}}).encode()


def test_url_carries_meters_with_tilde_and_the_key_escaped() -> None:
    url = readmeter_url(API + "/", "a+b/c=", ["000300001001", "000300001002"], count=5)
    parts = urlsplit(url)
    assert parts.path == "/readMeter"
    query = parse_qs(parts.query)
    assert query == {
        "meters": ["000300001001~000300001002"],
        "key": ["a+b/c="],
        "fmt": ["json"],
        "cnt": ["5"],
    }
    assert "meters=" not in readmeter_url(API, KEY, [])


@pytest.mark.parametrize("count", [0, 1001])
def test_count_limits(count: int) -> None:
    with pytest.raises(InvalidParameterError):
        readmeter_url(API, KEY, [V4], count=count)


@pytest.mark.parametrize("url", ["ftp://x", "api.ekmpush.com", "http://", "http://a b"])
def test_bad_base_urls(url: str) -> None:
    with pytest.raises(InvalidParameterError):
        normalize_base_url(url)


@pytest.mark.parametrize("key", ["", "   ", "a b", "a\nb", "k" * 600])
def test_bad_keys(key: str) -> None:
    with pytest.raises(InvalidParameterError):
        check_key(key)


def test_addresses_are_normalised_and_deduplicated() -> None:
    assert check_addresses(["300001001", "000300001001", "10068"]) == (V4, "000000010068")
    with pytest.raises(InvalidParameterError):
        check_addresses(["12-34"])


@SETTINGS
@given(
    numbers=st.lists(st.integers(1, 10**12 - 1), max_size=400),
    max_length=st.integers(120, 3000),
    key=st.text(string.ascii_letters + string.digits + "+/=%~-_.é€", min_size=1, max_size=60),
)
def test_batches_are_few_and_within_the_url_limit(
    numbers: list[int], max_length: int, key: str
) -> None:
    addresses = [str(n) for n in numbers]
    batches = batch_addresses(API, key, addresses, max_length=max_length)
    expected = list(dict.fromkeys(a.zfill(12) for a in addresses))
    assert [a for batch in batches for a in batch] == expected
    for index, batch in enumerate(batches):
        assert batch
        assert len(readmeter_url(API, key, batch)) <= max_length
        if index + 1 < len(batches):  # greedy: the next address would not have fitted
            longer = (*batch, batches[index + 1][0])
            assert len(readmeter_url(API, key, longer)) > max_length


def test_default_limit_packs_a_hundred_meters_per_request() -> None:
    addresses = [f"{300000000 + n:012d}" for n in range(1000)]
    batches = batch_addresses(API, KEY, addresses)
    per_request = (MAX_URL_LENGTH - len(readmeter_url(API, KEY, [V4])) + 12) // 13
    assert len(batches) == -(-1000 // per_request)
    assert batch_addresses(API, KEY, []) == []
    with pytest.raises(InvalidParameterError):
        batch_addresses(API, KEY, [V4], max_length=50)


def test_readings_with_gateway_and_missing_devices() -> None:
    body = readmeter(
        {
            "Meter": "300001001",
            "Protocol": "v4",
            "MAC_Addr": "40:16:FA:05:00:CD",
            "ReadData": [
                {"Good": 1, "Time_Stamp_UTC_ms": 2000, "kWh_Tot": "2.00", "kWh_Scale": "2"},
                {"Good": 1, "Time_Stamp_UTC_ms": 1000, "kWh_Tot": "1.00", "kWh_Scale": "2"},
                "junk",
            ],
        },
        {"Meter": "000300001002", "Protocol": "v4", "ReadData": [{"Good": 0, "PERR.NR": 1}]},
        {"Meter": "000000900001", "Protocol": "ios", "ReadData": [{"AI_1": "1.5"}]},
        {"Meter": "not a meter", "ReadData": []},
        {"ReadData": [{"Meter_Address": "000300001004", "kWh_Tot": "4.5"}]},
        {"ReadData": [7]},
        {"Meter": "000000900002", "ReadData": "nope"},
    )
    readings = interpret_readmeter(200, body, requested=[V4, "000300001003"])
    assert readings.meters[V4].reading.fields["kWh_Tot"] == 2.0
    assert readings.meters[V4].gateway == "4016fa0500cd"
    assert readings.iostacks["000000900001"].fields == {"AI_1": 1.5}
    assert readings.meters["000300001004"].reading.fields["kWh_Tot"] == 4.5
    assert readings.missing == {
        "000300001002": "only bad reads",
        "000300001003": "not in the answer",
    }


def test_lowercase_readmeter_member_of_seed_003() -> None:
    body = json.dumps({"readmeter": {"readset": [{"Meter": V4, "ReadData": [{"kWh_Tot": 1}]}]}})
    assert V4 in interpret_readmeter(200, body).meters


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, b"", MeterAuthError),
        (403, b"Forbidden", MeterAuthError),
        (200, b'{"status_code": "401", "error": "Invalid key"}', MeterAuthError),
        (500, b"{}", MeterServerError),
        (503, b"<html>", MeterServerError),
        (200, b'{"status_code": 1000, "message": "There is not data for: 1"}', PushNoDataError),
        (200, b'{"error": "There is not data for: 000300001001"}', PushNoDataError),
        (200, b"There is not data for: 000300001001", PushNoDataError),
        (400, b'{"code": "1101", "message": "Invalid format"}', PushQueryError),
        (400, b'{"error": {"code": 1103, "message": "Invalid parameter"}}', PushQueryError),
        (400, b'{"status_code": 1200, "message": "Found invalid meter: 1 for key: X"}', (
            PushInvalidMeterError)),
        (200, b'{"readMeter": {"status": 1300, "msg": "Oops!"}}', MeterApiError),
        (200, b'{"status_code": 429}', MeterRateLimitError),
        (200, b'{"status": 502}', MeterServerError),
        (404, b"<html>Not Found</html>", MeterApiError),
        (400, b'{"readMeter": {"ReadSet": []}}', MeterApiError),
        (200, b'{"readMeter": {"ReadSet": [', MeterFrameError),
        (200, b"<html>", MeterFrameError),
        (200, b"\xff\xfe", MeterFrameError),
        (200, b"[" * 100000, MeterFrameError),
        (200, b'{"readMeter": {}}', MeterFrameError),
        (200, b"[]", MeterFrameError),
    ],
)  # fmt: skip
def test_statuses_and_bodies_become_typed_errors(
    status: int, body: bytes, error: type[MeterError]
) -> None:
    with pytest.raises(error):
        interpret_readmeter(status, body, key="X")


def test_invalid_meter_is_a_permission_error_not_a_reauth() -> None:
    with pytest.raises(MeterPermissionError) as caught:
        interpret_readmeter(
            400,
            json.dumps({"status_code": 1200, "message": f"Found invalid meter: 1 for key: {KEY}"}),
            key=KEY,
        )
    assert isinstance(caught.value, MeterApiError)
    assert caught.value.code == 1200
    assert caught.value.status == 400
    assert KEY not in str(caught.value)


def test_rate_limit_honours_retry_after() -> None:
    with pytest.raises(MeterRateLimitError) as caught:
        interpret_readmeter(429, b"", retry_after="42")
    assert caught.value.retry_after == 42
    with pytest.raises(MeterRateLimitError) as caught:
        interpret_readmeter(429, b"", retry_after="Sat, 21 Nov 2026 17:00:10 GMT", now=1795280400)
    assert caught.value.retry_after == 10
    with pytest.raises(MeterRateLimitError) as caught:
        interpret_readmeter(429, b"", retry_after="soon")
    assert caught.value.retry_after == 60


def test_truncated_json_says_so() -> None:
    with pytest.raises(MeterFrameError, match="truncated"):
        decode(readmeter({"Meter": V4, "ReadData": []})[:-3])


def test_redact_removes_the_key_in_every_form() -> None:
    assert redact("key=a%2Bb and a+b", "a+b") == "key=*** and ***"
    assert len(redact("x" * 500, None)) == 160
    assert api_error([1, 2]) is None
    assert api_error({"status_code": 99}) is None


def test_mac_addresses() -> None:
    assert mac_address("40-16-fa-05-00-cd") == "4016fa0500cd"
    assert mac_address("4016fa0500") is None
    assert mac_address(4016) is None


# Account API --------------------------------------------------------------------------------


def test_account_url() -> None:
    assert account_url(API, "a=") == f"{API}/account/api/account?key=a%3D"


def test_inventory_sample_shape() -> None:
    # The one public sample shape (ekm.md §2.1).
    document = {"gateways": [{"name": "Home", "mac": "4016fa0500cd", "meters": ["300001001"]}]}
    expected = PushInventory((PushGateway("4016fa0500cd", "Home", (V4,)),), (V4,))
    assert parse_inventory(document) == expected


def test_inventory_spellings() -> None:
    document = {
        "account": {
            "data": {
                "gateways": [
                    {
                        "MAC_Addr": "40:16:FA:05:00:CD",
                        "gateway_name": "Barn",
                        "meters": [{"meter": 300001001}, {"address": "300001002"}, "bad"],
                        "ioStacks": [{"iostack": "900001"}],
                        "devices": [
                            {"type": "ioStack", "id": "900002"},
                            {"type": "meter", "id": "300001003"},
                        ],
                    },
                    {"name": "no mac"},
                    "junk",
                ],
                "meters": ["11766"],
            }
        }
    }
    inventory = parse_inventory(document)
    (gateway,) = inventory.gateways
    assert gateway.mac == "4016fa0500cd"
    assert gateway.name == "Barn"
    assert gateway.meters == (V4, "000300001002", "000300001003")
    assert gateway.iostacks == ("000000900001", "000000900002")
    assert inventory.meters == (V4, "000300001002", "000300001003", "000000011766")
    assert inventory.devices[-2:] == ("000000900001", "000000900002")
    by_mac = parse_inventory({"gateways": {"4016fa0500cd": {"meters": [1]}, "aabbccddeeff": 1}})
    assert [g.mac for g in by_mac.gateways] == ["4016fa0500cd", "aabbccddeeff"]
    assert parse_inventory({"iostacks": [5]}).iostacks == ("000000000005",)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, b"{}", MeterFrameError),
        (200, b"[]", MeterFrameError),
        (200, b"nope", MeterFrameError),
        (200, b"Invalid parameter", PushQueryError),
        (401, b"", MeterAuthError),
        (429, b"", MeterRateLimitError),
        (502, b"", MeterServerError),
        (404, b'{"gateways": []}', MeterApiError),
        (200, b'{"status_code": "401", "error": "Invalid key"}', MeterAuthError),
    ],
)
def test_account_errors(status: int, body: bytes, error: type[MeterError]) -> None:
    with pytest.raises(error):
        interpret_account(status, body, key=KEY)


# Push3 ------------------------------------------------------------------------------------------


def test_push3_statuses() -> None:
    with pytest.raises(MeterAuthError):
        interpret_push3(500, b"<html><title>500</title></html>")
    with pytest.raises(MeterServerError):
        interpret_push3(500, b'{"error": 1}')
    with pytest.raises(MeterAuthError):
        interpret_push3(401, b"")
    with pytest.raises(MeterFrameError):
        interpret_push3(404, b"")
    with pytest.raises(MeterFrameError):
        interpret_push3(200, b"{}")
    with pytest.raises(MeterFrameError):
        interpret_push3(200, b"[]")
    with pytest.raises(InvalidParameterError):
        push3_url("10.0.0.2", KEY, count=0)
    assert push3_url("http://10.0.0.2/", "a=") == "http://10.0.0.2/readMeter?key=a%3D&cnt=1"


def test_push3_bad_reads_and_ids() -> None:
    readings = parse_push3(
        {"300001001": [{"Good": 0, "kWh_Tot": 1}], "900001": [{"AI_1": 2}, {"Good": 0}], "x": []}
    )
    assert readings.missing == {V4: "only bad reads"}
    assert readings.iostacks["000000900001"].fields == {"AI_1": 2}
    assert gateway_unique_id(readings) == "push3-000000900001"
    assert gateway_unique_id(PushReadings()) is None
    assert parse_push3({"900003": []}).missing == {"000000900003": "no reads"}


# Hostile input ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
read_sets = st.fixed_dictionaries(
    {"Meter": st.sampled_from(["300001001", "900001", 7, None]), "ReadData": json_values},
    optional={"Protocol": json_values, "MAC_Addr": json_values},
)
documents = (
    json_values
    | st.builds(lambda sets: {"readMeter": {"ReadSet": sets}}, st.lists(read_sets, max_size=4))
    | st.builds(lambda code, msg: {"status_code": code, "message": msg}, json_values, json_values)
)
statuses = st.sampled_from([200, 200, 200, 400, 401, 403, 404, 429, 500, 503])


def _check(call: Any) -> None:
    try:
        result = call()
    except MeterError:
        return
    assert isinstance(result, PushReadings | PushInventory)


@SETTINGS
@given(status=statuses, document=documents, retry_after=st.none() | st.text(max_size=30))
def test_any_json_answer_gives_readings_or_a_typed_error(
    status: int, document: object, retry_after: str | None
) -> None:
    body = json.dumps(document).encode()
    _check(lambda: interpret_readmeter(status, body, key=KEY, retry_after=retry_after, now=0))
    _check(lambda: interpret_account(status, body, key=KEY))
    _check(lambda: interpret_push3(status, body))


@SETTINGS
@given(status=statuses, body=st.binary(max_size=300) | st.text(max_size=300))
def test_any_bytes_give_readings_or_a_typed_error(status: int, body: bytes | str) -> None:
    _check(lambda: interpret_readmeter(status, body, key=KEY))
    _check(lambda: interpret_account(status, body, key=KEY))
    _check(lambda: interpret_push3(status, body))


@SETTINGS
@given(document=documents)
def test_truncated_answers_give_readings_or_a_typed_error(document: object) -> None:
    text = json.dumps({"readMeter": {"ReadSet": [{"Meter": V4, "ReadData": [document]}]}})
    for cut in (len(text) // 3, len(text) // 2, len(text) - 1):
        _check(lambda cut=cut: interpret_readmeter(200, text[:cut].encode()))
