"""Sans-IO EKM Push Realtime API: readMeter URLs in batches, answers as readings or errors.

`GET {api}/readMeter?meters=A~B~C&key=K&fmt=json&cnt=N` (ekm.md §2.1) answers
`{"readMeter": {"ReadSet": [{"Meter": ..., "Protocol": ..., "MAC_Addr": ..., "ReadData":
[{...}, ...]}]}}` with string values. Many meters go into one request (`~`-separated), as many
as keep the URL under `MAX_URL_LENGTH`, because every request counts against the account's
rate limit while a URL longer than ~2000 characters is not safe through proxies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..errors import InvalidParameterError, MeterFrameError
from .fields import (
    NewerThan,
    brings_news,
    device_address,
    iostack_reading,
    looks_like_meter,
    meter_reading,
    newest,
)
from .models import IoStackReading, PushMeterReading, PushReadings
from .status import cloud_document

DEFAULT_API_URL = "https://api.ekmpush.com"
MAX_URL_LENGTH = 2000
"""Longest readMeter URL sent: the classic safe limit for URLs through browsers and proxies."""
MAX_COUNT = 1000
"""The Realtime API keeps the 1000 newest reads per device (seed 001)."""
_MAX_KEY = 512
_MAC_RE = re.compile(r"[0-9a-f]{12}")


def normalize_base_url(url: str) -> str:
    """An API base URL (`https://api.ekmpush.com`, a simulator's `http://127.0.0.1:8080`)."""
    text = url.strip().rstrip("/")
    if (
        not re.fullmatch(r"https?://[^\s/?#]+(?:/[^\s?#]*)?", text, re.IGNORECASE)
        or not text.isprintable()
    ):
        msg = "the API URL is http(s)://host[:port][/path]"
        raise InvalidParameterError(msg)
    return text


def check_key(key: str) -> str:
    """The key as sent; refuses what cannot be a key (empty, spaces, control characters)."""
    text = key.strip()
    if not text or len(text) > _MAX_KEY or not text.isprintable() or " " in text:
        msg = "the key is the EKM Push key shown in the account portal"
        raise InvalidParameterError(msg)
    return text


def check_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """Addresses as 12 digits, duplicates dropped, order kept."""
    result: dict[str, None] = {}
    for address in addresses:
        normalized = device_address(address.strip() if isinstance(address, str) else address)
        if normalized is None:
            msg = f"{address!r} is not a meter or ioStack number (up to 12 digits)"
            raise InvalidParameterError(msg)
        result[normalized] = None
    return tuple(result)


def readmeter_url(api_url: str, key: str, addresses: Sequence[str], *, count: int = 1) -> str:
    """The readMeter URL for `addresses` (all of the key's devices when empty).

    It contains the key: never log it; errors pass through `status.redact`.
    """
    if not 1 <= count <= MAX_COUNT:
        msg = f"cnt is 1 to {MAX_COUNT} reads per device"
        raise InvalidParameterError(msg)
    meters = f"meters={'~'.join(addresses)}&" if addresses else ""
    return (
        f"{normalize_base_url(api_url)}/readMeter?{meters}"
        f"key={quote(check_key(key), safe='')}&fmt=json&cnt={count}"
    )


def batch_addresses(
    api_url: str,
    key: str,
    addresses: Iterable[str],
    *,
    count: int = 1,
    max_length: int = MAX_URL_LENGTH,
) -> list[tuple[str, ...]]:
    """Split `addresses` into as few batches as keep every URL within `max_length`."""
    wanted = check_addresses(addresses)
    if not wanted:
        return []
    # Length with one meter, then each further meter adds its digits and one "~".
    first_length = len(readmeter_url(api_url, key, wanted[:1], count=count)) - len(wanted[0])
    batches: list[tuple[str, ...]] = []
    current: list[str] = []
    length = first_length
    for address in wanted:
        extra = len(address) + (1 if current else 0)
        if current and length + extra > max_length:
            batches.append(tuple(current))
            current, length, extra = [], first_length, len(address)
        if length + extra > max_length:
            msg = f"a readMeter URL cannot stay within {max_length} characters"
            raise InvalidParameterError(msg)
        current.append(address)
        length += extra
    batches.append(tuple(current))
    return batches


def interpret_readmeter(
    status: int,
    body: bytes | str,
    *,
    key: str | None = None,
    retry_after: str | None = None,
    now: float | None = None,
    requested: Sequence[str] = (),
    newer_than: NewerThan | None = None,
) -> PushReadings:
    """Classify one readMeter answer: readings, or the typed error it amounts to.

    Raises MeterAuthError (401/403, or a refused key in the body), MeterRateLimitError (429,
    `retry_after` from the header), MeterServerError (5xx), PushNoDataError / PushQueryError /
    PushInvalidMeterError / MeterApiError (API status codes), MeterFrameError (not a readMeter
    answer, truncated or non-JSON). `key` only keeps the key out of messages.
    """
    document = cloud_document(status, body, key=key, retry_after=retry_after, now=now)
    return parse_readmeter(document, requested=requested, newer_than=newer_than)


def parse_readmeter(
    document: Any, *, requested: Sequence[str] = (), newer_than: NewerThan | None = None
) -> PushReadings:
    """A decoded readMeter answer as readings: the newest good read of every device.

    Devices whose reads are all bad, and requested devices the answer leaves out, are listed in
    `missing` instead; devices whose reads `newer_than` calls old news are left out unparsed.
    """
    read_sets = _read_sets(document)
    reads: dict[str, list[tuple[Mapping[str, Any], object, str | None]]] = {}
    for read_set in read_sets:
        data = read_set.get("ReadData")
        if not isinstance(data, list):
            continue
        named = next((read_set[k] for k in ("Meter", "Device", "IoStack") if k in read_set), None)
        if named is None:  # a set that does not say whose it is: its reads may
            first = next((read for read in data if isinstance(read, Mapping)), {})
            named = first.get("Meter_Address")
        address = device_address(named)
        if address is None:
            continue
        protocol = read_set.get("Protocol")
        gateway = mac_address(read_set.get("MAC_Addr"))
        entries = reads.setdefault(address, [])
        entries.extend((read, protocol, gateway) for read in data if isinstance(read, Mapping))
    meters: dict[str, PushMeterReading] = {}
    iostacks: dict[str, IoStackReading] = {}
    missing: dict[str, str] = {}
    for address, entries in reads.items():
        if entries and not brings_news(address, (read for read, _, _ in entries), newer_than):
            continue
        is_meter = any(looks_like_meter(read, protocol) for read, protocol, _ in entries)
        if is_meter:
            meter = newest(
                reading
                for read, protocol, gateway in entries
                if (reading := meter_reading(address, read, protocol=protocol, gateway=gateway))
            )
            if meter is not None:
                meters[address] = meter
                continue
        else:
            stack = newest(
                stack_read
                for read, _, gateway in entries
                if (stack_read := iostack_reading(address, read, gateway=gateway))
            )
            if stack is not None:
                iostacks[address] = stack
                continue
        missing[address] = "only bad reads" if entries else "no reads"
    for address in requested:
        if address not in reads:
            missing[address] = "not in the answer"
    return PushReadings(meters, iostacks, missing)


def mac_address(value: object) -> str | None:
    """A gateway MAC as 12 lowercase hex digits (`40:16:FA:05:00:CD` -> `4016fa0500cd`)."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"[:\-.\s]", "", value).lower()
    return text if _MAC_RE.fullmatch(text) else None


def _read_sets(document: Any) -> list[Mapping[str, Any]]:
    root = _child(document, "readmeter")
    read_sets = _child(root, "readset")
    if not isinstance(read_sets, list):
        msg = "the answer is not a readMeter answer (no readMeter.ReadSet list)"
        raise MeterFrameError(msg)
    return [item for item in read_sets if isinstance(item, Mapping)]


def _child(node: Any, name: str) -> Any:
    """A member by case-insensitive name (seed 003's example spells it `readmeter`)."""
    if not isinstance(node, Mapping):
        return None
    return next((value for key, value in node.items() if str(key).lower() == name), None)
