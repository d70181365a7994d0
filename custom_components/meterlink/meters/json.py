"""Sans-IO JSON for every web transport: one decoder, one sanitizer, one error-text reader.

Bodies come from clouds, gateways and devices that may send anything: a truncated answer, a
BOM, raw control characters (the smart-MAC's own example), nesting deep enough to exhaust the
stack or numbers too large to convert. Whatever arrives, the caller gets a value or a
MeterFrameError (InvalidParameterError for what the user sends), never RecursionError,
OverflowError or ValueError.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .errors import MeterError, MeterFrameError

type JsonValue = bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None

MAX_DEPTH = 64
"""Nesting no API answer needs; deeper is refused before it can reach the recursion limit."""

MAX_ERROR_TEXT = 300

_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_MAX_INT = int(sys.float_info.max)  # larger integers cannot become floats


def decode(body: bytes | str, *, lenient: bool = False) -> Any:
    """The body as JSON; MeterFrameError (saying "truncated" when it is) for anything else.

    `lenient` is for devices that bend JSON: bytes that are not UTF-8 are replaced, a BOM is
    dropped and raw control characters inside strings are accepted.
    """
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8", errors="replace" if lenient else "strict")
        except UnicodeDecodeError:
            msg = "the answer is not UTF-8 text"
            raise MeterFrameError(msg) from None
    else:
        text = body
    if lenient:
        text = text.removeprefix("\ufeff")
    try:
        return json.loads(text, strict=not lenient)
    except json.JSONDecodeError as err:
        stripped = text.rstrip()
        ended_early = err.pos >= len(stripped) or err.msg.startswith("Unterminated")
        if stripped[:1] in {"{", "["} and ended_early:
            msg = f"the answer is truncated JSON ({len(text)} characters)"
        else:
            msg = "the answer is not JSON"
        raise MeterFrameError(msg) from None
    except ValueError, RecursionError, OverflowError:
        msg = "the answer is JSON nested or sized beyond reason"
        raise MeterFrameError(msg) from None


def quoted(value: object, limit: int = MAX_ERROR_TEXT) -> str:
    """A text from the far end on one line and shortened, fit to quote in an error message."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def number(value: object) -> int | float | None:
    """A JSON value as a number: ints stay ints, numeric strings are parsed, the rest is None.

    APIs write numbers both ways ("60" and 60). Only plain decimal notation is accepted ("12",
    "-3.5", "1e3"); "nan", "inf", "0x1f", underscores and non-ASCII digits are refused, so
    garbage never becomes a value, and a bool is no number. An integer beyond the float range
    (JSON allows `1e309` written out) is refused too: every caller computes with floats, and
    one such value must cost only itself, not the whole answer.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) <= _MAX_INT else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) > 40 or not _NUMBER_RE.fullmatch(text):
        return None
    if _INTEGER_RE.fullmatch(text):
        return int(text)  # at most 40 digits: always within the float range
    parsed = float(text)
    return parsed if math.isfinite(parsed) else None


def api_error_text(body: bytes | str) -> str | None:
    """The `error` (or `message`, `detail`) text of an API error body, quoted; else None."""
    try:
        parsed = decode(body)
    except MeterFrameError:
        return None
    if isinstance(parsed, dict):
        for key in ("error", "message", "detail"):
            if isinstance(parsed.get(key), str) and parsed[key].strip():
                return quoted(parsed[key])
    return None


# One conversion still to do: the value, the container it goes into, its key or index, its depth.
type _Task = tuple[object, Any, Any, int]


def _frame_error(message: str) -> MeterError:
    return MeterFrameError(message)


def plain(
    value: object,
    *,
    max_depth: int = MAX_DEPTH,
    finite: bool = False,
    error: Callable[[str], MeterError] = _frame_error,
) -> JsonValue:
    """`value` as plain JSON: mappings become dicts with str keys, tuples become lists.

    Non-finite floats (which json.loads accepts) become None, or an error with `finite`. Other
    types and values nested deeper than `max_depth` raise `error(reason)`. The walk is
    iterative, so no input can raise RecursionError.
    """
    root: list[JsonValue] = [None]
    # Each entry: (value to convert, container to put it in, key or index, depth).
    stack: list[_Task] = [(value, root, 0, 0)]
    while stack:
        item, parent, slot, depth = stack.pop()
        if depth > max_depth:
            raise error("is nested too deeply")
        converted: JsonValue
        if item is None or isinstance(item, bool | int | str):
            converted = item
        elif isinstance(item, float):
            if math.isfinite(item):
                converted = item
            elif finite:
                raise error("must be a finite number")
            else:
                converted = None
        elif isinstance(item, Mapping | list | tuple):
            if isinstance(item, Mapping):
                container: dict[str, JsonValue] = {}
                children: list[_Task] = [
                    (child, container, str(key), depth + 1) for key, child in item.items()
                ]
                converted = container
            else:
                items: list[JsonValue] = [None] * len(item)
                children = [(child, items, index, depth + 1) for index, child in enumerate(item)]
                converted = items
            stack.extend(reversed(children))  # popped in order: keys keep theirs
        else:
            raise error("is not a JSON value")
        parent[slot] = converted
    return root[0]


def plain_object(value: Mapping[str, object]) -> dict[str, JsonValue]:
    """A mapping (a library `as_json()`, with mapping proxies and tuples) as a plain JSON object."""
    result = plain(value)
    if not isinstance(result, dict):  # pragma: no cover - a Mapping always becomes a dict
        raise MeterFrameError("is not a JSON object")
    return result
