"""`meter push history` against the simulator's /summary: the JSON contract and exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from .summary_truth import (
    FIRST_REPORT,
    METER_A,
    METER_B,
    NOW,
    SummarySetup,
    summary_sim,
    truth_hours,
)
from .test_cli import cli

pytestmark = pytest.mark.usefixtures("socket_enabled")
__all__ = ["summary_sim"]
ROW_KEYS = ["start", "import_kwh", "export_kwh", "import_total", "export_total"]


def history(setup: SummarySetup, start: datetime, end: datetime, *extra: str) -> list[str]:
    return [
        "push",
        "history",
        "--key",
        setup.cloud.account_key,
        "--meters",
        f"{int(METER_A)}~{METER_B}",
        "--from",
        start.isoformat(),
        "--to",
        end.isoformat(),
        "--summary-url",
        setup.url,
        "--pace",
        "0",
        *extra,
    ]


async def test_json_rows_are_the_truth(
    summary_sim: SummarySetup, capsys: pytest.CaptureFixture[str]
) -> None:
    start, end = NOW - timedelta(days=2, minutes=30), NOW - timedelta(hours=3)
    assert await cli(*history(summary_sim, start, end, "--json")) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed) == [METER_A, METER_B]
    for meter, rows in printed.items():
        expected = truth_hours(summary_sim.service, meter, start, end)
        assert [list(row) for row in rows] == [ROW_KEYS] * len(expected)
        assert [datetime.fromisoformat(row["start"]) for row in rows] == [h.start for h in expected]
        assert rows[0]["start"].endswith("+00:00")
        for row, want in zip(rows, expected, strict=True):
            assert row["import_kwh"] == pytest.approx(want.import_kwh, abs=1e-6)
            assert row["export_kwh"] == pytest.approx(want.export_kwh, abs=1e-6)
            assert row["import_total"] == pytest.approx(want.import_total, abs=1e-6)
            assert row["export_total"] == pytest.approx(want.export_total, abs=1e-6)
        # The first row counts from before --from: the rows add up to the register change.
        before = summary_sim.service.last_read(meter, int(expected[0].start.timestamp() * 1000))
        assert before is not None
        opening = summary_sim.service.registers_at(meter, before)
        assert sum(r["import_kwh"] for r in rows) == pytest.approx(
            rows[-1]["import_total"] - opening[0], abs=1e-5
        )


async def test_the_table_names_every_meter(
    summary_sim: SummarySetup, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli(*history(summary_sim, NOW - timedelta(hours=5), NOW)) == 0
    out = capsys.readouterr().out
    assert f"meter {METER_A}: 6 hours" in out
    assert f"meter {METER_B}: 6 hours" in out
    assert summary_sim.cloud.account_key not in out


async def test_a_meter_swap_is_noted(
    summary_sim: SummarySetup, capsys: pytest.CaptureFixture[str]
) -> None:
    swap = NOW - timedelta(hours=2, minutes=40)
    summary_sim.service.histories[METER_B].swap_at_ms = int(swap.timestamp() * 1000)
    assert await cli(*history(summary_sim, NOW - timedelta(hours=5), NOW, "--json")) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)[METER_B]
    assert all(r["import_kwh"] >= 0 and r["export_kwh"] >= 0 for r in rows)
    assert f"note: {METER_B}: import register went from" in captured.err
    assert "reset (meter swapped?)" in captured.err


def _staged(setup: SummarySetup, **faults: object) -> None:
    for name, value in faults.items():
        setattr(setup.service.faults, name, value)


@pytest.mark.parametrize(
    ("faults", "code", "reason"),
    [
        ({"http_status": 429, "retry_after": "600"}, 9, "rate limited"),
        ({"error_text": "Error: bad fields"}, 12, "query refused"),
        ({"api_code": 1102}, 12, "query refused"),
        ({"http_status": 500}, 13, "EKM Push server error"),
        ({"http_status": 401}, 6, "key or token refused"),
        ({"hidden": lambda _m, _t: True}, 10, "no data yet"),
    ],
)
async def test_refusals_end_with_the_push_read_exit_codes(
    summary_sim: SummarySetup,
    capsys: pytest.CaptureFixture[str],
    faults: dict[str, object],
    code: int,
    reason: str,
) -> None:
    _staged(summary_sim, **faults)
    assert await cli(*history(summary_sim, NOW - timedelta(hours=3), NOW, "--json")) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"meter: {reason}: ")
    assert summary_sim.cloud.account_key not in captured.err


async def test_a_meter_not_on_the_key_is_exit_11(
    summary_sim: SummarySetup, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = history(summary_sim, NOW - timedelta(hours=3), NOW)
    argv[argv.index("--meters") + 1] = f"{METER_A}~300009999"
    assert await cli(*argv) == 11
    err = capsys.readouterr().err
    assert "invalid meter for this key" in err
    assert summary_sim.cloud.account_key not in err


@pytest.mark.parametrize(
    ("start", "end"),
    [("yesterday", NOW.isoformat()), (NOW.isoformat(), (NOW - timedelta(hours=1)).isoformat())],
)
async def test_bad_times_are_exit_2(
    summary_sim: SummarySetup, capsys: pytest.CaptureFixture[str], start: str, end: str
) -> None:
    argv = history(summary_sim, NOW, NOW)
    argv[argv.index("--from") + 1] = start
    argv[argv.index("--to") + 1] = end
    assert await cli(*argv) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert summary_sim.service.served == []


async def test_naive_times_are_utc_and_history_starts_at_the_first_report(
    summary_sim: SummarySetup, capsys: pytest.CaptureFixture[str]
) -> None:
    start = (FIRST_REPORT - timedelta(days=3)).astimezone(UTC).replace(tzinfo=None)
    end = FIRST_REPORT.replace(tzinfo=None) + timedelta(hours=2)
    argv = history(summary_sim, start, end, "--json")
    assert await cli(*argv) == 0
    rows = json.loads(capsys.readouterr().out)[METER_A]
    assert datetime.fromisoformat(rows[0]["start"]) == FIRST_REPORT.replace(
        minute=0, second=0, microsecond=0
    )
    expected = truth_hours(
        summary_sim.service, METER_A, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    )
    assert [r["import_kwh"] for r in rows] == pytest.approx([h.import_kwh for h in expected])
