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
import re
from collections import OrderedDict
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
    return CommandAnswer(
        msg_id=msg_id,
        success=success,
        error=None if error is None else (quoted(error) or None),
        data=_data(message.get("data")),
        timestamp=_timestamp(message.get("timestamp")),
    )


def _timestamp(value: object) -> float | None:
    """Epoch seconds, or None: a text that is no number, `1e999` or a huge integer is no time.

    Only this value is lost: the answer still completes its command (one bad message must
    never stop the response stream, issue 11).
    """
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            seconds = float(value)
        elif isinstance(value, int | float):
            seconds = float(value)  # OverflowError for an integer beyond the float range
        else:
            return None
    except ValueError, OverflowError:
        return None
    return seconds if math.isfinite(seconds) else None


def _data(value: object) -> JsonValue:
    """The answer's data as plain JSON; None when it is no JSON a device would send.

    Nested beyond reason, `data` costs itself, not the answer: the command did happen.
    """
    try:
        return plain(value)
    except MeterFrameError:
        return None


class StreamDecoder:
    """Cuts JSON values out of an HTTP push stream, whatever the chunking.

    Bytes between messages that are not JSON (pings, separators, a broken message) are
    skipped; an unfinished message waits for the next chunk. A message that grows beyond
    MAX_MESSAGE without ending is dropped, so a non-JSON stream cannot exhaust memory, and a
    bracketed text that is not JSON is dropped whole.

    It runs on Home Assistant's event loop, so the cost is linear in the input however it is
    chunked: each character is looked at once (the bracket scan keeps its state between
    chunks) and an unfinished message is kept as pieces, joined once when it ends. Rescanning
    the buffer on every chunk cost 12 s for 256 KiB in 128-byte chunks.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._json = json.JSONDecoder()
        self._pieces: list[str] = []  # the unfinished value so far (from its opening bracket)
        self._length = 0
        self._scan = _BracketScan()
        self.skipped = 0  # characters skipped as not JSON (diagnostics)

    def feed(self, chunk: bytes) -> list[Any]:
        """Every complete JSON object or array the stream holds so far, in order."""
        return self._take(self._utf8.decode(chunk))

    def feed_text(self, text: str) -> list[Any]:
        """The same for an already-decoded text (a websocket frame)."""
        return self._take(text)

    def _take(self, text: str) -> list[Any]:
        values: list[Any] = []
        position, size = 0, len(text)
        while position < size:
            if not self._pieces:  # between values: skip to the next opening bracket
                found = _START.search(text, position)
                start = size if found is None else found.start()
                self.skipped += start - position
                position = start
                if position == size:
                    break
            end = self._scan.advance(text, position)
            if end is None:
                self._pieces.append(text[position:])
                self._length += size - position
                if self._length > MAX_MESSAGE:  # too long to be a message: drop it all
                    self.skipped += self._length
                    self._reset()
                break
            message = "".join([*self._pieces, text[position:end]])
            self._reset()
            position = end
            try:
                values.append(self._json.decode(message))
            except ValueError, RecursionError:
                self.skipped += len(message)  # bracketed but not JSON: dropped whole
        return values

    def _reset(self) -> None:
        self._pieces, self._length, self._scan = [], 0, _BracketScan()


_START = re.compile(r"[{\[]")
_STRUCTURE = re.compile(r'["{}\[\]]')
_IN_STRING = re.compile(r'["\\]')


class _BracketScan:
    """Where the bracketed value being read ends; the state survives chunk boundaries.

    Brackets inside strings (with escapes) do not count; whether the text is valid JSON is
    left to the JSON decoder.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False

    def advance(self, text: str, position: int) -> int | None:
        """The index just past the value's closing bracket, or None when `text` ends first."""
        size = len(text)
        while True:
            if self.in_string:
                if self.escaped:
                    if position >= size:
                        return None
                    position += 1
                    self.escaped = False
                found = _IN_STRING.search(text, position)
                if found is None:
                    return None
                position = found.end()
                if found.group() == "\\":
                    self.escaped = True
                else:
                    self.in_string = False
                continue
            found = _STRUCTURE.search(text, position)
            if found is None:
                return None
            position = found.end()
            char = found.group()
            if char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 0:
                    return position


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
