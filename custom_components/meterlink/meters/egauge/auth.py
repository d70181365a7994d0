"""The eGauge JWT digest login, shared by every request of one client.

The meter hands out a nonce with each 401 and accepts `md5(md5(usr:rlm:pwd):nnc:cnnc)` for it,
so the password itself never travels, not even over HTTPS (and the eGauge proxy refuses password
logins anyway). Concurrent requests wait for one login instead of each starting their own, the
token is renewed shortly before its lifetime ends, and an expired nonce (they live about a
minute) is answered with a fresh one rather than reported as a wrong password.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..errors import MeterApiError, MeterConnectionError, MeterFrameError
from .protocol import Token, decode, login_body, new_cnonce, parse_challenge, parse_login

type Clock = Callable[[], float]
type Send = Callable[[str, str, object, str | None], Awaitable[tuple[int, bytes]]]
"""`send(method, path, body, token)` → (HTTP status, body)."""

NO_BODY = object()
"""Marks a request without a body (a JSON `null` body is a real value for /cmd/set-time)."""

_NONCE_ATTEMPTS = 3
_REFRESH_MARGIN = 60.0  # seconds before the end of a token's life it is renewed


class JwtLogin:
    """Holds the current token of one user on one meter."""

    def __init__(
        self, user: str, password: str, send: Send, *, clock: Clock = time.monotonic
    ) -> None:
        self._user = user
        self._password = password
        self._send = send
        self._clock = clock
        self._lock = asyncio.Lock()
        self._jwt: str | None = None
        self._renew_at = 0.0
        self.logins = 0
        """How many logins succeeded (for tests and benchmarks)."""

    @property
    def jwt(self) -> str | None:
        """The token in use, if any (a secret: never log it)."""
        return self._jwt

    async def token(self) -> str:
        """A valid token, logging in first when there is none or it is about to expire."""
        jwt = self._current()
        if jwt is not None:
            return jwt
        async with self._lock:
            jwt = self._current()
            if jwt is None:
                token = await self._login()
                self._jwt = token.jwt
                self._renew_at = self._clock() + _renewal_delay(token)
                self.logins += 1
                jwt = token.jwt
            return jwt

    def invalidate(self, jwt: str) -> None:
        """Forget `jwt` after the meter refused it (a reboot revokes every token)."""
        if self._jwt == jwt:
            self._jwt = None

    def _current(self) -> str | None:
        if self._jwt is not None and self._clock() < self._renew_at:
            return self._jwt
        return None

    async def _login(self) -> Token:
        for _ in range(_NONCE_ATTEMPTS):
            status, document = await self._send("GET", "/auth/unauthorized", NO_BODY, None)
            if status != 401:
                # 503 while the meter reboots, a captive portal, a proxy page: the meter is not
                # reachable as a meter, which is never a reason to ask for a new password.
                msg = f"the meter answered HTTP {status} instead of a login challenge"
                raise MeterConnectionError(msg)
            challenge = parse_challenge(decode(document))
            body = login_body(self._user, self._password, challenge, new_cnonce())
            status, document = await self._send("POST", "/auth/login", body, None)
            if status != 200:
                msg = f"the meter answered the login with HTTP {status}"
                raise MeterApiError(msg, status=status)
            token = parse_login(decode(document))
            if token is not None:
                return token
        msg = f"the meter's login nonce expired {_NONCE_ATTEMPTS} times in a row"
        raise MeterFrameError(msg)


def _renewal_delay(token: Token) -> float:
    return max(token.lifetime - min(_REFRESH_MARGIN, token.lifetime / 10), 0.0)
