"""Sans-IO smart-MAC getdata protocol: request URLs in, HTTP answers out as readings or errors.

Nothing here does I/O, so every answer shape a device (or something pretending to be one) can
give is testable without a network. The vendor documents only the happy path; how a wrong PIN
or an overload looks is undocumented, so `interpret_response` classifies by evidence (status,
login pages, error JSON) and only turns a body into values when it is a well-formed reading.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from urllib.parse import urlencode

from ..errors import (
    InvalidParameterError,
    MeterAddressError,
    MeterAuthError,
    MeterFrameError,
    MeterRateLimitError,
    MeterServerError,
)
from ..http import REDACTED, normalize_host, parse_retry_after
from ..http import redact as redact_secrets
from ..json import decode
from .models import SmartMacModel, SmartMacReading

_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_SEPARATOR_KEY_RE = re.compile(r"br\d*")
_PHASE_KEY_RE = re.compile(r"(?:V|A|W|rW|Wh|rWh|PF|Fr)([1-3])")
_PULSE_KEY_RE = re.compile(r"T?Ch\d+")
_EXTENDED_KEY_RE = re.compile(r"(?:rW|rWh|PF|Fr)[1-3]?|rTWh")
_SINGLE_PHASE_ONLY_KEYS = frozenset({"V", "Wh", "rWh", "PF", "Fr"})  # D103 totals lack these
_SHARED_TOTAL_KEYS = frozenset({"A", "W", "rW"})  # D101 values, but also D103 totals

# Words a login page or a refusal carries. "pin" only as a word, so "ping" or "spinner" in an
# unrelated page does not turn a wiring problem into a "wrong PIN".
_AUTH_TEXT_RE = re.compile(
    r"log\s?-?in|sign\s?-?in|unauthori[sz]ed|passw|\bpin\b|pin\s?code|devpass|forbidden"
    r"|access\s+denied|not\s+authori[sz]ed",
    re.IGNORECASE,
)
# Bounded, so a hostile body full of "<title" cannot make the search quadratic.
_TITLE_RE = re.compile(r"<title[^>]{0,100}>(.{0,200}?)</title", re.IGNORECASE | re.DOTALL)
_ERROR_KEY_RE = re.compile(r"err|fail|denied|unauthori|forbidden|auth|login|pass|\bpin", re.I)
_DEVPASS_RE = re.compile(r"(devpass=)[^&\s\"'#]*", re.IGNORECASE)
_MAX_DEVICE_TEXT = 120  # characters of a device's own error message quoted in an exception


def check_device_id(device_id: str) -> str:
    """The device ID as sent, refusing values that would change the query's meaning."""
    text = device_id.strip()
    if not text or not text.isprintable() or any(char.isspace() for char in text):
        msg = "the device ID is the number shown in the device's web page"
        raise InvalidParameterError(msg)
    return text


def check_pin(pin: str) -> str:
    """The PIN as sent; control characters would only ever be a paste accident."""
    if not pin.isprintable():
        msg = "the PIN contains characters that cannot be sent"
        raise InvalidParameterError(msg)
    return pin


def build_query(device_id: str, pin: str, pout: str | None = None) -> list[tuple[str, str]]:
    """The getdata query in the vendor doc's parameter order; `pout` switches the relay."""
    query = [("page", "getdata"), ("devid", check_device_id(device_id)), ("devpass", pin)]
    if pout is not None:
        if pout not in {"0", "1"}:
            msg = "pout is '0' or '1'"
            raise InvalidParameterError(msg)
        query.append(("pout", pout))
    return query


def build_url(host: str, device_id: str, pin: str, pout: str | None = None) -> str:
    """The full request URL. It contains the PIN: pass it through `redact` before showing it."""
    return (
        f"http://{normalize_host(host)}/?{urlencode(build_query(device_id, check_pin(pin), pout))}"
    )


def redact(text: str, pin: str | None = None) -> str:
    """`text` with the PIN removed, both as a `devpass=` parameter and verbatim."""
    return redact_secrets(_DEVPASS_RE.sub(rf"\g<1>{REDACTED}", text), pin)


def parse_number(text: str) -> float | None:
    """A device value string as a float, or None.

    Whitespace is removed first because the device is seen to group thousands with spaces
    ("33 549 075"). Anything else float() would accept by accident (underscores, "nan", "inf",
    non-ASCII digits) is refused, so a garbled value is never shown as a number.
    """
    cleaned = "".join(text.split())
    if not _NUMBER_RE.fullmatch(cleaned):
        return None
    value = float(cleaned)
    return value if math.isfinite(value) else None


