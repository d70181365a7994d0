r"""RFC 5545 recurrence rules as the Trigger API takes them: parsed and checked before sending.

An RRULE trigger condition is a text such as
`DTSTART:20210702T173200\nRRULE:FREQ=DAILY;BYHOUR=0;BYMINUTE=35;BYSECOND=0` (seed 001), and
"all date-times are UTC (no offset)". The gateway evaluates it, so a rule it cannot read would
silently never fire: this module refuses such text up front (RRuleError, an
InvalidParameterError) and writes rules back in one canonical form. Stdlib only.

Checked: one RRULE (or a bare `FREQ=...` line), at most one DTSTART, only UTC date-times
(`YYYYMMDDTHHMMSS` with an optional `Z`; a TZID or an offset is refused), every rule part's
syntax and range, UNTIL xor COUNT, and the RFC's combinations (BYWEEKNO only with YEARLY,
BYYEARDAY not with DAILY/WEEKLY/MONTHLY, BYMONTHDAY not with WEEKLY, numbered BYDAY only with
MONTHLY/YEARLY, BYSETPOS only with another BYxxx part).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import InvalidParameterError

FREQUENCIES = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_TEXT = 2000

_DATE_TIME = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})(Z?)")
_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_BYDAY = re.compile(r"([+-]?)([0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_INT = re.compile(r"[+-]?[0-9]{1,3}")
_DIGITS = re.compile(r"[0-9]{1,9}")

# part -> (lowest absolute value, highest, negatives allowed)
_NUMBER_LISTS: dict[str, tuple[int, int, bool]] = {
    "BYSECOND": (0, 60, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
_PART_ORDER = (
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)


_FORMAT_ORDER = (
    "BYSETPOS",
    "BYMONTH",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
)


class RRuleError(InvalidParameterError):
    """The recurrence rule is not one the gateway can evaluate."""


@dataclass(frozen=True, slots=True)
class WeekdayNum:
    """A BYDAY entry: a weekday, optionally the n-th (negative counts from the end)."""

    weekday: str
    ordinal: int | None = None

    def __str__(self) -> str:
        return self.weekday if self.ordinal is None else f"{self.ordinal}{self.weekday}"


@dataclass(frozen=True, slots=True)
class RecurrenceRule:
    """The parts of one RRULE (RFC 5545 §3.3.10); empty tuples are parts not given."""

    freq: str
    until: datetime | None = None  # UTC, naive
    count: int | None = None
    interval: int = 1
    bysecond: tuple[int, ...] = ()
    byminute: tuple[int, ...] = ()
    byhour: tuple[int, ...] = ()
    byday: tuple[WeekdayNum, ...] = ()
    bymonthday: tuple[int, ...] = ()
    byyearday: tuple[int, ...] = ()
    byweekno: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    wkst: str | None = None

    def __post_init__(self) -> None:
        _check_rule(self)

    def format(self) -> str:
        """The rule's value (after `RRULE:`) in python-dateutil's part order.

        That is the order of the vendor's example (BYHOUR;BYMINUTE;BYSECOND), which suggests
        the gateway's tooling writes (and reads) rules that way.
        """
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.wkst is not None:
            parts.append(f"WKST={self.wkst}")
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            parts.append(f"UNTIL={format_utc(self.until)}")
        for name in _FORMAT_ORDER:
            values = getattr(self, name.lower())
            if values:
                parts.append(f"{name}={','.join(str(value) for value in values)}")
        return ";".join(parts)


@dataclass(frozen=True, slots=True)
class RecurrenceSet:
    """What an RRULE condition holds: an optional UTC start and one rule."""

    rule: RecurrenceRule
    dtstart: datetime | None = None  # UTC, naive

    def format(self) -> str:
        """The condition text in canonical form: a DTSTART line, then the RRULE line."""
        lines = [] if self.dtstart is None else [f"DTSTART:{format_utc(self.dtstart)}"]
        lines.append(f"RRULE:{self.rule.format()}")
        return "\n".join(lines)


def format_utc(when: datetime) -> str:
    """A date-time as the Trigger API writes it: UTC, no offset (`YYYYMMDDTHHMMSS`)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return f"{when:%Y%m%dT%H%M%S}"


def _fail(message: str) -> RRuleError:
    return RRuleError(f"rrule: {message}")


def parse_utc(text: str, what: str) -> datetime:
    """`YYYYMMDDTHHMMSS[Z]` (or a bare date for UNTIL) as a naive UTC datetime."""
    match = _DATE_TIME.fullmatch(text)
    if match is not None:
        numbers = [int(group) for group in match.groups()[:6]]
    elif (date_match := _DATE.fullmatch(text)) is not None:
        numbers = [int(group) for group in date_match.groups()] + [0, 0, 0]
    else:
        raise _fail(f"{what} is YYYYMMDDTHHMMSS in UTC (no offset, no time zone), not {text!r}")
    try:
        year, month, day, hour, minute, second = numbers
        return datetime(year, month, day, hour, minute, second)  # naive = UTC by convention
    except ValueError:
        raise _fail(f"{what} {text!r} is no valid date and time") from None


