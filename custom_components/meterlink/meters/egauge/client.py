"""Async eGauge WebAPI client over an injected aiohttp session.

Every request goes through the shared HTTP helper (size-limited reads, typed network errors,
secrets redacted) and the shared digest login. A 401 on a resource is answered once with a new
login and the request repeated; a second 401 with a token the meter still accepts for
/auth/rights is a missing right, not a wrong password, so callers do not ask the user to log in
again for something a new login cannot fix.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiohttp

from ..errors import (
    MeterApiError,
    MeterAuthError,
    MeterFrameError,
    MeterPermissionError,
    MeterServerError,
    MeterUnsupportedError,
    MissingSaveRightError,
)
from ..http import request
from .auth import NO_BODY, Clock, JwtLogin
from .energy import catch_up_ranges
from .models import (
    CommandAnswer,
    EpochMismatch,
    History,
    LocalReading,
    OperationStatus,
    Reading,
    Register,
    Rights,
    Version,
)
from .protocol import (
    base_url,
    decode,
    history_query,
    normalize_host,
    parse_command_answer,
    parse_history,
    parse_local,
    parse_registers,
    parse_result,
    parse_rights,
    parse_status,
    parse_text,
    parse_version,
    poll_query,
)

MAX_BODY = 4 * 1024 * 1024
"""History answers grow with their ranges (`max-rows` caps them); a meter never sends more."""

SAVE_GATED = ("/cmd", "/log")
"""Resources only users with the save right may use."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Who the meter is: what a config flow validates and a device entry shows."""

    serial: str
    hostname: str
    model: str
    firmware: str | None


