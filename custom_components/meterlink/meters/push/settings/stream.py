"""Sans-IO side of the Device Settings API: receipts, answers, the response stream and demux.

`POST /sendCommand` only says a command was queued; the device's answer arrives later on a
push stream (`/sub/<channel>` HTTP stream or `/ws/<channel>` websocket) shared by every command
on that channel, in any order (seed 000, "Retrieving the Command Response"). This module turns
bytes and JSON into typed receipts and answers and matches answers to commands by `msg_id`;
the async client on top only moves bytes.

The HTTP stream is a push-stream channel: messages are JSON texts one after another, separated
by nothing or by whitespace, possibly with keep-alive pings or a wrapper object whose `text`
holds the message. `StreamDecoder` cuts JSON objects out of arbitrary chunks and skips what is
not JSON; `AnswerDemux` keeps answers that arrive before anyone waits for them (the answer can
overtake the sendCommand receipt) so no answer is lost to that race.
"""

from __future__ import annotations

import codecs
import json
import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ...errors import MeterApiError, MeterFrameError
from ...http import error_for_status
from ...json import JsonValue, decode, plain, quoted

MAX_MESSAGE = 256 * 1024
"""A command answer is small; a larger unfinished message means the stream is not JSON."""

MAX_EARLY_ANSWERS = 256
"""Answers kept for commands nobody waits for yet (or any more); the oldest go first."""


@dataclass(frozen=True, slots=True)
class CommandReceipt:
    """sendCommand's reply: the command is queued, its answer comes on this channel."""

    msg_id: str
    response_channel_id: str
    response_channel_host: str


@dataclass(frozen=True, slots=True)
class CommandAnswer:
    """The device's answer to one command, as the response stream carries it."""

    msg_id: str
    success: bool
    error: str | None = None
    data: JsonValue = None
    timestamp: float | None = None  # epoch seconds when the gateway received the command

    def as_json(self) -> dict[str, JsonValue]:
        """The answer as the API writes it (for printing and diagnostics)."""
        return {
            "msg_id": self.msg_id,
            "success": self.success,
            "error": self.error,
            "data": self.data,
            "timestamp": self.timestamp,
        }


def _string_field(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        msg = f"{what} has no {key}"
        raise MeterFrameError(msg)
    return value


def parse_receipt(
    status: int, body: bytes | str, *, retry_after: str | None = None, now: float | None = None
) -> CommandReceipt:
    """The sendCommand HTTP reply as a receipt, or the typed error it stands for.

    `retry_after` is the header of a 429 and `now` (Unix seconds) reads its date form.
    """
    error = error_for_status(status, body, retry_after=retry_after, now=now)
    if error is not None:
        raise error
    data = decode(body)
    if not isinstance(data, dict):
        msg = "the sendCommand reply is not a JSON object"
        raise MeterFrameError(msg)
    if data.get("error"):
        msg = f"the API refused the command: {quoted(data['error'])}"
        raise MeterApiError(msg, status=status)
    receipt = CommandReceipt(
        msg_id=_string_field(data, "msg_id", "the sendCommand reply"),
        response_channel_id=_string_field(data, "response_channel_id", "the sendCommand reply"),
        response_channel_host=_string_field(data, "response_channel_host", "the sendCommand reply"),
    )
    if any(c in receipt.response_channel_id for c in "/?#. ") or any(
        c in receipt.response_channel_host for c in "/?#@ "
    ):
        msg = "the sendCommand reply names an unusable response channel"
        raise MeterFrameError(msg)
    return receipt


def parse_answer(message: object) -> CommandAnswer:
    """One response-stream message as an answer; MeterFrameError when it is not one."""
    wrapped = isinstance(message, dict) and "msg_id" not in message
    if wrapped and isinstance(message, dict) and isinstance(message.get("text"), str):
        # A push-stream message template may wrap the published text: {"id":..,"text":"{..}"}.
        message = decode(message["text"])
    if not isinstance(message, dict):
        msg = "a response message is not a JSON object"
        raise MeterFrameError(msg)
    msg_id = _string_field(message, "msg_id", "a response message")
    success = message.get("success")
    if not isinstance(success, bool):
        msg = f"the answer to {quoted(msg_id, 64)} has no true/false success"
        raise MeterFrameError(msg)
    error = message.get("error")
    timestamp = message.get("timestamp")
    if isinstance(timestamp, str):
        try:
            timestamp = float(timestamp)
        except ValueError:
            timestamp = None
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, int | float)
        or not math.isfinite(timestamp)
    ):
        timestamp = None
    return CommandAnswer(
        msg_id=msg_id,
        success=success,
        error=None if error is None else (quoted(error) or None),
        data=plain(message.get("data")),
        timestamp=None if timestamp is None else float(timestamp),
    )


