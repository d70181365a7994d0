"""Async Device Settings API client: send a command to a Push3 gateway and return its answer.

`POST /sendCommand` only queues a command (seed 000); the device's answer arrives later on a
response channel shared by all commands of the client, in any order. The client therefore:

* picks its own `response_channel_id` and, once the channel's host is known, keeps the stream
  open while commands are in flight, subscribing before it sends;
* asks the stream for its recent backlog (`/sub/<channel>.b<N>`, as the seed's example URL
  does) on every (re)connect, so an answer published before the subscriber arrived still
  comes in, and keeps answers that overtake their receipt (`AnswerDemux`);
* matches answers by `msg_id`, so several commands in flight on one gateway each get their own;
* ends a wait after `answer_timeout` with `AnswerTimeoutError`, which carries the msg_id so the
  caller can still tell which command is unaccounted for.

The stream URL takes the scheme of the configured API URL (https/wss in production, http/ws
for a simulator on loopback). Tokens and keys never appear in errors or logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ...errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterCommandError,
    MeterConnectionError,
    MeterError,
    MeterFrameError,
    MeterPermissionError,
    MeterTimeoutError,
)
from ...http import Answer, error_for_status, read_limited, redact, request
from ...json import JsonValue
from .commands import (
    Target,
    check_target_id,
    normalize_gateway,
    validate_command,
)
from .stream import (
    AnswerDemux,
    CommandAnswer,
    CommandReceipt,
    StreamDecoder,
    answers_in,
    parse_receipt,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.ekmpush.com"
DEFAULT_ANSWER_TIMEOUT = 30.0
DEFAULT_REQUEST_TIMEOUT = 15.0
DEFAULT_BACKLOG = 20
MAX_BODY = 256 * 1024


class StreamTransport(StrEnum):
    """How the answers are fetched: the HTTP push stream or the websocket."""

    STREAM = "stream"
    WEBSOCKET = "websocket"


class AnswerTimeoutError(MeterTimeoutError):
    """The command was queued but no answer came in time; `msg_id` says which command."""

    def __init__(self, message: str, *, msg_id: str, response_channel_id: str) -> None:
        super().__init__(message)
        self.msg_id = msg_id
        self.response_channel_id = response_channel_id


class CommandFailedError(MeterCommandError):
    """The device answered that the command failed; `answer` holds its error and data."""

    def __init__(self, message: str, *, answer: CommandAnswer) -> None:
        super().__init__(message)
        self.answer = answer


def raise_for_failure(answer: CommandAnswer) -> CommandAnswer:
    """The answer when the device reports success, else CommandFailedError with its text."""
    if not answer.success:
        msg = f"the device reported failure: {answer.error or 'no reason given'}"
        raise CommandFailedError(msg, answer=answer)
    return answer


def validate_api_url(api_url: str) -> str:
    """The API base URL without a trailing slash; only http and https are accepted."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        msg = "the API URL is http(s)://host[:port][/path]"
        raise InvalidParameterError(msg)
    return api_url.rstrip("/")


def check_token(token: str, what: str = "API token") -> str:
    """A bearer token or key is a non-empty printable string (never shown in the message)."""
    if not isinstance(token, str) or not token.strip() or not token.isprintable():
        msg = f"the {what} is missing"
        raise MeterAuthError(msg)
    return token.strip()


@dataclass
class _Channel:
    """One response channel: its reader task, the demux and the futures waiting on it."""

    host: str
    channel_id: str
    demux: AnswerDemux = field(default_factory=AnswerDemux)
    futures: dict[str, asyncio.Future[CommandAnswer]] = field(default_factory=dict)
    users: int = 0  # commands between "about to send" and "answer or timeout"
    task: asyncio.Task[None] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    last_error: MeterError | None = None
    connects: int = 0


