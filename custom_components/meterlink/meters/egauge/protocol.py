"""Sans-IO eGauge WebAPI: URLs and queries out, decoded JSON in, models or typed errors back.

Nothing here does I/O, so every shape a meter (or something pretending to be one) can send is
testable without a network: each parser takes any JSON value and returns a model or raises a
`MeterError`. Where the answer is mostly right, one bad value costs that value (a rate that is
not a number becomes None), but an answer whose structure cannot be mapped (a counter row of the
wrong width) is refused as a whole, because guessing columns would publish wrong energy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import (
    InvalidParameterError,
    MeterApiError,
    MeterAuthError,
    MeterCommandError,
    MeterFrameError,
)
from ..http import normalize_host as authority
from ..json import decode as json_decode
from ..json import number as _number
from ..json import quoted
from .models import (
    CommandAnswer,
    EpochMismatch,
    History,
    HistoryRow,
    LocalReading,
    LocalValue,
    OperationStatus,
    Reading,
    Register,
    RegisterValue,
    Rights,
    UpdateOffer,
    Version,
    register_type,
)

API_PREFIX = "/api"
NONCE_EXPIRED = "Nonce expired."
DEFAULT_TOKEN_LIFETIME = 600.0
"""Seconds a JWT lives when its claims do not say (the vendor: "typically about 10 minutes")."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_COUNTER_RE = re.compile(r"-?[0-9]{1,19}")
_TOKEN_RE = re.compile(r"[0-9a-fA-F]{32,128}")
_MAX_TEXT = 200  # characters of a meter's own error text quoted in an exception

INFO_TEXTS: Mapping[str, str] = {
    "ADJUST": "adjusting the database",
    "RESTORE": "restoring the database",
    "SKIP": "skipping data",
    "SPLIT": "splitting a register",
    "ZERO": "zeroing the database",
    "CHKSIG": "checking the signature",
    "FW_DOWNLOAD": "downloading the firmware",
    "KERNEL_DOWNLOAD": "downloading the kernel",
    "SKIN_DOWNLOAD": "downloading the user interface",
    "EXTRACT": "extracting",
    "FINALIZE": "finalizing",
    "FLASH": "writing to flash",
    "INSTALL": "installing",
    "VALIDATE": "validating",
}
ERROR_TEXTS: Mapping[str, str] = {
    "OOM": "the meter ran out of memory",
    "CANCELED": "the operation was cancelled",
    "ALRT": "the alert service could not be activated",
    "PUSH": "the push service could not be activated",
    "SRV": "the service provider could not be reached",
    "BADHDR": "the backup file has a bad header",
    "BADREG": "a register in the request does not exist",
    "BADTS": "a time stamp is invalid",
    "FILE_INVAL": "the file is invalid",
    "FILE_READ_ERR": "the file could not be read",
    "INVAL_INT": "an invalid interval was given",
    "IN_FUTURE": "a time stamp lies in the future",
    "LOCK_FAILED": "the database could not be locked",
    "NOCOMMA": "the file is not comma-separated",
    "NOVERS": "the file has no version",
    "NOT_NET_REG": "the register is not a net register",
    "NO_FIRST_ROW": "the first row is missing",
    "NO_POS_REG": "there is no positive-only register to split into",
    "NO_SECOND_ROW": "the second row is missing",
    "DB_READ_ERR": "the database could not be read",
    "WRITE_FAILED": "writing failed",
    "MAIL_TX_ERR": "the mail could not be sent",
    "BADSIG": "the signature is invalid",
    "DOWNLOAD_FAILED": "the download failed",
    "EXTRACT_FAILED": "extracting failed",
    "FLASH_FAILED": "writing to flash failed",
    "INCOMPATBILE": "the image is not compatible with this meter",  # sic, the vendor's tag
    "INSTALL_FAILED": "the installation failed",
    "INVALID_IMAGE": "the image is invalid",
    "NO_IMAGE": "there is no image",
    "NOT_NEWER": "available version {0} is not newer than the installed version {1}",
    "NOT_SUPPORTED": "the operation is not supported by this meter",
}


@dataclass(frozen=True, slots=True)
class Challenge:
    """The realm and nonce of a 401 answer, for the digest login."""

    realm: str
    nonce: str


@dataclass(frozen=True, slots=True)
class Token:
    """A JWT and how many seconds it lives from the moment it was received."""

    jwt: str
    lifetime: float