def detect_model(keys: Iterable[str], hint: SmartMacModel | None = None) -> SmartMacModel:
    """The model a key set belongs to; `hint` decides only between models the keys allow.

    A D101's getdata keys are not confirmed (MQTT uses unsuffixed keys), and its totals-like `A`
    and `W` collide with the D103 totals, so ambiguous key sets go to the hint when given.
    """
    key_set = set(keys)
    candidates: list[SmartMacModel]
    phases = {match.group(1) for key in key_set if (match := _PHASE_KEY_RE.fullmatch(key))}
    if any(_PULSE_KEY_RE.fullmatch(key) for key in key_set):
        candidates = [SmartMacModel.D105]
    elif phases - {"1"}:
        candidates = [SmartMacModel.D103]
    elif phases:
        candidates = [SmartMacModel.D103, SmartMacModel.D101]  # a single line: either
    elif key_set & _SINGLE_PHASE_ONLY_KEYS:
        candidates = [SmartMacModel.D101]
    elif key_set & _SHARED_TOTAL_KEYS:
        candidates = [SmartMacModel.D101, SmartMacModel.D103]
    else:
        candidates = [SmartMacModel.UNKNOWN]
    if hint is not None and hint in candidates:
        return hint
    return candidates[0]


def is_extended(keys: Iterable[str]) -> bool:
    """Whether the key set is an extended version's (reverse power/energy, PF or frequency)."""
    return any(_EXTENDED_KEY_RE.fullmatch(key) for key in keys)


def parse_reading(body: bytes | str, *, model_hint: SmartMacModel | None = None) -> SmartMacReading:
    """Decode a getdata body into a reading, or MeterFrameError."""
    return reading_from_json(decode(body, lenient=True), model_hint=model_hint)


def reading_from_json(
    document: object, *, model_hint: SmartMacModel | None = None
) -> SmartMacReading:
    """Turn a decoded getdata document into a reading, or MeterFrameError.

    The whole document is refused only when it cannot be a reading at all (not an object, no
    devid, no data object); a single bad entry only costs that entry its place in `values`.
    """
    if not isinstance(document, dict):
        msg = "the answer is not a JSON object"
        raise MeterFrameError(msg)
    devid = _scalar_text(document.get("devid"))
    if devid is None or not devid.strip():
        msg = "the answer carries no devid"
        raise MeterFrameError(msg)
    data = document.get("data")
    if not isinstance(data, dict):
        msg = "the answer carries no data object"
        raise MeterFrameError(msg)
    attributes = {str(key): _as_text(value) for key, value in document.items() if key != "data"}
    values: dict[str, float] = {}
    units: dict[str, str] = {}
    names: dict[str, str] = {}
    extra: dict[str, str] = {}
    for raw_key, entry in data.items():
        key = str(raw_key)
        if isinstance(entry, dict):
            if "value" not in entry and _SEPARATOR_KEY_RE.fullmatch(key):
                continue  # a `br` line break of the device's web page
            if isinstance(unit := entry.get("unit"), str):
                units[key] = unit
            if isinstance(name := entry.get("name"), str) and name.strip():
                names[key] = name.strip()
            raw: object = entry.get("value", "")
        else:
            raw = entry  # flat form, as in the MQTT payload
        number = _number(raw)
        if number is None:
            extra[key] = _as_text(raw)
        else:
            values[key] = number
    keys = [*values, *extra]
    pout = attributes.get("pout")
    return SmartMacReading(
        devid=devid.strip(),
        time=_unix_time(attributes.get("time")),
        pout=pout,
        model=detect_model(keys, model_hint),
        extended=is_extended(keys),
        values=values,
        units=units,
        names=names,
        extra=extra,
        attributes=attributes,
    )


