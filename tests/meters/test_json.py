"""The one JSON decoder and sanitizer: any input gives a value or a typed error."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from email.utils import format_datetime
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterError,
    MeterFrameError,
    MeterPermissionError,
    MeterRateLimitError,
)
from custom_components.meterlink.meters.http import error_for_status
from custom_components.meterlink.meters.json import decode, plain, plain_object
from custom_components.meterlink.meters.push.settings.commands import plain_json
from custom_components.meterlink.meters.push.settings.stream import parse_receipt


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [100, 1000, 5000])
def test_deep_nesting_is_a_typed_error_not_recursion(depth: int) -> None:
    with pytest.raises(MeterFrameError, match="nested too deeply"):
        plain(_nested(depth))
    with pytest.raises(InvalidParameterError, match="payload is nested too deeply"):
        plain_json(_nested(depth), "payload")


def test_deeply_nested_text_is_a_typed_error() -> None:
    with pytest.raises(MeterFrameError):
        decode("[" * 100_000 + "]" * 100_000)


def test_huge_numbers_never_overflow() -> None:
    assert plain(10**5000) == 10**5000
    assert plain([1e308, float("inf"), -float("nan")]) == [1e308, None, None]
    with pytest.raises(MeterFrameError):
        decode("1" * 10_000)
    assert decode("1e999") == math.inf
    assert plain(decode("[1e999]")) == [None]
    with pytest.raises(InvalidParameterError, match="x must be a finite number"):
        plain_json({"a": float("inf")}, "x")


def test_plain_keeps_key_order_and_converts_library_values() -> None:
    value = MappingProxyType({"b": (1, 2), "a": {3: "x"}, "c": None})
    assert plain_object(value) == {"b": [1, 2], "a": {"3": "x"}, "c": None}
    assert list(plain_object(value)) == ["b", "a", "c"]
    with pytest.raises(MeterFrameError, match="is not a JSON value"):
        plain({"a": object()})


def test_decode_says_truncated_and_lenient_reads_device_json() -> None:
    with pytest.raises(MeterFrameError, match="truncated"):
        decode(b'{"a": [1, 2')
    with pytest.raises(MeterFrameError, match="not UTF-8"):
        decode(b"\xff{}")
    assert decode(b'\xef\xbb\xbf{"a": "x\ny"}', lenient=True) == {"a": "x\ny"}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_plain_round_trips_any_json(value: object) -> None:
    result = plain(value)
    assert json.loads(json.dumps(result)) == result


@given(st.binary())
def test_decode_never_raises_anything_untyped(body: bytes) -> None:
    try:
        decode(body)
        decode(body, lenient=True)
    except MeterError:
        pass


def test_device_settings_429_keeps_retry_after_date_and_seconds() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    header = format_datetime(datetime(2026, 3, 1, 12, 0, 45, tzinfo=UTC), usegmt=True)
    with pytest.raises(MeterRateLimitError) as caught:
        parse_receipt(429, b"", retry_after=header, now=now)
    assert caught.value.retry_after == 45
    error = error_for_status(429, b'{"error": "slow down"}', retry_after="3")
    assert isinstance(error, MeterRateLimitError)
    assert error.retry_after == 3
    assert "slow down" in str(error)
    assert isinstance(error_for_status(403, b""), MeterPermissionError)
    assert error_for_status(404, b"", refuse_other=False) is None