class DeviceApiClient:
    """Sends Device Settings API commands through one Push3 gateway and awaits the answers.

    The session is the caller's; the client never closes it but does own the stream reader
    tasks, which `close()` (or leaving `async with`) stops.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token: str,
        key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        gateway: str | None = None,
        answer_timeout: float = DEFAULT_ANSWER_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        transport: StreamTransport | str = StreamTransport.STREAM,
        client_name: str = "meterlink",
        response_channel_id: str | None = None,
        backlog: int = DEFAULT_BACKLOG,
        reconnect_delay: float = 0.5,
    ) -> None:
        self._session = session
        self._token = check_token(token)
        self._key = check_token(key, "gateway or account key")
        self._api_url = validate_api_url(api_url)
        self._secure = urlsplit(self._api_url).scheme == "https"
        self._gateway = normalize_gateway(gateway) if gateway else None
        if answer_timeout <= 0 or request_timeout <= 0:
            msg = "timeouts are positive"
            raise InvalidParameterError(msg)
        self._answer_timeout = answer_timeout
        self._request_timeout = request_timeout
        self._transport = StreamTransport(transport)
        self._client_name = client_name
        self._channel_id = response_channel_id or f"response_{secrets.token_hex(16)}"
        if not 0 <= backlog <= 1000:
            msg = "backlog is 0 to 1000 messages"
            raise InvalidParameterError(msg)
        self._backlog = backlog
        self._reconnect_delay = reconnect_delay
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._host: str | None = None
        self._closed = False

    async def __aenter__(self) -> DeviceApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def response_channel_id(self) -> str:
        """The channel this client asks the API to answer on."""
        return self._channel_id

    @property
    def transport(self) -> StreamTransport:
        """HTTP stream or websocket."""
        return self._transport

    def stream_url(self, host: str, channel_id: str) -> str:
        """Where the answers of `channel_id` are read, with the backlog suffix."""
        suffix = f".b{self._backlog}" if self._backlog else ""
        if self._transport is StreamTransport.WEBSOCKET:
            scheme = "wss" if self._secure else "ws"
            return f"{scheme}://{host}/ws/{channel_id}{suffix}"
        scheme = "https" if self._secure else "http"
        return f"{scheme}://{host}/sub/{channel_id}{suffix}"

    async def send(
        self,
        target: Target | str,
        target_id: str,
        command: str,
        params: Mapping[str, object] | None = None,
        *,
        answer_timeout: float | None = None,
    ) -> CommandAnswer:
        """Send one command and return the device's answer (success or not).

        Refuses bad input with InvalidParameterError before any request. Use
        `raise_for_failure` on the result to turn a reported failure into an exception.
        """
        spec, checked = validate_command(target, command, params)
        check_target_id(spec.target, target_id)
        if self._closed:
            msg = "the client is closed"
            raise MeterConnectionError(msg)
        wait = self._answer_timeout if answer_timeout is None else answer_timeout
        channel = self._channel_for(self._host) if self._host is not None else None
        if channel is not None:
            channel.users += 1
        try:
            if channel is not None:
                await self._subscribed(channel)
            receipt = await self.queue_validated(spec.target, target_id, spec.name, checked)
            return await self._await_answer(receipt, wait)
        finally:
            if channel is not None:
                channel.users -= 1
                await self._idle_check(channel)

    async def queue(
        self,
        target: Target | str,
        target_id: str,
        command: str,
        params: Mapping[str, object] | None = None,
    ) -> CommandReceipt:
        """Only queue a command (validated first); the receipt names where its answer comes."""
        spec, checked = validate_command(target, command, params)
        check_target_id(spec.target, target_id)
        return await self.queue_validated(spec.target, target_id, spec.name, checked)

    async def queue_validated(
        self, target: Target, target_id: str, command: str, params: dict[str, JsonValue]
    ) -> CommandReceipt:
        """POST /sendCommand with already-validated parameters."""
        body: dict[str, Any] = {
            "command": command,
            "target": target.value,
            "target_id": target_id,
            "client": self._client_name,
            "response_channel_id": self._channel_id,
            "params": params,
        }
        query = {"key": self._key}
        if self._gateway:
            query["gateway"] = self._gateway
        answer = await self._request("POST", "/sendCommand", query, body)
        receipt = parse_receipt(
            answer.status, answer.body, retry_after=answer.retry_after, now=time.time()
        )
        self._host = receipt.response_channel_host
        return receipt

    async def close(self) -> None:
        """Stop every stream reader; commands still waiting end with a connection error."""
        self._closed = True
        for channel in list(self._channels.values()):
            await self._stop_reader(channel)
            for future in channel.futures.values():
                if not future.done():
                    future.set_exception(MeterConnectionError("the client was closed"))
        self._channels.clear()

    # Answers ------------------------------------------------------------------------------

    def _channel_for(self, host: str, channel_id: str | None = None) -> _Channel:
        key = (host, channel_id or self._channel_id)
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = _Channel(host, key[1])
        return channel

    async def _subscribed(self, channel: _Channel) -> None:
        """Start the reader and give it a moment to connect, so answers arrive live.

        When the stream failed last time there is no point waiting: the backlog requested on
        reconnect brings the answer anyway.
        """
        self._start_reader(channel)
        if channel.last_error is not None and not channel.connected.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(channel.connected.wait(), self._request_timeout)

    async def _await_answer(self, receipt: CommandReceipt, wait: float) -> CommandAnswer:
        channel = self._channel_for(receipt.response_channel_host, receipt.response_channel_id)
        channel.users += 1
        msg_id = receipt.msg_id
        try:
            early = channel.demux.expect(msg_id)
            if early is not None:
                return early
            future: asyncio.Future[CommandAnswer] = asyncio.get_running_loop().create_future()
            channel.futures[msg_id] = future
            self._start_reader(channel)
            try:
                return await asyncio.wait_for(asyncio.shield(future), wait)
            except TimeoutError:
                problem = ""
                if channel.last_error is not None and not channel.connected.is_set():
                    problem = f" (response stream: {channel.last_error})"
                msg = f"no answer to command {msg_id} within {wait:g} s{problem}"
                raise AnswerTimeoutError(
                    msg, msg_id=msg_id, response_channel_id=receipt.response_channel_id
                ) from None
        finally:
            channel.demux.forget(msg_id)
            channel.futures.pop(msg_id, None)
            channel.users -= 1
            await self._idle_check(channel)

    def _deliver(self, channel: _Channel, answers: list[CommandAnswer]) -> None:
        for answer in channel.demux.feed(answers):
            future = channel.futures.pop(answer.msg_id, None)
            if future is not None and not future.done():
                future.set_result(answer)

    def _fail_waiting(self, channel: _Channel, error: MeterError) -> None:
        for msg_id, future in list(channel.futures.items()):
            if not future.done():
                future.set_exception(type(error)(str(error)))
            channel.futures.pop(msg_id, None)

    async def _idle_check(self, channel: _Channel) -> None:
        if channel.users <= 0 and not channel.futures:
            await self._stop_reader(channel)

    def _start_reader(self, channel: _Channel) -> None:
        if channel.task is None or channel.task.done():
            channel.task = asyncio.create_task(
                self._read_forever(channel), name=f"ekm-push-answers-{channel.channel_id[:16]}"
            )

    async def _stop_reader(self, channel: _Channel) -> None:
        task, channel.task = channel.task, None
        channel.connected.clear()
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _read_forever(self, channel: _Channel) -> None:
        url = self.stream_url(channel.host, channel.channel_id)
        while True:
            try:
                if self._transport is StreamTransport.WEBSOCKET:
                    await self._read_websocket(channel, url)
                else:
                    await self._read_stream(channel, url)
                channel.last_error = MeterConnectionError("the response stream ended")
            except (MeterAuthError, MeterPermissionError) as err:
                channel.last_error = err
                channel.connected.clear()
                self._fail_waiting(channel, err)
                return
            except MeterError as err:
                channel.last_error = err
            except (aiohttp.ClientError, OSError) as err:
                detail = redact(str(err), self._token, self._key) or type(err).__name__
                channel.last_error = MeterConnectionError(f"cannot read answers: {detail}")
            except TimeoutError:
                channel.last_error = MeterTimeoutError("the response stream did not connect")
            channel.connected.clear()
            _LOGGER.debug("response stream of %s: %s", channel.host, channel.last_error)
            await asyncio.sleep(self._reconnect_delay)

    def _stream_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=None, connect=self._request_timeout, sock_connect=self._request_timeout
        )

    async def _read_stream(self, channel: _Channel, url: str) -> None:
        async with self._session.get(
            url, timeout=self._stream_timeout(), headers={"Accept": "application/json"}
        ) as response:
            if response.status != 200:
                body = await read_limited(response, MAX_BODY, "the response stream")
                error = error_for_status(
                    response.status,
                    body,
                    retry_after=response.headers.get("Retry-After"),
                    now=time.time(),
                )
                raise error or MeterFrameError(f"response stream: HTTP {response.status}")
            channel.connects += 1
            channel.connected.set()
            decoder = StreamDecoder()
            async for chunk in response.content.iter_any():
                self._deliver(channel, answers_in(decoder.feed(chunk)))

    async def _read_websocket(self, channel: _Channel, url: str) -> None:
        try:
            websocket = await self._session.ws_connect(
                url, timeout=aiohttp.ClientWSTimeout(ws_close=self._request_timeout)
            )
        except aiohttp.WSServerHandshakeError as err:
            error = error_for_status(err.status, b"")
            raise error or MeterFrameError(f"websocket refused: HTTP {err.status}") from None
        async with websocket:
            channel.connects += 1
            channel.connected.set()
            decoder = StreamDecoder()
            async for message in websocket:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._deliver(channel, answers_in(decoder.feed_text(message.data)))
                elif message.type is aiohttp.WSMsgType.BINARY:
                    self._deliver(channel, answers_in(decoder.feed(message.data)))
                else:
                    break

    # HTTP ----------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Mapping[str, Any] | None,
    ) -> Answer:
        return await request_json(
            self._session,
            method,
            f"{self._api_url}{path}",
            query,
            body,
            token=self._token,
            secrets_=(self._key,),
            request_timeout=self._request_timeout,
        )


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    query: Mapping[str, str],
    body: Mapping[str, Any] | None,
    *,
    token: str,
    secrets_: tuple[str, ...] = (),
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
) -> Answer:
    """One bearer-token JSON request: status, body, Retry-After; network trouble as typed errors."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    return await request(
        session,
        method,
        url,
        what=urlsplit(url).netloc,
        secrets=(token, *secrets_),
        client_timeout=aiohttp.ClientTimeout(total=request_timeout),
        max_body=MAX_BODY,
        params=dict(query),
        data=data,
        headers=headers,
    )