def auth_failure(status: int, body: bytes | str, document: object = None) -> str | None:
    """Why an answer looks like a refused device ID/PIN, or None when it does not.

    The refusal is undocumented; these are the shapes public clients report: HTTP 401/403, a
    login page (title or words), or a JSON error object without a devid. `document` is the
    decoded JSON when the caller already has it.
    """
    if status in {401, 403}:
        return f"HTTP {status}"
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if isinstance(document, dict):
        if _scalar_text(document.get("devid")) is None and any(
            _ERROR_KEY_RE.search(str(key)) for key in document
        ):
            return "an error answer"
        if any(
            isinstance(value, str) and _AUTH_TEXT_RE.search(value)
            for key, value in document.items()
            if _ERROR_KEY_RE.search(str(key))
        ):
            return "an error answer"
        return None
    if isinstance(document, str):
        text = document
    elif document is not None:
        return None
    title = _TITLE_RE.search(text)
    if title and re.search(r"log\s?-?in", title.group(1), re.IGNORECASE):
        return "a login page"
    if _AUTH_TEXT_RE.search(text):
        return "a login or refusal page"
    return None


def interpret_response(
    status: int,
    body: bytes | str,
    *,
    retry_after: str | None = None,
    fallback_retry_after: float | None = None,
    now: float | None = None,
    expected_devid: str | None = None,
    model_hint: SmartMacModel | None = None,
    pin: str | None = None,
) -> SmartMacReading:
    """Classify one HTTP answer to getdata: a reading, or the typed error it amounts to.

    Raises MeterAuthError (refused credentials, whatever the shape), MeterRateLimitError
    (429; `retry_after` from the header, else `fallback_retry_after`), MeterConnectionError
    (5xx), MeterAddressError (another device answered) or MeterFrameError (anything else that
    is not a reading). `pin` is only used to keep it out of error messages.
    """
    if status == 429:
        wait = parse_retry_after(retry_after, now=now)
        if wait is None:
            wait = fallback_retry_after
        msg = "the device refused a request for coming too soon (HTTP 429)"
        raise MeterRateLimitError(msg, retry_after=wait)
    if status >= 500:
        msg = f"the device answered HTTP {status}"
        raise MeterServerError(msg, status=status)
    try:
        document = decode(body, lenient=True)
    except MeterFrameError:
        document = None
        decoded = False
    else:
        decoded = True
    reason = auth_failure(status, body, document)
    if reason is not None:
        detail = _device_message(document, pin)
        msg = f"the device refused the device ID or PIN ({reason}{detail})"
        raise MeterAuthError(msg)
    if not decoded:
        msg = f"the answer (HTTP {status}) is neither a reading nor a login page"
        raise MeterFrameError(msg)
    try:
        reading = reading_from_json(document, model_hint=model_hint)
    except MeterFrameError as err:
        msg = f"{err} (HTTP {status})"
        raise MeterFrameError(msg) from None
    if expected_devid is not None and not _same_devid(reading.devid, expected_devid):
        msg = f"device {reading.devid} answered instead of {expected_devid}"
        raise MeterAddressError(msg)
    return reading


def _same_devid(got: str, expected: str) -> bool:
    """Equal ids, or the same number with other leading zeros ("0172" is "172").

    Compared as ASCII digit strings, never with int(): "²" passes isdigit() but not int(), and
    int() refuses more than 4300 digits, so either would escape as a ValueError.
    """
    wanted = expected.strip()
    if got == wanted:
        return True
    return _is_digits(got) and _is_digits(wanted) and got.lstrip("0") == wanted.lstrip("0")


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _device_message(document: object, pin: str | None) -> str:
    """The device's own error text, quoted briefly and without the PIN, for the user to see."""
    if not isinstance(document, dict):
        return ""
    for key, value in document.items():
        if isinstance(value, str) and _ERROR_KEY_RE.search(str(key)) and value.strip():
            text = " ".join(redact(value, pin).split())[:_MAX_DEVICE_TEXT]
            return f': "{text}"'
    return ""


def _scalar_text(value: object) -> str | None:
    """A top-level scalar as the device's string; numbers are accepted for robustness."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _as_text(value: object) -> str:
    text = _scalar_text(value)
    if text is not None:
        return text
    try:
        return json.dumps(value, ensure_ascii=False)
    except ValueError, TypeError, RecursionError:
        return repr(type(value))


def _number(raw: object) -> float | None:
    if isinstance(raw, str):
        return parse_number(raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            value = float(raw)
        except OverflowError:
            return None
        return value if math.isfinite(value) else None
    return None


def _unix_time(text: str | None) -> int | None:
    if text is None:
        return None
    cleaned = text.strip()
    if not _is_digits(cleaned) or len(cleaned) > 12:
        return None
    return int(cleaned)