# Decoding -----------------------------------------------------------------------------------


def decode(body: bytes | str) -> object:
    """The JSON value of an answer, or MeterFrameError (the library's one decoder)."""
    value: object = json_decode(body)
    return value


def _object(document: object, what: str) -> Mapping[str, object]:
    if not isinstance(document, dict):
        msg = f"the answer of {what} is not a JSON object"
        raise MeterFrameError(msg)
    return document


def _text(value: object) -> str:
    return quoted(value, _MAX_TEXT)


def _error_of(document: Mapping[str, object]) -> str | None:
    error = document.get("error")
    if error is None or error == "":
        return None
    return _text(error)


def _timestamp(value: object, what: str) -> float:
    number = _number(value)
    if number is None:
        msg = f"{what} has no valid time stamp"
        raise MeterFrameError(msg)
    return number


def _counter(value: object) -> int | None:
    """A counter: a decimal int64 string (a JSON integer is accepted too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _COUNTER_RE.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if _INT64_MIN <= number <= _INT64_MAX else None


# Hosts and URLs ------------------------------------------------------------------------------


def normalize_host(host: str) -> str:
    """`host`, `host:port`, an IPv6 literal or a pasted `https://host/api` as the authority."""
    text = host.strip()
    if text.lower().startswith("https://"):
        text = text[len("https://") :]
    text = text.rstrip("/")
    if text.lower().endswith(API_PREFIX):
        text = text[: -len(API_PREFIX)]
    return authority(text)


def base_url(host: str, *, https: bool) -> str:
    """`https://host/api` (or http for eGauge2 and EG30xx meters, which have no HTTPS)."""
    return f"{'https' if https else 'http'}://{normalize_host(host)}{API_PREFIX}"


# Login ---------------------------------------------------------------------------------------


def new_cnonce() -> str:
    """A client nonce: 32 random hex digits (the meter accepts any length)."""
    return secrets.token_hex(16)


def login_hash(user: str, realm: str, password: str, nonce: str, cnonce: str) -> str:
    """`md5(md5(usr:rlm:pwd):nnc:cnnc)`: proves the password without sending it."""
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()
    return hashlib.md5(f"{ha1}:{nonce}:{cnonce}".encode(), usedforsecurity=False).hexdigest()


def login_body(user: str, password: str, challenge: Challenge, cnonce: str) -> dict[str, str]:
    """The digest login request of /auth/login."""
    digest = login_hash(user, challenge.realm, password, challenge.nonce, cnonce)
    return {
        "rlm": challenge.realm,
        "usr": user,
        "nnc": challenge.nonce,
        "cnnc": cnonce,
        "hash": digest,
    }


def parse_challenge(document: object) -> Challenge:
    """The `{rlm, nnc}` of a 401 answer."""
    answer = _object(document, "/auth/unauthorized")
    realm, nonce = answer.get("rlm"), answer.get("nnc")
    if not isinstance(realm, str) or not isinstance(nonce, str) or not nonce:
        msg = "the meter's 401 answer carries no realm and nonce"
        raise MeterFrameError(msg)
    return Challenge(realm, nonce)


def parse_login(document: object) -> Token | None:
    """The token of a login answer; None when the nonce expired (fetch a new one and retry).

    Any other `error` means the meter refused the username or password.
    """
    answer = _object(document, "/auth/login")
    error = _error_of(answer)
    jwt = answer.get("jwt")
    if isinstance(jwt, str) and jwt and error is None:
        return Token(jwt, jwt_lifetime(jwt))
    if error == NONCE_EXPIRED:
        return None
    if error is not None:
        msg = f"the meter refused the login: {error}"
        raise MeterAuthError(msg)
    msg = "the login answer has neither a token nor an error"
    raise MeterFrameError(msg)


def jwt_lifetime(jwt: str) -> float:
    """Seconds the token is valid after it was issued: its `ltm` claim (600 s if unreadable).

    The lifetime is used instead of comparing `beg + ltm` with our clock, so a meter whose
    clock is off cannot make every token look expired (or immortal).
    """
    parts = jwt.split(".")
    if len(parts) != 3:
        return DEFAULT_TOKEN_LIFETIME
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except ValueError, binascii.Error, UnicodeError, RecursionError:
        return DEFAULT_TOKEN_LIFETIME
    lifetime = _number(claims.get("ltm")) if isinstance(claims, dict) else None
    if lifetime is None or not 0 < lifetime <= 86400:
        return DEFAULT_TOKEN_LIFETIME
    return lifetime


def parse_rights(document: object) -> Rights:
    """/auth/rights: the user and their rights (unknown rights are kept, not refused)."""
    answer = _object(document, "/auth/rights")
    rights = answer.get("rights")
    if not isinstance(rights, list):
        msg = "the rights answer has no list of rights"
        raise MeterFrameError(msg)
    user = answer.get("usr")
    return Rights(
        user if isinstance(user, str) else "", frozenset(r for r in rights if isinstance(r, str))
    )


# /sys and /config ----------------------------------------------------------------------------


def parse_result(document: object, what: str) -> object:
    """The `result` of a /sys or /config answer; an `error` there is the meter's refusal."""
    answer = _object(document, what)
    error = _error_of(answer)
    if error is not None:
        msg = f"{what}: {error}"
        raise MeterApiError(msg)
    if "result" not in answer:
        msg = f"the answer of {what} has no result"
        raise MeterFrameError(msg)
    return answer["result"]


