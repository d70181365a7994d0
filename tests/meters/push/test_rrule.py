"""RRULE conditions: the seed's example, the RFC's limits, and arbitrary text.

Expected values come from the vendor example (seed 001) and RFC 5545 §3.3.10; the properties
check that any text parses or raises RRuleError, and that the canonical form is stable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.errors import InvalidParameterError
from custom_components.meterlink.meters.push.rrule import (
    FREQUENCIES,
    WEEKDAYS,
    RecurrenceRule,
    RecurrenceSet,
    RRuleError,
    WeekdayNum,
    format_utc,
    parse_rrule,
)

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEED = "DTSTART:20210702T173200\nRRULE:FREQ=DAILY;BYHOUR=0;BYMINUTE=35;BYSECOND=0"


def test_seed_example() -> None:
    """ "Starting on 7/2/2021 17:32 UTC, trigger every day at 00:35:00 UTC"."""
    parsed = parse_rrule(SEED)
    assert parsed.dtstart == datetime(2021, 7, 2, 17, 32)
    assert parsed.rule.freq == "DAILY"
    assert parsed.rule.byhour == (0,)
    assert parsed.rule.byminute == (35,)
    assert parsed.rule.bysecond == (0,)
    assert parsed.format() == SEED
    assert issubclass(RRuleError, InvalidParameterError)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("FREQ=WEEKLY;BYDAY=MO,WE", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE"),
        ("rrule:freq=monthly;byday=-1fr", "RRULE:FREQ=MONTHLY;BYDAY=-1FR"),
        ("DTSTART:20260101T000000Z\r\nRRULE:FREQ=HOURLY;INTERVAL=2;COUNT=10",
         "DTSTART:20260101T000000\nRRULE:FREQ=HOURLY;INTERVAL=2;COUNT=10"),
        ("RRULE:FREQ=YEARLY;BYDAY=MO;BYWEEKNO=20", "RRULE:FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO"),
        ("RRULE:FREQ=DAILY;UNTIL=20261231", "RRULE:FREQ=DAILY;UNTIL=20261231T000000"),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;BYSETPOS=1;WKST=SU",
         "RRULE:FREQ=MONTHLY;WKST=SU;BYSETPOS=1;BYMONTHDAY=-1"),
        ("RRULE:FREQ=YEARLY;BYDAY=+2TU;BYMONTH=3", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2TU"),
    ],
)  # fmt: skip
def test_valid_rules_and_their_canonical_form(text: str, canonical: str) -> None:
    assert parse_rrule(text).format() == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "DTSTART:20210702T173200",  # no RRULE
        "RRULE:BYHOUR=1",  # no FREQ
        "RRULE:FREQ=FORTNIGHTLY",
        "RRULE:FREQ=DAILY;FREQ=DAILY",
        "RRULE:FREQ=DAILY\nRRULE:FREQ=WEEKLY",
        "DTSTART;TZID=Europe/Berlin:20210702T173200\nRRULE:FREQ=DAILY",  # not UTC
        "DTSTART:20210702T173200+0200\nRRULE:FREQ=DAILY",
        "DTSTART:20210230T000000\nRRULE:FREQ=DAILY",
        "DTSTART:20210702T173200\nDTSTART:20210702T173200\nRRULE:FREQ=DAILY",
        "EXDATE:20210702T173200\nRRULE:FREQ=DAILY",
        "RRULE:FREQ=DAILY;COUNT=3;UNTIL=20260101T000000",
        "RRULE:FREQ=DAILY;COUNT=0",
        "RRULE:FREQ=DAILY;INTERVAL=-1",
        "RRULE:FREQ=DAILY;BYHOUR=24",
        "RRULE:FREQ=DAILY;BYMINUTE=60",
        "RRULE:FREQ=DAILY;BYSECOND=61",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=0",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=32",
        "RRULE:FREQ=YEARLY;BYMONTH=13",
        "RRULE:FREQ=DAILY;BYDAY=1MO",  # numbered BYDAY needs MONTHLY/YEARLY
        "RRULE:FREQ=MONTHLY;BYDAY=0MO",
        "RRULE:FREQ=MONTHLY;BYDAY=-MO",
        "RRULE:FREQ=MONTHLY;BYDAY=XX",
        "RRULE:FREQ=DAILY;BYWEEKNO=1",
        "RRULE:FREQ=MONTHLY;BYYEARDAY=100",
        "RRULE:FREQ=WEEKLY;BYMONTHDAY=1",
        "RRULE:FREQ=DAILY;BYSETPOS=1",
        "RRULE:FREQ=DAILY;WKST=XX",
        "RRULE:FREQ=DAILY;COLOR=RED",
        "RRULE:FREQ",
        "RRULE:FREQ=DAILY;BYHOUR=a",
        "RRULE;X=1:FREQ=DAILY",
        "DTSTART:20260101T000000\nRRULE:FREQ=DAILY;UNTIL=20250101T000000",
        "RRULE:FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO",
        "RRULE:" + "FREQ=DAILY;" * 300,
    ],
)
def test_invalid_rules_are_refused(text: str) -> None:
    with pytest.raises(RRuleError):
        parse_rrule(text)


def test_format_utc_converts_aware_times() -> None:
    from datetime import UTC, timedelta, timezone

    assert format_utc(datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == (
        "20260101T000000"
    )
    assert format_utc(datetime(2026, 1, 1, tzinfo=UTC)) == "20260101T000000"


def test_rule_model_checks_itself() -> None:
    with pytest.raises(RRuleError):
        RecurrenceRule("DAILY", count=0)
    with pytest.raises(RRuleError):
        RecurrenceRule("DAILY", interval=0)
    with pytest.raises(RRuleError):
        RecurrenceRule("MONTHLY", byday=(WeekdayNum("XX"),))
    with pytest.raises(RRuleError):
        RecurrenceRule("MONTHLY", byday=(WeekdayNum("MO", 54),))
    with pytest.raises(RRuleError):
        RecurrenceRule("DAILY", byhour=(-1,))


# Properties -----------------------------------------------------------------------------------


@PROPERTY
@given(st.text(max_size=120))
def test_any_text_parses_or_is_refused(text: str) -> None:
    try:
        parsed = parse_rrule(text)
    except RRuleError:
        return
    assert parse_rrule(parsed.format()) == parsed


parts_alphabet = st.sampled_from(
    ["FREQ=", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", ";", ",", "BYDAY=", "MO", "-1", "2",
     "BYHOUR=", "BYMONTHDAY=", "COUNT=", "UNTIL=", "20260101T000000", "BYSETPOS=",
     "INTERVAL=", "3", "=", "BYWEEKNO=", "BYYEARDAY=", "WKST=", "SU", "DTSTART:", "RRULE:",
     "\n", "Z", "0"]
)  # fmt: skip


@PROPERTY
@given(st.lists(parts_alphabet, max_size=14).map("".join))
def test_rule_like_text_parses_or_is_refused(text: str) -> None:
    try:
        parsed = parse_rrule(text)
    except RRuleError:
        return
    canonical = parsed.format()
    assert parse_rrule(canonical).format() == canonical


def _numbers(low: int, high: int, signed: bool) -> st.SearchStrategy[tuple[int, ...]]:
    value = st.integers(low, high)
    if signed:
        value = st.builds(lambda v, neg: -v if neg else v, value, st.booleans())
    return st.lists(value, max_size=3).map(tuple)


@st.composite
def rules(draw: st.DrawFn) -> RecurrenceRule:
    freq = draw(st.sampled_from(FREQUENCIES))
    kwargs: dict[str, Any] = {
        "freq": freq,
        "interval": draw(st.integers(1, 30)),
        "bysecond": draw(_numbers(0, 59, False)),
        "byminute": draw(_numbers(0, 59, False)),
        "byhour": draw(_numbers(0, 23, False)),
        "bymonth": draw(_numbers(1, 12, False)),
        "wkst": draw(st.none() | st.sampled_from(WEEKDAYS)),
    }
    ordinal = st.none()
    if freq in ("MONTHLY", "YEARLY"):
        ordinal = st.none() | st.integers(1, 5)
    kwargs["byday"] = tuple(
        draw(st.lists(st.builds(WeekdayNum, st.sampled_from(WEEKDAYS), ordinal), max_size=3))
    )
    if freq != "WEEKLY":
        kwargs["bymonthday"] = draw(_numbers(1, 31, True))
    if freq == "YEARLY" and not any(d.ordinal for d in kwargs["byday"]):
        kwargs["byweekno"] = draw(_numbers(1, 53, True))
    if freq not in ("DAILY", "WEEKLY", "MONTHLY"):
        kwargs["byyearday"] = draw(_numbers(1, 366, True))
    if draw(st.booleans()):
        kwargs["count"] = draw(st.integers(1, 1000))
    elif draw(st.booleans()):
        kwargs["until"] = draw(st.datetimes(datetime(2030, 1, 1), datetime(2099, 1, 1))).replace(
            microsecond=0
        )
    if any(kwargs.get(name) for name in ("byhour", "byday", "bymonth", "bymonthday")):
        kwargs["bysetpos"] = draw(_numbers(1, 366, True))
    return RecurrenceRule(**kwargs)


@PROPERTY
@given(rules(), st.none() | st.datetimes(datetime(2000, 1, 1), datetime(2029, 12, 31)))
def test_generated_rules_round_trip(rule: RecurrenceRule, start: datetime | None) -> None:
    start = None if start is None else start.replace(microsecond=0)
    recurrence = RecurrenceSet(rule, start)
    assert parse_rrule(recurrence.format()) == recurrence