class EgaugeClient:
    """One eGauge meter for one user.

    HTTPS is the default and the meter's self-signed certificate is accepted unless
    `verify_tls` asks otherwise; `https=False` is for eGauge2 and EG30xx meters, which have no
    HTTPS. The session is the caller's and is never closed here.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        username: str,
        password: str,
        *,
        https: bool = True,
        verify_tls: bool = False,
        request_timeout: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._session = session
        self._host = normalize_host(host)
        self._https = https
        self._base = base_url(self._host, https=https)
        self._password = password
        self._ssl = verify_tls  # False: the meter's self-signed certificate is accepted
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._clock = clock
        self._login = JwtLogin(username, password, self._send, clock=clock)
        self._rights: tuple[str, Rights] | None = None
        self._meter_offset = 0.0
        self.requests = 0
        """HTTP requests sent, logins included (for benchmarks and tests)."""

    @property
    def host(self) -> str:
        """`host[:port]` the requests go to."""
        return self._host

    @property
    def https(self) -> bool:
        """Whether requests go over HTTPS."""
        return self._https

    @property
    def logins(self) -> int:
        """Successful logins so far."""
        return self._login.logins

    # Transport ---------------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, body: object, jwt: str | None, params: Mapping[str, str] = {}
    ) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        options: dict[str, object] = {}
        if jwt is not None:
            headers["Authorization"] = f"Bearer {jwt}"
        if body is not NO_BODY:
            headers["Content-Type"] = "application/json"
            options["data"] = json.dumps(body).encode()
        if params:
            options["params"] = dict(params)
        self.requests += 1
        answer = await request(
            self._session,
            method,
            f"{self._base}{path}",
            what=self._host,
            secrets=(self._password, jwt),
            client_timeout=self._timeout,
            max_body=MAX_BODY,
            headers=headers,
            ssl=self._ssl,
            **options,
        )
        status = answer.status
        if status >= 500:
            msg = f"{self._host} answered HTTP {status} (rebooting or overloaded)"
            raise MeterServerError(msg, status=status)
        if status == 404:
            msg = f"{self._host} does not know {path} (older firmware?)"
            raise MeterUnsupportedError(msg)
        if status in (200, 401):
            return status, answer.body
        document = _quiet_decode(answer.body)
        error = document.get("error") if isinstance(document, dict) else None
        msg = f"{self._host} refused {path} with HTTP {status}"
        if isinstance(error, str) and error:
            msg = f"{msg}: {' '.join(error.split())[:200]}"
        raise MeterApiError(msg, status=status)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = NO_BODY,
    ) -> object:
        """One authorized request; the decoded JSON answer."""
        jwt = await self._login.token()
        status, document = await self._send(method, path, body, jwt, params or {})
        if status == 401:
            self._login.invalidate(jwt)
            jwt = await self._login.token()
            status, document = await self._send(method, path, body, jwt, params or {})
            if status == 401:
                await self._refused(path, jwt)
        return decode(document)

    async def _refused(self, path: str, jwt: str) -> None:
        """Raise why a fresh token was refused: a missing right, or the login itself."""
        status, body = await self._send("GET", "/auth/rights", NO_BODY, jwt)
        if status != 200:
            self._login.invalidate(jwt)
            msg = f"{self._host} refused a fresh login token"
            raise MeterAuthError(msg)
        rights = parse_rights(decode(body))
        if path.startswith(SAVE_GATED) and not rights.save:
            msg = f"user {rights.user!r} lacks the save right that {path} needs"
            raise MissingSaveRightError(msg)
        msg = f"user {rights.user!r} may not use {path}"
        raise MeterPermissionError(msg)

    # Reading -----------------------------------------------------------------------------

    async def rights(self) -> Rights:
        """The user's rights (cached for the token they were read with)."""
        jwt = await self._login.token()
        if self._rights is not None and self._rights[0] == jwt:
            return self._rights[1]
        rights = parse_rights(await self.call("GET", "/auth/rights"))
        self._rights = (jwt, rights)
        return rights

    async def require_save(self) -> None:
        """MissingSaveRightError unless the user may run commands."""
        rights = await self.rights()
        if not rights.save:
            msg = f"user {rights.user!r} lacks the save right that commands need"
            raise MissingSaveRightError(msg)

    async def text(self, path: str) -> str:
        """A text value of /sys or /config (`/sys/sn`, `/config/net/hostname`, ...)."""
        return parse_text(await self.call("GET", path), path)

    async def value(self, path: str) -> object:
        """Any `result` of /sys or /config."""
        return parse_result(await self.call("GET", path), path)

    async def version(self) -> Version:
        """/sys/version."""
        return parse_version(await self.call("GET", "/sys/version"))

    async def epoch(self) -> str:
        """The counters' epoch (/config/db/epoch): when it moves, counters restart."""
        return await self.text("/config/db/epoch")

    async def device_info(self) -> DeviceInfo:
        """Serial, hostname, model and firmware (concurrently, over one login)."""
        serial, hostname, model, version = await asyncio.gather(
            self.text("/sys/sn"),
            self.text("/config/net/hostname"),
            self.text("/sys/model"),
            self._optional_version(),
        )
        return DeviceInfo(serial, hostname, model, None if version is None else version.firmware)

    async def _optional_version(self) -> Version | None:
        try:
            return await self.version()
        except MeterUnsupportedError:
            return None

    async def registers(self) -> tuple[Register, ...]:
        """Every register, virtual ones (`use`, `gen`) included."""
        reading = await self.read()
        if isinstance(reading, EpochMismatch):  # pragma: no cover - no condition was sent
            msg = "the meter answered a condition that was not asked"
            raise MeterFrameError(msg)
        return reading.registers

    async def read(self, *, epoch: str | None = None) -> Reading | EpochMismatch:
        """Rates and counters of every register in one request.

        With `epoch` (from `epoch()`), a moved epoch comes back as EpochMismatch instead of
        counters that jumped.
        """
        document = await self.call("GET", "/register", params=poll_query(epoch))
        reading = parse_registers(document, virtual_values=True)
        if isinstance(reading, Reading):
            self._meter_offset = reading.ts - self._clock()
        return reading

    async def poll(
        self, since: float | None, *, epoch: str | None = None
    ) -> tuple[Reading, History] | EpochMismatch:
        """One request for rates, current counters and every history row since `since`.

        This is a poll that keeps net registers' import and export exact: the rows are the
        meter's 1 s (or, for a long gap, 1 min) rows, youngest first.
        """
        ranges = catch_up_ranges(since, self.meter_now())
        document = await self.call("GET", "/register", params=poll_query(epoch, ranges))
        reading = parse_registers(document, virtual_values=True)
        if isinstance(reading, EpochMismatch):
            return reading
        self._meter_offset = reading.ts - self._clock()
        history = parse_history(document, virtual_values=True)
        assert not isinstance(history, EpochMismatch)  # the same document: not a condition
        return reading, history

    def meter_now(self) -> float:
        """The meter's clock as of now, estimated from its last answer (it may be skewed)."""
        return self._clock() + self._meter_offset

    async def history(
        self,
        ranges: Sequence[tuple[float, float, float]],
        *,
        delta: bool = False,
        max_rows: int | None = None,
        epoch: str | None = None,
    ) -> History | EpochMismatch:
        """Counter rows of `(start, step, stop)` ranges, youngest first across all of them."""
        query = history_query(ranges, delta=delta, max_rows=max_rows, epoch=epoch)
        document = await self.call("GET", "/register", params=query)
        return parse_history(document, virtual_values=True, delta=delta)

    async def local(self) -> LocalReading:
        """/local: per-line voltage, current and frequency, for meters without such registers."""
        query = {"values": "", "energy": "", "rate": "", "type": ""}
        return parse_local(await self.call("GET", "/local", params=query))

    # Commands ----------------------------------------------------------------------------

    async def command(self, path: str, body: object = NO_BODY) -> CommandAnswer:
        """POST one /cmd operation (checked for the save right first)."""
        await self.require_save()
        return parse_command_answer(await self.call("POST", path, body=body), path)

    async def status(self, token: str) -> OperationStatus:
        """/sys/status/<token>: how a long operation is doing."""
        return parse_status(await self.call("GET", f"/sys/status/{token}"))

    async def status_result(self, token: str) -> object:
        """/sys/status/<token>/result: what a finished operation produced."""
        return parse_result(await self.call("GET", f"/sys/status/{token}/result"), "/sys/status")


def _quiet_decode(body: bytes) -> object:
    try:
        return decode(body)
    except MeterFrameError:
        return None
