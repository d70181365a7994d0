"""A simulated eGauge meter (EG4xxx, WebAPI 4.x) over HTTP and HTTPS, built from the OpenAPI text.

What it does, as the vendor describes it: a JWT digest login with nonces that expire after a
minute and tokens that expire after `ltm` seconds; users with and without the `save` right;
physical registers whose int64 counters integrate their rates second by second
(`c1 = c0 + round(rate/quantum)·dt`), a net grid register that changes sign as solar and load
move, an HVAC register wired negative, voltage, current, frequency, temperature and humidity;
virtual registers (`use`, `gen`) computed from formulas; counters relative to the database
epoch; 1 s history for the last hour and 1 min history beyond; /local; every /cmd operation,
the long ones with tokens whose status advances one step per poll; a reboot that revokes every
token and answers 503 for a while. Fault switches stage what real meters do: an unknown type
code, clock skew, a counter reset or epoch move, an int64 wrap, a float `delta`, a version as a
number. It builds every answer itself, never through the library, so a library bug cannot make
both sides agree. No Home Assistant of its own.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import math
import secrets
import ssl
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from aiohttp import web

from .web import WebService

REALM = "eGauge Administration"
INT64 = 2**64
INT64_HALF = 2**63
# The vendor's quanta, restated here so the simulator does not lean on the library's table.
QUANTA: Mapping[str, float] = {
    "P": 1,
    "S": 1,
    "var": 1,
    "V": 0.001,
    "I": 0.001,
    "F": 0.001,
    "T": 0.001,
    "h": 0.001,
    "#": 1,
}
SECOND_ROWS = 3600  # 1 s rows kept (volatile: a reboot clears them)
MINUTE_ROWS = 7 * 24 * 60

type Clock = Callable[[], float]
type RateFn = Callable[[float], float]


def wrap64(value: int) -> int:
    """`value` as a signed int64 would hold it."""
    return (value + INT64_HALF) % INT64 - INT64_HALF


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SimUser:
    """A meter user: name, password and token rights (`save`, `ctrl`)."""

    name: str
    password: str
    rights: frozenset[str] = frozenset({"save", "ctrl"})

    @classmethod
    def parse(cls, spec: str) -> SimUser:
        """`NAME:PASSWORD:RIGHTS`, rights comma- or plus-separated (`save,ctrl`, or empty)."""
        name, sep, rest = spec.partition(":")
        password, _, rights = rest.rpartition(":") if rest.count(":") else (rest, "", "")
        if not name or not sep or not password:
            msg = f"expected USER:PASSWORD:RIGHTS, got {spec!r}"
            raise ValueError(msg)
        chosen = frozenset(r for r in rights.replace("+", ",").split(",") if r and r != "none")
        unknown = chosen - {"save", "ctrl"}
        if unknown:
            msg = f"rights are save and ctrl, got {', '.join(sorted(unknown))}"
            raise ValueError(msg)
        return cls(name, password, chosen)


DEFAULT_USERS = (
    SimUser("owner", "owner-secret", frozenset({"save", "ctrl"})),
    SimUser("viewer", "viewer-secret", frozenset()),
)


@dataclass
class SimRegister:
    """A physical register (with a rate function) or a virtual one (with a formula)."""

    name: str
    type: str
    rate: RateFn | None = None
    formula: tuple[tuple[int, str], ...] = ()

    @property
    def virtual(self) -> bool:
        """Computed from other registers."""
        return self.rate is None

    def formula_text(self) -> str:
        """The formula as the meter writes it: `+"Grid"+"Solar"`."""
        return "".join(f'{"+" if sign > 0 else "-"}"{name}"' for sign, name in self.formula)


def _sine(mean: float, amplitude: float, period: float, phase: float = 0.0) -> RateFn:
    return lambda t: mean + amplitude * math.sin(2 * math.pi * (t + phase) / period)


def solar(t: float) -> float:
    """A solar array: a 900 s "day" whose half is dark, peaking at 4 kW."""
    return max(0.0, 4000.0 * math.sin(2 * math.pi * (t % 900) / 900))


def house(t: float) -> float:
    """The house's own load (800 to 2200 W)."""
    return 1500.0 + 700.0 * math.sin(2 * math.pi * t / 317)


def hvac(t: float) -> float:
    """An HVAC circuit whose CT is installed backwards: always negative."""
    return -(900.0 + 300.0 * math.sin(2 * math.pi * t / 211))


def grid(t: float) -> float:
    """Net grid power: import positive, export negative (changes sign with the sun)."""
    return house(t) - hvac(t) - solar(t)


