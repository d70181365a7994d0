"""The eGauge benchmark counts what it claims (requests per poll, registers seen), no timings."""

from __future__ import annotations

import pytest

from benchmarks.egauge import egauge_bench, measure


async def test_bench_counts_requests_and_registers() -> None:
    ours, history, core = await measure(8, 3)
    assert (ours.requests, ours.seen) == (1, 8)
    assert (history.requests, history.seen) == (1, 8)
    assert (core.requests, core.seen) == (2, 6)  # no virtual registers in core's shape
    assert ours.cpu_ms >= 0
    assert core.cpu_ms >= 0


async def test_bench_prints_a_row_per_shape(capsys: pytest.CaptureFixture[str]) -> None:
    await egauge_bench([8], 1)
    lines = capsys.readouterr().out.splitlines()
    assert sum("MeterLink" in line for line in lines) == 2
    assert sum("core shape" in line for line in lines) == 1
