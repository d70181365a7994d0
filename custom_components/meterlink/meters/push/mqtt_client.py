"""The EKM Push3 MQTT stream on aiomqtt: connect, subscribe, yield parsed messages, reconnect.

aiomqtt drives paho's socket from the running event loop (no thread of its own; only the
blocking TCP/TLS connect runs in the loop's executor) and fits Home Assistant's
`paho-mqtt==2.1.0` pin. `PushStream.events()` is one async iterator per caller that yields
what a consumer must react to: `Connected` (subscribed: poll now, the broker keeps no history),
`Message`, `BadMessage`, `Silent` (the watchdog: no readable message for `watchdog` s: poll;
the stream reconnects at once, as a silent subscription is the one fault nobody reports) and
`Disconnected` (it retries after a capped exponential backoff with jitter). A refused key
ends the iterator with `MeterNotAuthorizedError`: retrying a refused key helps nobody.

The SSL context is built by `tls_context()`, which loads certificates from disk: a caller in
an event loop runs it in an executor (Home Assistant passes its own pre-built one). The topic
and the username are the gateway key, so neither is logged: paho's own debug lines go through
a logger that blanks the key, and error texts are redacted too.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode

from ..errors import (
    InvalidParameterError,
    MeterConnectionError,
    MeterError,
    MeterFrameError,
    MeterNotAuthorizedError,
)
from ..http import redact
from .fields import NewerThan
from .mqtt import DEFAULT_BROKER as DEFAULT_BROKER_URL
from .mqtt import Broker, StreamKind, StreamMessage, parse_broker, parse_message, topic
from .realtime import check_key

_LOGGER = logging.getLogger(__name__)

DEFAULT_BROKER = parse_broker(DEFAULT_BROKER_URL)
KEEPALIVE = 60
"""Seconds between pings, as in EKM's examples (`connect(host, 8883, 60)`)."""
CONNECT_TIMEOUT = 20.0
# CONNACK codes that mean "this key may not connect": MQTT 3.1.1 (4 bad user, 5 not
# authorised) and 5.0 (134, 135); aiomqtt reports mosquitto's 3.1.1 refusal as 135.
_REFUSED = frozenset({4, 5, 134, 135})


def tls_context(cafile: str | None = None, *, insecure: bool = False) -> ssl.SSLContext:
    """A client TLS context: the system CA store, or only `cafile`; `insecure` verifies nothing.

    Blocking (it reads certificates from disk): run it in an executor from an event loop.
    A `cafile` that cannot be read or holds no certificate is an InvalidParameterError.
    """
    if insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as err:
        msg = f"the CA file cannot be used ({type(err).__name__}: {err.strerror or err})"
        raise InvalidParameterError(msg) from None


def client_id(prefix: str = "meterlink") -> str:
    """A client id of its own for every caller: a second client with the same id is kicked."""
    return f"{prefix}-{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before reconnect attempt `n` (1, 2, ...): `initial * factor**(n-1)` up to `maximum`.

    `jitter` spreads each delay by up to that fraction either way, so many clients that lost
    the broker together do not return together.
    """

    initial: float = 5.0
    maximum: float = 600.0
    factor: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before attempt `attempt`."""
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        return max(0.0, base * (1 + self.jitter * (2 * rand() - 1)))


@dataclass(slots=True)
class StreamStats:
    """What diagnostics show: never the key, topic or username."""

    connected: bool = False
    last_message: float | None = None
    messages: int = 0
    reconnects: int = 0
    parse_errors: int = 0
    silences: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, object]:
        """Plain values for diagnostics."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Connected:
    """Subscribed (again): the broker kept nothing meanwhile, so the caller polls once now."""

    reconnect: bool


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed message and when it arrived (Unix seconds)."""

    message: StreamMessage
    received: float


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A message that could not be read (counted; the stream goes on)."""

    error: MeterFrameError


@dataclass(frozen=True, slots=True)
class Silent:
    """No message for `seconds`: the caller polls; the stream reconnects at once."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection failed or dropped; the next attempt follows in `retry_in` seconds."""

    error: MeterConnectionError
    retry_in: float


type StreamEvent = Connected | Message | BadMessage | Silent | Disconnected