def default_registers() -> list[SimRegister]:
    """A typical installation: grid, solar, a reversed load, line and ambient sensors."""
    return [
        SimRegister("use", "P", formula=((1, "Grid"), (1, "Solar"))),
        SimRegister("gen", "P", formula=((1, "Solar"),)),
        SimRegister("Grid", "P", grid),
        SimRegister("Solar", "P", solar),
        SimRegister("HVAC", "P", hvac),
        SimRegister("Grid*", "S", lambda t: abs(grid(t)) * 1.05 + 40),
        SimRegister("L1 Voltage", "V", _sine(120.4, 1.2, 60)),
        SimRegister("L1 Current", "I", lambda t: abs(grid(t)) / 240),
        SimRegister("Frequency", "F", _sine(60.0, 0.02, 45)),
        SimRegister("Temperature", "T", _sine(21.5, 2.0, 3600)),
        SimRegister("Humidity", "h", _sine(45.0, 5.0, 1800)),
    ]


def bench_registers(count: int) -> list[SimRegister]:
    """`count` registers for benchmarks: two virtual totals over power circuits."""
    physical = [
        SimRegister(f"Circuit {n}", "P", _sine(300.0 + n, 200.0, 60 + n)) for n in range(count - 2)
    ]
    total = tuple((1, r.name) for r in physical)
    return [SimRegister("use", "P", formula=total), SimRegister("gen", "P", formula=()), *physical]


@dataclass
class Slop:
    """A long operation behind a token: one step per status poll."""

    token: str
    steps: list[str]
    result: object = None
    error: str | None = None
    args: list[str] = field(default_factory=list)
    position: int = 0
    started: float = 0.0
    on_done: Callable[[], None] | None = None

    @property
    def done(self) -> bool:
        """Finished, well or badly."""
        return self.error is not None or self.position >= len(self.steps)

    def advance(self) -> None:
        """One poll's worth of progress; the completion hook runs once."""
        if self.done:
            return
        self.position += 1
        if self.position >= len(self.steps) and self.on_done is not None:
            self.on_done()


@dataclass
class Faults:
    """Switches that make the meter misbehave the way real ones do."""

    unknown_type: str | None = None  # adds register "Mystery" with this type code
    delta_float: bool = False  # `delta` as 1.0 instead of 1
    version_as_number: bool = False  # `update list` gives 4.7 instead of "4.7"
    nonce_status: int | None = None  # /auth/unauthorized answers this instead of 401
    expired_nonces: int = 0  # the next N logins are answered "Nonce expired."