def parse_text(document: object, what: str) -> str:
    """A string result (serial number, model, hostname, epoch)."""
    value = parse_result(document, what)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        msg = f"the answer of {what} is not text"
        raise MeterFrameError(msg)
    return str(value)


def parse_version(document: object) -> Version:
    """/sys/version."""
    value = parse_result(document, "/sys/version")
    if not isinstance(value, dict) or not isinstance(value.get("firmware"), str | int | float):
        msg = "the answer of /sys/version has no firmware version"
        raise MeterFrameError(msg)

    def optional(key: str) -> str | None:
        item = value.get(key)
        return None if item is None else str(item)

    return Version(str(value["firmware"]), optional("hardware"), optional("kernel"))


# /register -----------------------------------------------------------------------------------


def poll_query(
    epoch: str | None = None, ranges: Sequence[tuple[float, float, float]] | None = None
) -> dict[str, str]:
    """Rates and counters of every register, virtual ones included, in one request.

    With `epoch` the meter answers only while the counters' epoch is unchanged, so a moved epoch
    (a reset) is noticed in the same request instead of being published as negative energy.
    With `ranges` (youngest first) the same answer carries the history rows since the last
    poll; its first row is the current counter row.
    """
    query = {"rate": "", "time": "now" if not ranges else time_ranges(ranges), "virtual": "value"}
    if epoch is not None:
        query["if"] = f"epoch=={epoch}"
    return query


def time_ranges(ranges: Sequence[tuple[float, float, float]]) -> str:
    """`start:step:stop,...` for whole seconds, each range checked; +inf is the meter's `now`."""
    if not ranges:
        msg = "at least one time range is needed"
        raise InvalidParameterError(msg)
    parts = []
    for start, step, stop in ranges:
        if math.isnan(start + step + stop) or step <= 0 or stop < start or start == -math.inf:
            msg = "a time range is start <= stop with a positive step"
            raise InvalidParameterError(msg)
        if not math.isfinite(step) or (start == math.inf and stop != math.inf):
            msg = "a time range is start <= stop with a positive step"
            raise InvalidParameterError(msg)
        parts.append(":".join(_time_point(x) for x in (start, step, stop)))
    return ",".join(parts)


def _time_point(value: float) -> str:
    return "now" if value == math.inf else f"{value:.0f}"


def history_query(
    ranges: Sequence[tuple[float, float, float]],
    *,
    delta: bool = False,
    max_rows: int | None = None,
    epoch: str | None = None,
) -> dict[str, str]:
    """Counter rows for `(start, step, stop)` ranges, youngest row first within each range."""
    query = {"time": time_ranges(ranges), "virtual": "value"}
    if delta:
        query["delta"] = ""
    if max_rows is not None:
        if max_rows < 1:
            msg = "max-rows is at least 1"
            raise InvalidParameterError(msg)
        query["max-rows"] = str(max_rows)
    if epoch is not None:
        query["if"] = f"epoch=={epoch}"
    return query


def _condition(answer: Mapping[str, object]) -> EpochMismatch | None:
    if answer.get("result") is False and "registers" not in answer:
        return EpochMismatch(_text(answer.get("current", "")))
    return None