def parse_rrule(text: str) -> RecurrenceSet:
    """Parse and check an RRULE condition; RRuleError says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise _fail("the rule is empty")
    if len(text) > MAX_TEXT:
        raise _fail(f"the rule is longer than {MAX_TEXT} characters")
    dtstart: datetime | None = None
    rule: RecurrenceRule | None = None
    for raw_line in text.replace("\r\n", "\n").split("\n"):
        line = raw_line.strip()
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            name, value = "RRULE", line  # a bare "FREQ=..." line
        name, _, parameters = name.partition(";")
        name = name.strip().upper()
        if name == "DTSTART":
            if dtstart is not None:
                raise _fail("DTSTART is given twice")
            if parameters:
                raise _fail("DTSTART takes no TZID or other parameters: times are UTC")
            dtstart = parse_utc(value.strip(), "DTSTART")
        elif name == "RRULE":
            if rule is not None:
                raise _fail("only one RRULE is allowed")
            if parameters:
                raise _fail("RRULE takes no parameters")
            rule = parse_rule(value)
        else:
            raise _fail(f"unsupported line {name!r} (only DTSTART and RRULE)")
    if rule is None:
        raise _fail("there is no RRULE")
    if dtstart is not None and rule.until is not None and rule.until < dtstart:
        raise _fail("UNTIL is before DTSTART")
    return RecurrenceSet(rule, dtstart)


def parse_rule(value: str) -> RecurrenceRule:
    """The value of one RRULE line (`FREQ=DAILY;BYHOUR=0`)."""
    parts: dict[str, str] = {}
    for item in value.strip().split(";"):
        if not item:
            continue
        name, equals, part = item.partition("=")
        name = name.strip().upper()
        if not equals or not part:
            raise _fail(f"{item!r} is not NAME=VALUE")
        if name not in _PART_ORDER:
            raise _fail(f"unknown rule part {name}")
        if name in parts:
            raise _fail(f"{name} is given twice")
        parts[name] = part.strip().upper()
    if "FREQ" not in parts:
        raise _fail("FREQ is required")
    numbers = {
        name.lower(): _number_list(name, parts[name]) for name in _NUMBER_LISTS if name in parts
    }
    return RecurrenceRule(
        freq=parts["FREQ"],
        until=parse_utc(parts["UNTIL"], "UNTIL") if "UNTIL" in parts else None,
        count=_positive(parts["COUNT"], "COUNT") if "COUNT" in parts else None,
        interval=_positive(parts["INTERVAL"], "INTERVAL") if "INTERVAL" in parts else 1,
        byday=tuple(_weekday_num(item) for item in parts["BYDAY"].split(","))
        if "BYDAY" in parts
        else (),
        wkst=parts.get("WKST"),
        **numbers,
    )


def _positive(text: str, name: str) -> int:
    # ASCII only: "²" and "①" pass isdigit() but int() refuses them.
    if _DIGITS.fullmatch(text) is None or int(text) < 1:
        raise _fail(f"{name} is a whole number of at least 1")
    return int(text)


def _number_list(name: str, text: str) -> tuple[int, ...]:
    values = []
    for item in text.split(","):
        if _INT.fullmatch(item) is None:
            raise _fail(f"{name} is a comma-separated list of whole numbers")
        values.append(int(item))
    return tuple(values)


def _weekday_num(text: str) -> WeekdayNum:
    match = _BYDAY.fullmatch(text)
    if match is None:
        raise _fail(f"BYDAY entries are [+-][n]MO..SU, not {text!r}")
    sign, number, weekday = match.groups()
    if number is None:
        if sign:
            raise _fail(f"BYDAY entry {text!r} has a sign but no number")
        return WeekdayNum(weekday)
    ordinal = int(number) * (-1 if sign == "-" else 1)
    return WeekdayNum(weekday, ordinal)


def _check_rule(rule: RecurrenceRule) -> None:
    """The RFC's value ranges and part combinations."""
    if rule.freq not in FREQUENCIES:
        raise _fail(f"FREQ must be one of {', '.join(FREQUENCIES)}")
    if rule.until is not None and rule.count is not None:
        raise _fail("UNTIL and COUNT cannot both be given")
    if rule.count is not None and rule.count < 1:
        raise _fail("COUNT is at least 1")
    if rule.interval < 1:
        raise _fail("INTERVAL is at least 1")
    for name, (low, high, negative) in _NUMBER_LISTS.items():
        for value in getattr(rule, name.lower()):
            magnitude = abs(value) if negative else value
            if not low <= magnitude <= high or (value < 0 and not negative):
                sign = "±" if negative else ""
                raise _fail(f"{name} values are {sign}{low} to {sign}{high}")
    for entry in rule.byday:
        if entry.weekday not in WEEKDAYS:
            raise _fail("BYDAY weekdays are MO, TU, WE, TH, FR, SA, SU")
        if entry.ordinal is not None:
            if not 1 <= abs(entry.ordinal) <= 53:
                raise _fail("a BYDAY ordinal is ±1 to ±53")
            if rule.freq not in ("MONTHLY", "YEARLY") or (rule.freq == "YEARLY" and rule.byweekno):
                raise _fail("a numbered BYDAY needs FREQ=MONTHLY or YEARLY (without BYWEEKNO)")
    if rule.wkst is not None and rule.wkst not in WEEKDAYS:
        raise _fail("WKST is one of MO, TU, WE, TH, FR, SA, SU")
    if rule.byweekno and rule.freq != "YEARLY":
        raise _fail("BYWEEKNO needs FREQ=YEARLY")
    if rule.byyearday and rule.freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise _fail("BYYEARDAY is not allowed with FREQ=DAILY, WEEKLY or MONTHLY")
    if rule.bymonthday and rule.freq == "WEEKLY":
        raise _fail("BYMONTHDAY is not allowed with FREQ=WEEKLY")
    others = (
        rule.bysecond,
        rule.byminute,
        rule.byhour,
        rule.byday,
        rule.bymonthday,
        rule.byyearday,
        rule.byweekno,
        rule.bymonth,
    )
    if rule.bysetpos and not any(others):
        raise _fail("BYSETPOS needs another BYxxx part")
