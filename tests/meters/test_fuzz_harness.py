"""The fuzz harness itself: it finds escapes, keeps the smallest input, replays by seed."""

from __future__ import annotations

import pytest

from custom_components.meterlink.meters.errors import MeterFrameError
from simulator.fuzz.__main__ import main
from simulator.fuzz.families import FAMILIES, Family
from simulator.fuzz.run import run_family


def _fragile(data: bytes) -> object:
    """A parser with the classic bug: int() on what isdigit() accepted."""
    text = data.decode("utf-8", "replace")
    if not text.isdigit():
        raise MeterFrameError("not digits")
    return int(text)


FRAGILE = Family("fragile", lambda: [b"12345", b"42"], _fragile, structured=False)


def test_an_escape_is_found_and_reported_with_a_small_input() -> None:
    result = run_family(FRAGILE, 20_000, seed=1)
    assert result.inputs == 20_000
    assert result.escape_count > 0
    escape = next(iter(result.escapes.values()))
    assert escape.kind == "ValueError"
    assert escape.where.startswith("test_fuzz_harness.py:")
    assert len(escape.data) <= 8  # e.g. "1²": the smallest one kept
    assert result.refused + result.parsed + result.escape_count == result.inputs


def test_the_same_seed_gives_the_same_run() -> None:
    first, second = run_family(FRAGILE, 3000, seed=7), run_family(FRAGILE, 3000, seed=7)
    assert (first.parsed, first.refused, first.escape_count) == (
        second.parsed,
        second.refused,
        second.escape_count,
    )


def test_every_parser_family_is_registered() -> None:
    names = {family.name for family in FAMILIES}
    assert {
        "rs485",
        "cloud-readmeter",
        "push3-readmeter",
        "account",
        "triggers",
        "rrule",
        "device-stream",
        "smartmac-getdata",
    } <= names


@pytest.mark.parametrize("family", ["rrule", "account", "smartmac-getdata"])
def test_the_command_line_prints_a_line_per_family_and_exits_0(
    family: str, capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    assert main(["--count", "300", "--family", family]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith(family))
    assert " 300 " in line
    assert out.rstrip().endswith("0 escapes")