def _registers(answer: Mapping[str, object]) -> list[tuple[Register, object]]:
    """Registers in index order, each with its raw `rate` member (or None)."""
    items = answer.get("registers", [])
    if not isinstance(items, list):
        msg = "the register list is not a list"
        raise MeterFrameError(msg)
    result: list[tuple[Register, object]] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            msg = "a register entry is not an object"
            raise MeterFrameError(msg)
        name, code, idx = item.get("name"), item.get("type"), item.get("idx")
        if not isinstance(name, str) or not isinstance(code, str):
            msg = "a register entry has no name or type"
            raise MeterFrameError(msg)
        if isinstance(idx, bool) or not isinstance(idx, int) or name in seen:
            msg = f"register {_text(name)!r} has no index of its own"
            raise MeterFrameError(msg)
        seen.add(name)
        did = item.get("did")
        formula = item.get("formula")
        register = Register(
            name,
            register_type(code),
            idx,
            did if isinstance(did, int) and not isinstance(did, bool) else None,
            formula if isinstance(formula, str) else None,
        )
        result.append((register, item.get("rate")))
    result.sort(key=lambda pair: pair[0].idx)
    return result


def _columns(registers: Iterable[Register], virtual_values: bool) -> list[Register]:
    """The registers that have a column in counter rows (physical only, unless virtual=value)."""
    return [r for r in registers if virtual_values or not r.virtual]


@dataclass(frozen=True, slots=True)
class _Range:
    ts: float
    delta: float
    rows: list[list[object]]


def _ranges(answer: Mapping[str, object], width: int) -> list[_Range]:
    items = answer.get("ranges", [])
    if not isinstance(items, list):
        msg = "the ranges are not a list"
        raise MeterFrameError(msg)
    result = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("rows"), list):
            msg = "a range has no rows"
            raise MeterFrameError(msg)
        rows = item["rows"]
        if any(not isinstance(row, list) or len(row) != width for row in rows):
            msg = f"a counter row does not have one value for each of {width} registers"
            raise MeterFrameError(msg)
        step = _number(item.get("delta", 0)) or 0.0
        if len(rows) > 1 and step <= 0:
            msg = "a range of several rows has no positive time step"
            raise MeterFrameError(msg)
        result.append(_Range(_timestamp(item.get("ts"), "a range"), step, rows))
    return result


def parse_registers(document: object, *, virtual_values: bool = True) -> Reading | EpochMismatch:
    """A /register answer (rates and/or the counters of `time=now`) as one reading.

    `virtual_values` says whether the request had `virtual=value` (then virtual registers have
    columns in the counter rows too).
    """
    answer = _object(document, "/register")
    mismatch = _condition(answer)
    if mismatch is not None:
        return mismatch
    pairs = _registers(answer)
    columns = _columns((register for register, _ in pairs), virtual_values)
    ranges = _ranges(answer, len(columns))
    counters: dict[str, int | None] = {}
    counters_ts = None
    if ranges and ranges[0].rows:
        counters_ts = ranges[0].ts
        row = ranges[0].rows[0]
        counters = {
            register.name: _counter(cell) for register, cell in zip(columns, row, strict=True)
        }
    values = {
        register.name: RegisterValue(register, _number(rate), counters.get(register.name))
        for register, rate in pairs
    }
    return Reading(_timestamp(answer.get("ts"), "the /register answer"), values, counters_ts)


def parse_history(
    document: object, *, virtual_values: bool = True, delta: bool = False
) -> History | EpochMismatch:
    """History rows of every range, youngest first; `delta` rows are decoded to counters.

    With `delta` only the very first row is absolute and every later one (the next range's
    first row too, as the vendor's example shows) is the change from the row before it. A cell
    that is not a counter loses that register from that row and, in delta mode, from every
    later row, because the running sum is broken there.
    """
    answer = _object(document, "/register")
    mismatch = _condition(answer)
    if mismatch is not None:
        return mismatch
    registers = tuple(register for register, _ in _registers(answer))
    columns = _columns(registers, virtual_values)
    rows: dict[float, HistoryRow] = {}
    running: list[int | None] = [None] * len(columns)
    first = True
    for item in _ranges(answer, len(columns)):
        for index, row in enumerate(item.rows):
            cells = [_counter(cell) for cell in row]
            if delta and not first:
                running = [
                    None if old is None or step is None else old + step
                    for old, step in zip(running, cells, strict=False)
                ]
            else:
                running = cells
            first = False
            ts = item.ts - index * item.delta
            counters = {
                register.name: value
                for register, value in zip(columns, running, strict=False)
                if value is not None
            }
            rows.setdefault(ts, HistoryRow(ts, counters))
    ordered = tuple(rows[ts] for ts in sorted(rows, reverse=True))
    return History(registers, ordered)