class _BlankKey(logging.Filter):
    """Replaces the key in paho's log records (its SUBSCRIBE and PUBLISH lines name the topic)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self._key = key

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self._key in text:
            record.msg, record.args = redact(text, self._key), None
        return True


class _Client(aiomqtt.Client):
    """aiomqtt's client without one race of aiomqtt 2.5.1.

    A connect cancelled half-way (the entry unloading, Home Assistant stopping) leaves the
    client's `_connected` future cancelled while paho still watches the socket; paho's later
    disconnect callback then calls `_connected.exception()`, which raises CancelledError inside
    an event-loop callback, where nothing can catch it. A cancelled connect has nothing to
    report at disconnect, so the callback is skipped then.
    """

    def _on_disconnect(
        self,
        client: Any,
        userdata: Any,
        flags: Any,
        reason_code: Any,
        properties: Any = None,
    ) -> None:
        if self._connected.cancelled():
            return
        super()._on_disconnect(client, userdata, flags, reason_code, properties)


def _paho_logger(key: str) -> logging.Logger:
    # Not registered with logging's manager, so one per stream costs nothing once it is gone;
    # records still reach this module's handlers and levels through `parent`.
    logger = logging.Logger(f"{__name__}.paho")
    logger.parent = _LOGGER
    logger.addFilter(_BlankKey(key))
    return logger


def _refused(err: aiomqtt.MqttError) -> bool:
    if not isinstance(err, aiomqtt.MqttCodeError):
        return False
    code = err.rc.value if isinstance(err.rc, ReasonCode) else err.rc
    return code in _REFUSED


@dataclass
class PushStream:
    """One subscription to a gateway's realtime (or summary) topic.

    `tls` is the SSL context (see `tls_context`); `watchdog` the silence in seconds after which
    `Silent` is yielded (None: never); `reconnect=False` makes a lost or failed connection end
    the iterator with `MeterConnectionError` (the commissioning tool). `newer_than` is passed
    to the parser so repeated reads are skipped cheaply.
    """

    key: str = field(repr=False)  # the topic and the username: never in a repr or a log
    tls: ssl.SSLContext = field(repr=False)
    broker: Broker = DEFAULT_BROKER
    kind: StreamKind = StreamKind.REALTIME
    identifier: str = field(default_factory=client_id)
    watchdog: float | None = None
    backoff: Backoff = field(default_factory=Backoff)
    reconnect: bool = True
    keepalive: int = KEEPALIVE
    connect_timeout: float = CONNECT_TIMEOUT
    newer_than: NewerThan | None = None
    stats: StreamStats = field(default_factory=StreamStats)
    clock: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        self.key = check_key(self.key)
        self._topic = topic(self.kind, self.key)

    async def events(self) -> AsyncGenerator[StreamEvent]:
        """Connect, subscribe and yield events until cancelled, closed or refused."""
        failures = 0
        connected_once = False
        while True:
            try:
                async with self._client() as client:
                    await client.subscribe(self._topic, qos=0)
                    failures = 0
                    self.stats.connected = True
                    if connected_once:
                        self.stats.reconnects += 1
                    yield Connected(reconnect=connected_once)
                    connected_once = True
                    async for event in self._receive(client):
                        yield event
                continue  # the watchdog left: subscribe again at once
            except aiomqtt.MqttError as err:
                if _refused(err):
                    self.stats.last_error = "the broker refused the key"
                    msg = "the MQTT broker refused the gateway key (not authorised)"
                    raise MeterNotAuthorizedError(msg) from None
                error = self._connection_error(err)
            finally:  # left for any reason, cancellation and closing included
                self.stats.connected = False
            self.stats.last_error = str(error)
            if not self.reconnect:
                raise error
            failures += 1
            delay = self.backoff.delay(failures, self.rand)
            _LOGGER.debug("MQTT stream %s: %s; retrying in %.0f s", self.identifier, error, delay)
            yield Disconnected(error, delay)
            await asyncio.sleep(delay)

    def _client(self) -> aiomqtt.Client:
        return _Client(
            self.broker.host,
            self.broker.port,
            username=self.key,
            identifier=self.identifier,
            tls_context=self.tls,
            keepalive=self.keepalive,
            timeout=self.connect_timeout,
            clean_session=True,
            logger=_paho_logger(self.key),
        )

    async def _receive(self, client: aiomqtt.Client) -> AsyncIterator[StreamEvent]:
        messages = aiter(client.messages)
        loop = asyncio.get_running_loop()
        # Only a readable message proves the stream works: garbage does not feed the watchdog.
        deadline = None if self.watchdog is None else loop.time() + self.watchdog
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    received = await anext(messages)
            except TimeoutError:
                self.stats.silences += 1
                yield Silent(float(self.watchdog or 0))
                return
            if received.topic.value != self._topic:
                continue
            try:
                message = parse_message(
                    received.payload,  # not bytes: a typed error
                    self.kind,
                    newer_than=self.newer_than,
                )
            except MeterError as err:
                self.stats.parse_errors += 1
                frame_error = err if isinstance(err, MeterFrameError) else MeterFrameError(str(err))
                yield BadMessage(frame_error)
                continue
            if self.watchdog is not None:
                deadline = loop.time() + self.watchdog
            now = self.clock()
            self.stats.messages += 1
            self.stats.last_message = now
            yield Message(message, now)

    def _connection_error(self, err: aiomqtt.MqttError) -> MeterConnectionError:
        text = redact(str(err) or type(err).__name__, self.key)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return MeterConnectionError(f"TLS verification of the MQTT broker failed: {text}")
        return MeterConnectionError(f"MQTT broker {self.broker.host}:{self.broker.port}: {text}")
