"""Push3 gateway's local API: every meter and ioStack on the gateway in one LAN request.

`GET http://<push3>/readMeter?key=<gateway key>&cnt=N` answers `{"<address>": [{read}, ...]}`
with JSON numbers (ekm.md §2.4; real shape: reedr/ha-ekm-local tests/fixtures/gateway.json).
A wrong key is answered with HTTP 500 and an HTML page, not 401, so a 500 whose body is not JSON
means "key refused".

Gateway identity: the LAN answer carries no MAC address, serial number or name of the gateway,
only its devices. `gateway_unique_id` therefore derives a stable id from the lowest device
address on the gateway. Weakness: it changes when that device is removed from the gateway (or
moved to another one), and two config entries could claim one id if a meter is moved between
gateways. The cloud's `MAC_Addr` is the better id where the cloud is also configured.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from ..errors import InvalidParameterError, MeterAuthError, MeterFrameError, MeterServerError
from ..http import normalize_host
from ..json import decode
from .fields import device_address, iostack_reading, looks_like_meter, meter_reading, newest
from .models import IoStackReading, PushMeterReading, PushReadings
from .realtime import MAX_COUNT, check_key
from .status import cloud_status_error
from .transport import get

DEFAULT_TIMEOUT = 10.0


def push3_url(host: str, key: str, *, count: int = 1) -> str:
    """The gateway's readMeter URL. It contains the key: never log it."""
    if not 1 <= count <= MAX_COUNT:
        msg = f"cnt is 1 to {MAX_COUNT} reads per device"
        raise InvalidParameterError(msg)
    return (
        f"http://{normalize_host(host)}/readMeter?key={quote(check_key(key), safe='')}&cnt={count}"
    )


def interpret_push3(
    status: int, body: bytes | str, *, retry_after: str | None = None, now: float | None = None
) -> PushReadings:
    """Classify one Push3 answer: readings, or MeterAuthError / MeterServerError / frame error.

    HTTP 500 with a non-JSON body is the gateway's answer to a wrong key; 401/403 are taken
    as refusals too, in case a firmware answers the standard way.
    """
    if status == 500:
        try:
            decode(body)
        except MeterFrameError:
            msg = "the Push3 refused the key (HTTP 500 with an error page)"
            raise MeterAuthError(msg) from None
        raise MeterServerError("the Push3 failed (HTTP 500)", status=500)
    early = cloud_status_error(status, retry_after=retry_after, now=now, what="the Push3")
    if early is not None:
        raise early
    if status != 200:
        msg = f"the Push3 answered HTTP {status}"
        raise MeterFrameError(msg)
    return parse_push3(decode(body))


def parse_push3(document: Any) -> PushReadings:
    """A decoded Push3 answer as readings (newest good read per device)."""
    if not isinstance(document, Mapping):
        msg = "the Push3 answer is not an object of devices"
        raise MeterFrameError(msg)
    meters: dict[str, PushMeterReading] = {}
    iostacks: dict[str, IoStackReading] = {}
    missing: dict[str, str] = {}
    for key, reads in document.items():
        address = device_address(key)
        if address is None or not isinstance(reads, list):
            continue
        good_reads = [read for read in reads if isinstance(read, Mapping)]
        if any(looks_like_meter(read) for read in good_reads):
            meter = newest(r for read in good_reads if (r := meter_reading(address, read)))
            if meter is not None:
                meters[address] = meter
                continue
        else:
            stack = newest(s for read in good_reads if (s := iostack_reading(address, read)))
            if stack is not None:
                iostacks[address] = stack
                continue
        missing[address] = "only bad reads" if good_reads else "no reads"
    if not meters and not iostacks and not missing:
        msg = "the Push3 answer names no meter or ioStack"
        raise MeterFrameError(msg)
    return PushReadings(meters, iostacks, missing)


def gateway_unique_id(readings: PushReadings) -> str | None:
    """A stable id for the gateway that is not its key: `push3-<lowest device address>`.

    See the module docstring for why and for its weakness; None when the gateway has no device.
    """
    addresses = sorted({*readings.meters, *readings.iostacks, *readings.missing})
    return f"push3-{addresses[0]}" if addresses else None


class Push3Client:
    """One Push3 gateway on the LAN, reached with its gateway key."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        key: str,
        *,
        request_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._session = session
        self._host = normalize_host(host)
        self._key = check_key(key)
        self._timeout = request_timeout

    @property
    def host(self) -> str:
        """The `host[:port]` requests go to."""
        return self._host

    async def read(self, *, count: int = 1) -> PushReadings:
        """The newest good read of every meter and ioStack on the gateway."""
        answer = await get(
            self._session,
            push3_url(self._host, self._key, count=count),
            request_timeout=self._timeout,
            key=self._key,
            what=f"the Push3 at {self._host}",
        )
        return interpret_push3(
            answer.status, answer.body, retry_after=answer.retry_after, now=time.time()
        )