# /local --------------------------------------------------------------------------------------


def _local_value(item: object) -> LocalValue | None:
    if not isinstance(item, dict):
        return None
    rate = item.get("rate")
    code = item.get("type")
    if isinstance(rate, dict):
        normal, mean, freq = (_number(rate.get(key)) for key in ("n", "m", "f"))
    else:
        normal, mean, freq = _number(rate), None, None
    return LocalValue(code if isinstance(code, str) else None, normal, mean, freq)


def _rates(section: object) -> dict[str, float]:
    if not isinstance(section, dict):
        return {}
    result = {}
    for name, item in section.items():
        rate = _number(item.get("rate")) if isinstance(item, dict) else None
        if rate is not None:
            result[name] = rate
    return result


def parse_local(document: object) -> LocalReading:
    """/local: per-line voltage, CT current and frequency, energy pairs and CTid status."""
    answer = _object(document, "/local")
    values_section = answer.get("values", {})
    if not isinstance(values_section, dict):
        msg = "the /local values are not an object"
        raise MeterFrameError(msg)
    values = {
        name: value
        for name, item in values_section.items()
        if (value := _local_value(item)) is not None
    }
    ctid = answer.get("ctid")
    return LocalReading(
        _timestamp(answer.get("ts"), "the /local answer"),
        values,
        _rates(answer.get("energy")),
        _rates(answer.get("apparent")),
        ctid if isinstance(ctid, str) else None,
    )


# /cmd and /sys/status ------------------------------------------------------------------------


def is_token(value: object) -> bool:
    """A /cmd token: 32 or more hex digits."""
    return isinstance(value, str) and _TOKEN_RE.fullmatch(value) is not None


def parse_command_answer(document: object, what: str) -> CommandAnswer:
    """A /cmd answer: `{status}`, `{token}` or a result object; `{error}` is a refusal."""
    answer = _object(document, what)
    error = _error_of(answer)
    if error is not None:
        msg = f"{what} failed on the meter: {error}"
        raise MeterCommandError(msg)
    token = answer.get("token")
    if token is not None and not is_token(token):
        msg = f"the answer of {what} carries a malformed token"
        raise MeterFrameError(msg)
    return CommandAnswer(dict(answer), token if isinstance(token, str) else None)


def tag_text(tag: str, args: Sequence[str], table: Mapping[str, str]) -> str:
    """A vendor tag in words, with its arguments filled in; an unknown tag stays as it is."""
    template = table.get(tag)
    if template is None:
        return tag if not args else f"{tag} ({', '.join(args)})"
    try:
        return template.format(*args)
    except IndexError:
        return template.replace("{0}", "?").replace("{1}", "?")


def parse_status(document: object) -> OperationStatus:
    """/sys/status/<token>: progress of a long operation, tags translated to text."""
    value = parse_result(document, "/sys/status")
    if not isinstance(value, dict) or not isinstance(value.get("done"), bool):
        msg = "the operation status has no 'done'"
        raise MeterFrameError(msg)
    raw_args = value.get("args", [])
    args = tuple(_text(arg) for arg in raw_args) if isinstance(raw_args, list) else ()
    info = value.get("info")
    error = value.get("error")
    info_tag = _text(info) if isinstance(info, str) and info else None
    error_tag = _text(error) if isinstance(error, str) and error else None
    progress = _number(value.get("progress"))
    return OperationStatus(
        done=value["done"],
        ts=_number(value.get("ts")),
        progress=None if progress is None else min(1.0, max(0.0, progress)),
        info=info_tag,
        error=error_tag,
        args=args,
        info_text=None if info_tag is None else tag_text(info_tag, args, INFO_TEXTS),
        error_text=None if error_tag is None else tag_text(error_tag, args, ERROR_TEXTS),
    )


def parse_update_offer(document: object) -> UpdateOffer:
    """`update list`: the version is a string in the spec but a number in the vendor's sample."""
    answer = parse_command_answer(document, "/cmd/update")
    version = answer.document.get("version")
    if isinstance(version, bool) or not isinstance(version, str | int | float):
        msg = "the update list answer has no version"
        raise MeterFrameError(msg)
    minimum = answer.document.get("minimum")
    return UpdateOffer(str(version), None if minimum is None else str(minimum))
