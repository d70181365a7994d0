"""The mutation engine: one seeded random stream of hostile variants of valid inputs.

Plain and deterministic (a seed gives the same inputs on every machine) so an escape found by
a long run can be replayed by `--seed`. JSON seeds are also mutated structurally: a random node
is replaced by another JSON type, a huge or odd number, a unicode trap or a deep nest, which a
byte-level fuzzer would almost never produce intact.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from typing import Any

MAX_POOL = 256  # mutated inputs kept (when they parsed) to mutate further
_DEEP_MARK = "\x00deep\x00"

# Tokens that have broken parsers before: digits int() refuses, floats that overflow, ...
_TOKENS: tuple[bytes, ...] = (
    b"1" + b"0" * 400,
    b"-1" + b"0" * 400,
    b"1e309",
    b"-1e309",
    b"1e-400",
    b"NaN",
    b"Infinity",
    b"-0",
    b"0.0000000000000000000001",
    "²".encode(),
    "①".encode(),
    "١٢".encode(),
    "\u202e".encode(),
    "\ud83d\ude00".encode("utf-8", "surrogatepass"),
    b"\\ud800",
    b"\\u0000",
    b"\xff\xfe",
    b"\xc3",
    b"\x00",
    b"\x02",
    b"\x03",
    b"\x06",
    b"\r\n",
    b'"',
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"[" * 600,
    b"{" * 600,
    b"http://[x",
    b"%",
    b"~",
)

_ODD_VALUES: tuple[Any, ...] = (
    10**400,
    -(10**400),
    10**19,
    -1,
    0,
    1.7976931348623157e308,
    5e-324,
    -0.0,
    True,
    False,
    None,
    "",
    " ",
    "²",
    "①",
    "١٢",
    "0x1f",
    "1_000",
    "nan",
    "inf",
    "1e999",
    "9" * 60,
    "\u0000",
    "\ud800",
    "\u202ex",
    "😀" * 20,
    "a" * 3000,
    "PERR.NR",
    "000300001001",
    "4016fa0500cd",
    "http://[x",
    "FREQ=DAILY;COUNT=²",
    [],
    {},
    [None],
    {"": None},
)


class Mutator:
    """Endless hostile variants of `seeds`; `keep` feeds interesting ones back in."""

    def __init__(self, seeds: Sequence[bytes], rng: random.Random, *, structured: bool) -> None:
        if not seeds:
            msg = "a fuzz family needs at least one seed"
            raise ValueError(msg)
        self._seeds = list(seeds)
        self._pool: list[bytes] = []
        self._rng = rng
        self._documents: list[Any] = []
        if structured:
            for seed in seeds:
                try:
                    self._documents.append(json.loads(seed))
                except ValueError:
                    continue
        self._byte_ops: tuple[Callable[[bytearray], None], ...] = (
            self._flip_bit,
            self._set_byte,
            self._delete,
            self._insert_token,
            self._duplicate,
            self._truncate,
            self._splice,
        )

    def next(self) -> bytes:
        """One new input."""
        rng = self._rng
        if self._documents and rng.random() < 0.6:
            data = bytearray(self._structured())
            if rng.random() < 0.2:
                rng.choice(self._byte_ops)(data)
            return bytes(data)
        source = rng.choice(self._pool) if self._pool and rng.random() < 0.3 else None
        data = bytearray(source if source is not None else rng.choice(self._seeds))
        for _ in range(rng.choice((1, 1, 1, 2, 3, 6))):
            rng.choice(self._byte_ops)(data)
        return bytes(data)

    def keep(self, data: bytes) -> None:
        """Remember an input that parsed, so later mutations start from odd-but-valid shapes."""
        if len(data) > 64 * 1024:
            return
        if len(self._pool) < MAX_POOL:
            self._pool.append(data)
        else:
            self._pool[self._rng.randrange(MAX_POOL)] = data

    # Structured (JSON) ----------------------------------------------------------------------

    def _structured(self) -> bytes:
        rng = self._rng
        document = _copy(rng.choice(self._documents))
        deep = 0
        for _ in range(rng.choice((1, 1, 2, 3))):
            document, made_deep = self._mutate_node(document)
            deep = deep or made_deep
        text = json.dumps(document, ensure_ascii=rng.random() < 0.5)
        if deep and _DEEP_MARK_JSON in text:
            opener, closer = rng.choice((("[", "]"), ('{"a":', "}")))
            text = text.replace(_DEEP_MARK_JSON, opener * deep + "1" + closer * deep, 1)
        return text.encode("utf-8", "surrogatepass")

    def _mutate_node(self, document: Any) -> tuple[Any, int]:
        """Replace, swap or drop one random node; returns the document and any nest depth."""
        rng = self._rng
        path = _random_path(document, rng)
        parent, key = path if path is not None else (None, None)
        current = document if parent is None else parent[key]
        choice = rng.random()
        deep = 0
        if choice < 0.35:
            new: Any = _copy(rng.choice(_ODD_VALUES))
        elif choice < 0.55:
            new = _swap_type(current, rng)
        elif choice < 0.65:
            deep = rng.choice((40, 200, 990, 1010, 3000))  # around the recursion limit
            new = _DEEP_MARK
        elif choice < 0.75 and isinstance(current, dict) and current:
            victim = rng.choice(list(current))
            new = dict(current)
            if rng.random() < 0.5:
                del new[victim]
            else:
                new[_case_swap(str(victim), rng)] = new.pop(victim)
        elif choice < 0.85 and isinstance(current, list) and current:
            new = current * rng.choice((2, 3, 10)) if len(current) < 20 else current[:1]
        else:
            new = _number_text(current, rng)
        if parent is None:
            return new, deep
        parent[key] = new
        return document, deep

    # Bytes --------------------------------------------------------------------------------

    def _flip_bit(self, data: bytearray) -> None:
        if data:
            index = self._rng.randrange(len(data))
            data[index] ^= 1 << self._rng.randrange(8)

    def _set_byte(self, data: bytearray) -> None:
        if data:
            data[self._rng.randrange(len(data))] = self._rng.randrange(256)

    def _delete(self, data: bytearray) -> None:
        if data:
            start = self._rng.randrange(len(data))
            del data[start : start + self._rng.choice((1, 2, 8, 64))]

    def _insert_token(self, data: bytearray) -> None:
        index = self._rng.randrange(len(data) + 1)
        data[index:index] = self._rng.choice(_TOKENS)

    def _duplicate(self, data: bytearray) -> None:
        if data:
            start = self._rng.randrange(len(data))
            piece = data[start : start + self._rng.choice((4, 32, 256))]
            data[start:start] = piece * self._rng.choice((1, 2, 8))

    def _truncate(self, data: bytearray) -> None:
        if data:
            del data[self._rng.randrange(len(data)) :]

    def _splice(self, data: bytearray) -> None:
        other = self._rng.choice(self._seeds)
        if data and other:
            cut, other_cut = self._rng.randrange(len(data)), self._rng.randrange(len(other))
            data[cut:] = other[other_cut:]


_DEEP_MARK_JSON = json.dumps(_DEEP_MARK)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _random_path(document: Any, rng: random.Random) -> tuple[Any, Any] | None:
    """A random (container, key) inside `document`, or None for the root itself."""
    parent: Any = None
    key: Any = None
    node = document
    while isinstance(node, dict | list) and node and rng.random() < 0.8:
        parent = node
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        node = node[key]
    return None if parent is None else (parent, key)


def _swap_type(value: Any, rng: random.Random) -> Any:
    """The same content as another JSON type: "12" <-> 12, [x] <-> {"0": x}, x -> [x]."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return str(value) if rng.random() < 0.7 else [value]
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return [value] if rng.random() < 0.5 else {value: value}
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return rng.choice(("", 0, [], {}))


def _number_text(value: Any, rng: random.Random) -> Any:
    """Odd spellings of a number: huge, negative, exponent, unicode digits, padded."""
    text = str(value) if not isinstance(value, dict | list) else "1"
    return rng.choice(
        (
            text + "0" * 320,
            "-" + text,
            text + "e999",
            " " + text + " ",
            text.replace("1", "¹"),
            text + "٣",
            int("9" * rng.choice((20, 309, 400))),
        )
    )


def _case_swap(text: str, rng: random.Random) -> str:
    return "".join(c.swapcase() if rng.random() < 0.5 else c for c in text) or "x"