class StreamDecoder:
    """Cuts JSON values out of an HTTP push stream, whatever the chunking.

    Bytes between messages that are not JSON (pings, separators, a broken message) are
    skipped; an unfinished message waits for the next chunk. A message that grows beyond
    MAX_MESSAGE without ending is dropped, so a non-JSON stream cannot exhaust memory, and a
    bracketed text that is not JSON is dropped whole, so decoding stays linear in the input.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._json = json.JSONDecoder()
        self.skipped = 0  # characters skipped as not JSON (diagnostics)

    def feed(self, chunk: bytes) -> list[Any]:
        """Every complete JSON object or array the stream holds so far, in order."""
        self._buffer += self._utf8.decode(chunk)
        return list(self._drain())

    def feed_text(self, text: str) -> list[Any]:
        """The same for an already-decoded text (a websocket frame)."""
        self._buffer += text
        return list(self._drain())

    def _drain(self) -> Iterator[Any]:
        while True:
            start = _next_start(self._buffer)
            self.skipped += start
            self._buffer = self._buffer[start:]
            if not self._buffer:
                return
            end = _value_end(self._buffer)
            if end is None:
                if len(self._buffer) <= MAX_MESSAGE:
                    return  # unfinished: wait for more
                self._skip(len(self._buffer))  # too long to be a message: drop it all
                return
            try:
                value = self._json.decode(self._buffer[:end])
            except ValueError, RecursionError:
                self._skip(end)  # bracketed but not JSON: drop it whole (linear time)
                continue
            self._buffer = self._buffer[end:]
            yield value

    def _skip(self, count: int) -> None:
        self.skipped += count
        self._buffer = self._buffer[count:]


def _next_start(text: str) -> int:
    """Index of the next character that can start a JSON object or array (len when none)."""
    positions = [index for index in (text.find("{"), text.find("[")) if index >= 0]
    return min(positions) if positions else len(text)


def _value_end(text: str) -> int | None:
    """End of the bracketed value `text` starts with, or None while it is unfinished.

    Brackets inside strings (with escapes) do not count; whether the slice is valid JSON is
    left to the JSON decoder.
    """
    depth = 0
    in_string = False
    escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def answers_in(values: list[Any]) -> list[CommandAnswer]:
    """The command answers among decoded stream values (lists are batches); others are skipped."""
    answers: list[CommandAnswer] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            try:
                answers.append(parse_answer(item))
            except MeterFrameError:
                continue
    return answers


class AnswerDemux:
    """Matches answers to the commands waiting for them; keeps early answers for a while.

    Sans-IO: `feed` returns the (msg_id, answer) pairs that completed a waiting command; the
    caller resolves its futures. An answer for a msg_id nobody waits for yet is kept (bounded),
    because the stream may deliver it before sendCommand's receipt names the msg_id.
    """

    def __init__(self, max_early: int = MAX_EARLY_ANSWERS) -> None:
        self._waiting: set[str] = set()
        self._early: OrderedDict[str, CommandAnswer] = OrderedDict()
        self._max_early = max_early

    @property
    def waiting(self) -> frozenset[str]:
        """The msg_ids still waiting for an answer."""
        return frozenset(self._waiting)

    def expect(self, msg_id: str) -> CommandAnswer | None:
        """Wait for `msg_id`; returns its answer at once when it already arrived."""
        early = self._early.pop(msg_id, None)
        if early is None:
            self._waiting.add(msg_id)
        return early

    def forget(self, msg_id: str) -> None:
        """Stop waiting (timeout or cancellation): a late answer is then kept as early."""
        self._waiting.discard(msg_id)

    def feed(self, answers: list[CommandAnswer]) -> list[CommandAnswer]:
        """The answers that complete a waiting command; the rest are kept for later."""
        done: list[CommandAnswer] = []
        for answer in answers:
            if answer.msg_id in self._waiting:
                self._waiting.discard(answer.msg_id)
                done.append(answer)
            elif answer.msg_id not in self._early:
                self._early[answer.msg_id] = answer
                while len(self._early) > self._max_early:
                    self._early.popitem(last=False)
        return done