class SimEgauge:
    """The meter's state: registers and counters on its own clock, users, tokens, operations.

    `clock` is real time by default; tests pass their own and move it. All the meter's time
    stamps are `clock() + skew` (its clock may be off); nonce and token lifetimes run on
    `clock()` alone so a skewed meter still logs people in.
    """

    def __init__(
        self,
        *,
        users: Sequence[SimUser] = DEFAULT_USERS,
        registers: Sequence[SimRegister] | None = None,
        clock: Clock = time.time,
        prehistory: int = 3600,
        nonce_lifetime: float = 60.0,
        token_lifetime: int = 600,
        reboot_seconds: float = 20.0,
        reboot_delay: float = 1.0,
        serial: str = "G10400",
        hostname: str = "eGauge42",
        model: str = "EG4030",
        firmware: str = "4.6.2",
        latest_firmware: str = "4.7",
    ) -> None:
        self.users = {user.name: user for user in users}
        self.clock = clock
        self.skew = 0.0
        self.faults = Faults()
        self.nonce_lifetime = nonce_lifetime
        self.token_lifetime = token_lifetime
        self.reboot_seconds = reboot_seconds
        self.reboot_delay = reboot_delay
        self.serial, self.hostname, self.model = serial, hostname, model
        self.firmware, self.latest_firmware = firmware, latest_firmware
        self.registers = list(registers if registers is not None else default_registers())
        self.physical = [r for r in self.registers if not r.virtual]
        self._key = secrets.token_bytes(16)
        self._nonces: dict[str, float] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.slops: dict[str, Slop] = {}
        self.logins = 0
        self.requests: list[tuple[str, str, str]] = []
        self.commands: list[tuple[str, object]] = []
        self._down_from: float | None = None
        self._down_until = -math.inf
        self.boots = 0
        self._booted = clock()
        now = int(self.now())
        self._t = now - prehistory
        self.epoch = self._t
        self._raw = [0] * len(self.physical)
        self._base = [0] * len(self.physical)
        self.positive = [0] * len(self.physical)
        self.negative = [0] * len(self.physical)
        self._seconds: deque[tuple[int, tuple[int, ...]]] = deque(maxlen=SECOND_ROWS)
        self._minutes: deque[tuple[int, tuple[int, ...]]] = deque(maxlen=MINUTE_ROWS)
        self._record()
        self.sync()

    # Time and counters -----------------------------------------------------------------------

    def now(self) -> float:
        """The meter's clock."""
        return self.clock() + self.skew

    def sync(self) -> None:
        """Integrate every physical register up to the meter's current second."""
        target = math.floor(self.now())
        while self._t < target:
            for index, register in enumerate(self.physical):
                assert register.rate is not None
                step = round(register.rate(self._t) / QUANTA.get(register.type, 1))
                self._raw[index] += step
                if step >= 0:
                    self.positive[index] += step
                else:
                    self.negative[index] -= step
            self._t += 1
            self._record()

    def _record(self) -> None:
        row = tuple(self._raw)
        self._seconds.append((self._t, row))
        if self._t % 60 == 0:
            self._minutes.append((self._t, row))

    def _raw_at(self, t: int) -> tuple[int, ...] | None:
        """Raw counters of the row at (or just before) meter second `t`; None if too old."""
        if t >= self._t:
            return tuple(self._raw)
        if self._seconds and t >= self._seconds[0][0]:
            return self._seconds[t - self._seconds[0][0]][1]
        minute = t - t % 60
        if self._minutes and minute >= self._minutes[0][0]:
            index = (minute - self._minutes[0][0]) // 60
            if index < len(self._minutes):
                return self._minutes[index][1]
            return self._minutes[-1][1]
        return None

    def _granularity(self, t: int) -> int:
        return 1 if self._seconds and t >= self._seconds[0][0] else 60

    def counters(self, raw_row: Sequence[int], *, raw: bool = False) -> dict[str, int]:
        """Counters of every register (virtual ones too) for one raw row, as reported."""
        values = {
            register.name: wrap64(value if raw else value - base)
            for register, value, base in zip(self.physical, raw_row, self._base, strict=False)
        }
        for register in self.registers:
            if register.virtual:
                values[register.name] = wrap64(
                    sum(sign * values[name] for sign, name in register.formula)
                )
        return values

    def rates(self) -> dict[str, float]:
        """Current rates of every register in its physical unit."""
        t = self.now()
        values: dict[str, float] = {}
        for register in self.physical:
            assert register.rate is not None
            values[register.name] = register.rate(t)
        for register in self.registers:
            if register.virtual:
                values[register.name] = sum(sign * values[name] for sign, name in register.formula)
        return values

    def reported(self) -> dict[str, int]:
        """The counters a `time=now` request would show right now."""
        self.sync()
        return self.counters(self._raw)

    def set_rate(self, name: str, rate: float | RateFn) -> None:
        """Make a physical register follow `rate` (a constant or a function of meter time)."""
        self.sync()
        register = next(r for r in self.physical if r.name == name)
        register.rate = rate if callable(rate) else (lambda _t, value=float(rate): value)

    def truth(self, name: str) -> tuple[float, float]:
        """(imported, exported) of a physical power register in kWh since the start."""
        self.sync()
        index = next(i for i, r in enumerate(self.physical) if r.name == name)
        return self.positive[index] / 3.6e6, self.negative[index] / 3.6e6

    def move_epoch(self, epoch: int | None = None) -> None:
        """Move the database epoch: counters restart from zero there (a reset)."""
        self.sync()
        self.epoch = int(self.now()) if epoch is None else epoch
        self._base = list(self._raw)

    def zero(self) -> None:
        """`db zero`: every counter restarts from zero (the epoch stays)."""
        self.sync()
        self._base = list(self._raw)

    def wrap_soon(self, name: str, counts_left: int) -> None:
        """Put register `name` `counts_left` quanta below the int64 maximum, so it wraps."""
        self.sync()
        index = next(i for i, r in enumerate(self.physical) if r.name == name)
        self._base[index] = self._raw[index] - (INT64_HALF - 1 - counts_left)

    # Power -----------------------------------------------------------------------------------

    def reboot(self, delay: float | None = None) -> None:
        """Go down after `delay` s for `reboot_seconds`: every token is revoked."""
        start = self.clock() + (self.reboot_delay if delay is None else delay)
        self._down_from = start
        self._down_until = start + self.reboot_seconds

    @property
    def down(self) -> bool:
        """Rebooting: every request gets 503."""
        now = self.clock()
        if self._down_from is not None and now < self._down_from:
            return False  # the reboot is still a moment away (the answer gets out first)
        if self._down_from is not None:
            self._down_from = None
            self.tokens.clear()
            self._nonces.clear()
            self.slops.clear()
            self._seconds.clear()  # 1 s rows live in volatile memory
            self.boots += 1
            self._booted = self._down_until
        return now < self._down_until

    # Login -----------------------------------------------------------------------------------

    def challenge(self) -> dict[str, str]:
        """A 401 body with a fresh nonce."""
        now = self.clock()
        self._nonces = {n: t for n, t in self._nonces.items() if now - t < self.nonce_lifetime}
        nonce = _b64url(secrets.token_bytes(24))
        self._nonces[nonce] = now
        return {"rlm": REALM, "nnc": nonce, "error": "Authentication required."}

    def login(self, body: object, *, https: bool) -> tuple[int, dict[str, object]]:
        """/auth/login: a digest (or, over HTTPS, password) login."""
        if not isinstance(body, dict) or not isinstance(body.get("usr"), str):
            return 400, {"error": "Bad Request"}
        user = self.users.get(body["usr"])
        if "pwd" in body and "hash" not in body:
            if not https:
                return 200, {"error": "Password login requires HTTPS."}
            if user is None or body["pwd"] != user.password:
                return 200, {"error": "Authentication failed."}
            return 200, {"jwt": self._issue(user)}
        fields = ("rlm", "nnc", "cnnc", "hash")
        if not all(isinstance(body.get(key), str) for key in fields):
            return 400, {"error": "Bad Request"}
        issued = self._nonces.pop(body["nnc"], None)
        if self.faults.expired_nonces > 0:
            self.faults.expired_nonces -= 1
            issued = None
        if issued is None or self.clock() - issued >= self.nonce_lifetime:
            return 200, {"error": "Nonce expired."}
        if user is None or body["rlm"] != REALM:
            return 200, {"error": "Authentication failed."}
        ha1 = hashlib.md5(f"{user.name}:{REALM}:{user.password}".encode()).hexdigest()
        expected = hashlib.md5(f"{ha1}:{body['nnc']}:{body['cnnc']}".encode()).hexdigest()
        if not hmac.compare_digest(expected, body["hash"]):
            return 200, {"error": "Authentication failed."}
        return 200, {"jwt": self._issue(user)}

    def _issue(self, user: SimUser) -> str:
        header = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        claims = {
            "rlm": REALM,
            "usr": user.name,
            "prv": 0,
            "beg": int(self.now()),
            "ltm": self.token_lifetime,
            "gen": self.logins,
        }
        payload = _b64url(json.dumps(claims).encode())
        signature = _b64url(hmac.new(self._key, f"{header}.{payload}".encode(), "sha256").digest())
        jwt = f"{header}.{payload}.{signature}"
        self.tokens[jwt] = (user.name, self.clock() + self.token_lifetime)
        self.logins += 1
        return jwt

    def user_of(self, authorization: str | None) -> SimUser | None:
        """The user of a valid Bearer token, or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        entry = self.tokens.get(authorization[len("Bearer ") :])
        if entry is None or self.clock() >= entry[1]:
            return None
        return self.users.get(entry[0])

    def expire_tokens(self) -> None:
        """Revoke every token (what an expiry or a reboot does)."""
        self.tokens.clear()

    # /register ------------------------------------------------------------------------------

    def listed(self) -> list[tuple[int, SimRegister, int | None]]:
        """(idx, register, did) in index order; the unknown-type fault adds one register."""
        result = []
        did = 0
        registers = list(self.registers)
        if self.faults.unknown_type is not None:
            registers.append(SimRegister("Mystery", self.faults.unknown_type, lambda _t: 7.0))
        for idx, register in enumerate(registers):
            result.append((idx, register, None if register.virtual else did))
            if not register.virtual:
                did += 1
        return result

    def register_answer(self, query: Mapping[str, str]) -> dict[str, object]:
        """The /register answer for a query (reg, rate, time, virtual, delta, raw, max-rows, if)."""
        self.sync()
        condition = query.get("if")
        if (
            condition is not None
            and condition.startswith("epoch==")
            and condition[len("epoch==") :] != str(self.epoch)
        ):
            return {"current": str(self.epoch), "result": False}
        listed = self.listed()
        selected = select_registers(query.get("reg", "all"), [idx for idx, _, _ in listed])
        virtual = query.get("virtual")
        if virtual not in ("value", "formula"):
            listed = [entry for entry in listed if not entry[1].virtual]
        listed = [entry for entry in listed if entry[0] in selected]
        answer: dict[str, object] = {"ts": f"{self.now():.3f}"}
        rates = self.rates() if "rate" in query else {}
        if rates and self.faults.unknown_type is not None:
            rates["Mystery"] = 7.0
        entries = []
        for idx, register, did in listed:
            entry: dict[str, object] = {"name": register.name, "type": register.type, "idx": idx}
            if did is not None:
                entry["did"] = did
            if register.virtual and virtual == "formula":
                entry["formula"] = register.formula_text()
            if "rate" in query:
                entry["rate"] = round(rates[register.name], 6)
            entries.append(entry)
        if query.get("reg") != "none":
            answer["registers"] = entries
        if "time" in query:
            columns = [r for _, r, _ in listed if not r.virtual or virtual == "value"]
            answer["ranges"] = self._ranges(query, columns)
        return answer

    def _ranges(self, query: Mapping[str, str], columns: list[SimRegister]) -> list[object]:
        now = self.now()
        limit = int(query.get("max-rows", "0") or 0) or None
        raw = "raw" in query
        delta = "delta" in query
        ranges: list[object] = []
        previous: list[int] | None = None
        count = 0
        for part in query["time"].split(","):
            times = self._range_times(part, now)
            rows: list[list[str]] = []
            first_ts: float | None = None
            step = 0
            for t, exact in times:
                if limit is not None and count >= limit:
                    break
                raw_row = tuple(self._raw) if exact else self._raw_at(int(t))
                if raw_row is None:
                    break
                values = self.counters(raw_row, raw=raw)
                row = [values.get(r.name, 0) for r in columns]  # "Mystery" counts nothing
                if first_ts is None:
                    first_ts = t
                if delta and previous is not None:
                    rows.append([str(wrap64(v - p)) for v, p in zip(row, previous, strict=False)])
                else:
                    rows.append([str(v) for v in row])
                previous = row
                count += 1
            if len(times) > 1:
                step = int(times[0][0] - times[1][0])
            elif times:
                step = self._granularity(int(times[0][0]))
            if first_ts is not None:
                ts = f"{first_ts:.3f}" if times and times[0][1] else str(int(first_ts))
                ranges.append(
                    {
                        "ts": ts,
                        "delta": float(step) if self.faults.delta_float else step,
                        "rows": rows,
                    }
                )
        return ranges

    def _range_times(self, part: str, now: float) -> list[tuple[float, bool]]:
        """Row times of one range, youngest first; `True` marks the exact current row."""
        pieces = part.split(":")
        if len(pieces) == 1:
            t = time_point(pieces[0], now, self.epoch)
            if t >= math.floor(now):
                return [(now, True)]
            return [(t - t % self._granularity(int(t)), False)]
        if len(pieces) != 3:
            raise ValueError(part)
        start = time_point(pieces[0], now, self.epoch)
        stop = min(time_point(pieces[2], now, self.epoch), math.floor(now))
        step = int(float(pieces[1])) if pieces[1] else self._granularity(int(stop))
        if step <= 0:
            raise ValueError(part)
        stop -= stop % step
        result: list[tuple[float, bool]] = []
        t = stop
        while t >= start and len(result) < 100_000:
            result.append((float(t), False))
            t -= step
        return result

    # /local ----------------------------------------------------------------------------------

    def local_answer(self, query: Mapping[str, str]) -> dict[str, object]:
        """Sensor-level values: line voltages and frequency, CT currents, energy pairs."""
        self.sync()
        t = self.now()
        rates = self.rates()
        volts = [rates.get("L1 Voltage", 120.0), 120.0 + 0.8 * math.sin(t / 50)]
        amps = [
            abs(rates.get("Grid", 0.0)) / 240,
            abs(rates.get("Solar", 0.0)) / 240,
            abs(rates.get("HVAC", 0.0)) / 240,
        ]
        freq = rates.get("Frequency", 60.0)
        sections = [s for s in ("values", "energy", "apparent", "stats") if s in query] or [
            "values"
        ]
        metrics = [m for m in ("rate", "cumul", "type") if m in query] or ["rate", "type"]
        measures = [m for m in ("normal", "mean", "freq") if m in query] or [
            "normal",
            "mean",
            "freq",
        ]

        def sensor(normal: float, frequency: float, code: str) -> dict[str, object]:
            item: dict[str, object] = {}
            if "rate" in metrics:
                rate = {"normal": ("n", normal), "mean": ("m", 0.0), "freq": ("f", frequency)}
                item["rate"] = {
                    key: round(value, 6) for m, (key, value) in rate.items() if m in measures
                }
            if "type" in metrics:
                item["type"] = code
            if "cumul" in metrics:
                item["cumul"] = {"n": str(int(normal * 1000 * (t - self.epoch)))}
            return item

        answer: dict[str, object] = {"ts": f"{t:.6f}", "ctid": "idle"}
        if "values" in sections:
            values = {
                "L1": sensor(volts[0], freq, "V"),
                "L2": sensor(volts[1], freq, "V"),
                "L1-L2": sensor(volts[0] + volts[1], freq, "V"),
            }
            for n, current in enumerate(amps, 1):
                values[f"S{n}"] = sensor(current, 0.0, "I")
            answer["values"] = values
        if "energy" in sections:
            answer["energy"] = {
                f"S{n}*L1": {"rate": round(a * volts[0], 6)} for n, a in enumerate(amps, 1)
            }
        if "apparent" in sections:
            answer["apparent"] = {
                f"S{n}*L1": {"rate": round(a * volts[0] * 1.05, 6)} for n, a in enumerate(amps, 1)
            }
        if "stats" in sections:
            answer["stats"] = {"dt_overflow": 0, "dma_late": 0, "ring_buffer_overflows": 0}
        return answer

    # /sys and /config -----------------------------------------------------------------------

    def tree_value(self, path: str) -> object:
        """The `result` of a /sys or /config path; KeyError when there is none."""
        values: dict[str, Callable[[], object]] = {
            "/sys/sn": lambda: self.serial,
            "/sys/model": lambda: self.model,
            "/sys/time": lambda: f"{self.now():.6f}",
            "/sys/uptime": lambda: round(self.clock() - self._booted, 3),
            "/sys/reboot": lambda: False,
            "/sys/boot/reason": lambda: "software reset" if self.boots else "power on",
            "/sys/db/max-registers": lambda: 64,
            "/sys/version": lambda: {
                "firmware": self.firmware,
                "hardware": "3EA",
                "kernel": "5.15.95+ #47",
            },
            "/sys/version/firmware": lambda: self.firmware,
            "/config/net/hostname": lambda: self.hostname,
            "/config/db/epoch": lambda: str(self.epoch),
        }
        return values[path]()

    # /cmd ------------------------------------------------------------------------------------

    def command(self, name: str, body: object) -> dict[str, object]:
        """Run one /cmd operation; long ones answer with a token."""
        self.commands.append((name, body))
        handler = getattr(self, f"_cmd_{name.replace('-', '_')}", None)
        if handler is None:
            raise KeyError(name)
        result: dict[str, object] = handler(body)
        return result

    def _slop(self, steps: list[str], result: object = None) -> Slop:
        token = secrets.token_hex(16)
        slop = Slop(token, steps, result, started=self.now())
        self.slops[token] = slop
        return slop

    def _cmd_reboot(self, _body: object) -> dict[str, object]:
        self.reboot()
        return {"status": "OK"}

    def _cmd_set_time(self, body: object) -> dict[str, object]:
        if body is None:
            self.skew = 0.0  # NTP brings the clock back
            return {"status": "OK"}
        try:
            when = float(body) if isinstance(body, str) else math.nan
        except ValueError:
            when = math.nan
        if not math.isfinite(when):
            return {"error": "Invalid time."}
        self.sync()
        self.skew = when - self.clock()
        return {"status": "OK"}

    def _cmd_clear(self, body: object) -> dict[str, object]:
        if body not in ("excess", "web_cache"):
            return {"error": "Invalid argument."}
        return {"status": "OK"}

    def _cmd_update(self, body: object) -> dict[str, object]:
        if not isinstance(body, dict) or body.get("target") not in ("fw", "kernel"):
            return {"error": "Invalid argument."}
        latest = self.latest_firmware
        if body.get("action") == "list":
            version: object = float(latest) if self.faults.version_as_number else latest
            return {"version": version, "minimum": "4.1.2"}
        if body.get("action") != "install":
            return {"error": "Invalid argument."}
        wanted = str(body.get("version", latest))
        slop = self._slop(["FW_DOWNLOAD", "CHKSIG", "EXTRACT", "FLASH", "INSTALL", "FINALIZE"])
        if not body.get("force") and _version_key(wanted) <= _version_key(self.firmware):
            slop.error, slop.args = "NOT_NEWER", [wanted, self.firmware]
        else:

            def installed() -> None:
                self.firmware = wanted
                self.reboot()

            slop.on_done = installed
        return {"token": slop.token}

    def _cmd_test_email(self, body: object) -> dict[str, object]:
        if not isinstance(body, dict) or not isinstance(body.get("address"), str):
            return {"error": "Invalid argument."}
        host = body.get("smarthost") or body["address"].partition("@")[2]
        log = f"attempting to send mail through domain {host}\nlooking up {host}/submission\n"
        return {"token": self._slop(["SEND", "SEND"], {"log": log}).token}

    def _cmd_test_remote(self, body: object) -> dict[str, object]:
        if not isinstance(body, dict) or not body.get("address") or not body.get("linktype"):
            return {"error": "Invalid argument."}
        result = {
            "trace": [{"dt": 3.607, "msg": "Detected register `Grid`."}],
            "regs": [{"name": "Grid", "type": "P"}],
        }
        return {"token": self._slop(["CONNECT", "SCAN"], result).token}

    def _cmd_activate(self, body: object) -> dict[str, object]:
        if (
            not isinstance(body, dict)
            or body.get("service") not in ("alert", "push")
            or not body.get("provider")
        ):
            return {"error": "Invalid argument."}
        signup = f"http://www.example-service.com/activate/{secrets.token_hex(8)}"
        return {"token": self._slop(["ACTIVATE"], {"activated": True, "signup": signup}).token}

    def _cmd_cancel(self, body: object) -> dict[str, object]:
        token = body.get("token") if isinstance(body, dict) else None
        slop = self.slops.get(token) if isinstance(token, str) else None
        if slop is None:
            return {"error": "Unknown token."}
        if not slop.done:
            slop.error = "CANCELED"
        return {"status": "OK"}

    def _cmd_db(self, body: object) -> dict[str, object]:
        if not isinstance(body, dict):
            return {"error": "Invalid argument."}
        action = body.get("action")
        if action == "zero":
            self.zero()
        elif action == "restore":
            data = body.get("data")
            try:
                base64.b64decode(data if isinstance(data, str) else "", validate=True)
            except ValueError:
                return {"error": "Invalid backup data."}
            if not data:
                return {"error": "Invalid backup data."}
        elif action != "split":
            return {"error": "Invalid argument."}
        return {"status": "OK"}

    def _cmd_factory_restore(self, _body: object) -> dict[str, object]:
        self.move_epoch()
        self.reboot()
        return {"status": "OK"}

    def _cmd_wlan(self, body: object) -> dict[str, object]:
        if not isinstance(body, dict) or body.get("action") not in ("add", "select", "forget"):
            return {"error": "Invalid argument."}
        return {"status": "OK"}

    def _cmd_homeplug(self, body: object) -> dict[str, object]:
        if not isinstance(body, dict) or body.get("action") != "setpwd" or not body.get("targets"):
            return {"error": "Invalid argument."}
        return {"status": "OK"}

    def status(self, token: str, *, result: bool) -> dict[str, object]:
        """/sys/status/<token>[/result]; every status poll advances the operation one step."""
        slop = self.slops.get(token)
        if slop is None:
            return {"error": "Unknown token."}
        if result:
            if not slop.done:
                return {"error": "Operation in progress."}
            return {"result": slop.result}
        slop.advance()
        status: dict[str, object] = {"done": slop.done, "ts": f"{self.now():.9f}"}
        if slop.error is not None:
            status["error"] = slop.error
        elif not slop.done:
            status["info"] = slop.steps[slop.position]
            status["progress"] = round(slop.position / len(slop.steps), 5)
        if slop.args:
            status["args"] = slop.args
        return {"result": status}


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(c for c in piece if c.isdigit()) or "0"
        parts.append(int(digits))
    return tuple(parts)


def time_point(text: str, now: float, epoch: int) -> float:
    """A time expression: a number, `now` or `epoch`, with optional `+N`/`-N` seconds."""
    text = text.strip().lstrip("+") if text.strip().startswith("+") else text.strip()
    index = 0
    while index < len(text) and (text[index].isalnum() or text[index] == "."):
        index += 1
    head, rest = text[:index], text[index:]
    if head == "now":
        value = float(now)
    elif head == "epoch":
        value = float(epoch)
    else:
        value = float(head)
    while rest:
        sign = 1 if rest[0] == "+" else -1 if rest[0] == "-" else 0
        if sign == 0:
            raise ValueError(text)
        end = 1
        while end < len(rest) and (rest[end].isdigit() or rest[end] == "."):
            end += 1
        value += sign * float(rest[1:end])
        rest = rest[end:]
    return value


def select_registers(spec: str, indices: Iterable[int]) -> set[int]:
    """The `reg` selector: `all`, `none`, `n`, `a:b`, joined with `+` (add) and `-` (remove)."""
    every = set(indices)
    spec = spec.replace(" ", "+")  # a literal `+` arrives as a space when not encoded
    selected: set[int] = set()
    sign = "+"
    token = ""
    for char in spec + "+":
        if char in "+-" and token:
            chosen = every if token == "all" else set() if token == "none" else _span(token)
            selected = selected | chosen if sign == "+" else selected - chosen
            token, sign = "", char
        elif char in "+-":
            sign = char
        else:
            token += char
    return selected & every


def _span(token: str) -> set[int]:
    low, _, high = token.partition(":")
    first = int(low)
    return set(range(first, int(high) + 1)) if high else {first}


# The web service -----------------------------------------------------------------------------


def self_signed_context(directory: Path, host: str = "localhost") -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate, as a new meter has."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    alt = x509.SubjectAlternativeName(
        [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(alt, critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "egauge.crt", directory / "egauge.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


class EgaugeSimulator(WebService):
    """The meter's WebAPI under /api, on HTTP and optionally HTTPS at once."""

    def __init__(self, meter: SimEgauge | None = None) -> None:
        super().__init__()
        self.meter = meter if meter is not None else SimEgauge()
        self.app.router.add_route("*", "/api/{path:.*}", self._handle)
        self._https: tuple[str, int] | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None

    async def start(
        self, http: tuple[str, int] | None = ("127.0.0.1", 0), https: tuple[str, int] | None = None
    ) -> Self:
        """Listen on HTTP and/or HTTPS (port 0 = any free one)."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        if http is not None:
            site = web.TCPSite(self._runner, *http)
            await site.start()
            self._host, self._port = http[0], site.port
        if https is not None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="egauge-sim-")
            context = self_signed_context(Path(self._tempdir.name))
            site = web.TCPSite(self._runner, *https, ssl_context=context)
            await site.start()
            self._https = (https[0], site.port)
        return self

    @property
    def https_host(self) -> str:
        """`host:port` of the HTTPS listener."""
        assert self._https is not None
        return f"{self._https[0]}:{self._https[1]}"

    async def stop(self) -> None:
        """Stop both listeners."""
        await super().stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    async def __aenter__(self) -> Self:
        return await self.start(https=("127.0.0.1", 0))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        meter = self.meter
        path = "/" + request.match_info["path"].rstrip("/")
        meter.requests.append((request.method, path, request.query_string))
        if meter.down:
            return web.Response(status=503, text="Service Unavailable")
        https = request.secure
        if path == "/auth/unauthorized" and meter.faults.nonce_status is not None:
            return web.Response(status=meter.faults.nonce_status, text="Bad Gateway")
        if path == "/auth/login" and request.method == "POST":
            status, answer = meter.login(await _json_body(request), https=https)
            return web.json_response(answer, status=status)
        user = meter.user_of(request.headers.get("Authorization"))
        if user is None:
            return web.json_response(meter.challenge(), status=401)
        if path == "/auth/unauthorized":
            return web.json_response({"status": "OK"})
        if path == "/auth/logout":
            meter.tokens.pop(request.headers["Authorization"][len("Bearer ") :], None)
            return web.json_response({"status": "OK"})
        if path == "/auth/rights":
            return web.json_response({"usr": user.name, "rights": sorted(user.rights)})
        if path.startswith("/cmd/"):
            if "save" not in user.rights:
                return web.json_response(meter.challenge(), status=401)
            if request.method != "POST":
                return web.json_response({"error": "Bad Request"}, status=400)
            body = await _json_body(request) if request.can_read_body else None
            try:
                return web.json_response(meter.command(path[len("/cmd/") :], body))
            except KeyError:
                return web.Response(status=404)
        query = dict(request.query)
        try:
            if path == "/register":
                return web.json_response(meter.register_answer(query))
            if path == "/local":
                return web.json_response(meter.local_answer(query))
        except ValueError:
            return web.json_response({"error": "Bad Request"}, status=400)
        if path == "/sys/status":
            return web.json_response({})
        if path.startswith("/sys/status/"):
            token, _, rest = path[len("/sys/status/") :].partition("/")
            return web.json_response(meter.status(token, result=rest == "result"))
        try:
            return web.json_response({"result": meter.tree_value(path)})
        except KeyError:
            return web.Response(status=404)


async def _json_body(request: web.Request) -> object:
    text = await request.text()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"__invalid__": True}


# Command line --------------------------------------------------------------------------------


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        msg = f"expected HOST:PORT, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return host.strip("[]"), int(port)


def _user(value: str) -> SimUser:
    try:
        return SimUser.parse(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `simulate egauge`."""
    parser.add_argument("--http", type=_listen, metavar="HOST:PORT", help="plain HTTP listener")
    parser.add_argument("--https", type=_listen, metavar="HOST:PORT", help="HTTPS listener")
    parser.add_argument(
        "--user",
        type=_user,
        action="append",
        metavar="U:PASSWORD:RIGHTS",
        help="a user, rights save,ctrl or empty (repeatable; default owner:owner-secret:save,ctrl "
        "and viewer:viewer-secret:)",
    )
    parser.add_argument("--reboot-seconds", type=float, default=20.0, metavar="S")
    parser.add_argument("--token-lifetime", type=int, default=600, metavar="S")
    parser.add_argument("--unknown-type", metavar="CODE", help="add a register of this type code")
    parser.add_argument("--skew", type=float, default=0.0, metavar="S", help="meter clock offset")


async def run(args: argparse.Namespace) -> None:
    """Serve until SIGINT/SIGTERM, printing `egauge http|https HOST:PORT` lines."""
    from .__main__ import _until_stopped

    meter = SimEgauge(
        users=args.user or DEFAULT_USERS,
        reboot_seconds=args.reboot_seconds,
        token_lifetime=args.token_lifetime,
    )
    meter.skew = args.skew
    meter.faults.unknown_type = args.unknown_type
    simulator = EgaugeSimulator(meter)
    http = args.http if args.http is not None or args.https is not None else ("127.0.0.1", 8780)
    try:
        await simulator.start(http=http, https=args.https)
        if http is not None:
            print(f"egauge http {simulator.host}")
        if args.https is not None:
            print(f"egauge https {simulator.https_host}")
        sys.stdout.flush()
        await _until_stopped()
    finally:
        await simulator.stop()
