"""EKM history into the recorder's long-term statistics, against the simulator's /summary.

The real recorder (`recorder_mock` before `hass`) stores what the importer writes; every
hour's sum and state must equal the simulator's truth, across second runs, restarts, an
interrupted backfill, late uploads, missing quarters and newest-first answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from homeassistant.components.recorder import Recorder, get_instance
from homeassistant.components.recorder.statistics import (
    get_metadata,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.history_statistics import EVERYTHING, horizon_of
from custom_components.meterlink.meters.energy_hours import Register
from custom_components.meterlink.meters.push.summary_client import SummaryClient
from custom_components.meterlink.push.history import (
    HistoryImporter,
    async_clear_history,
    async_start_history,
    statistic_id,
)

from ..meters.push.summary_truth import (
    FIRST_REPORT,
    HOUR_MS,
    METER_A,
    METER_B,
    NOW,
    SummarySetup,
    summary_sim,
    truth_hours,
)
from .statistics_rows import hourly_rows

__all__ = ["summary_sim"]
pytestmark = pytest.mark.usefixtures("socket_enabled")
NAMES = {METER_A: "Garage", METER_B: "House"}


@pytest.fixture
def mock_recorder_before_hass(async_setup_recorder_instance: RecorderInstanceGenerator) -> None:
    """The recorder's fixtures before `hass` (autouse fixtures ask for `hass` early)."""


class Clock:
    """One "now" for the simulator and the importer."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def clock(summary_sim: SummarySetup) -> Clock:
    clock = Clock()
    summary_sim.service.clock = clock.timestamp
    return clock


def importer(
    hass: HomeAssistant,
    setup: SummarySetup,
    clock: Clock,
    *,
    on_progress: Callable[[], None] | None = None,
    **options: Any,
) -> HistoryImporter:
    client = SummaryClient(
        setup.session,
        setup.cloud.account_key,
        summary_url=setup.url,
        min_interval=0,
        offload=hass.async_add_executor_job,
    )
    return HistoryImporter(hass, client, NAMES, now=clock, on_progress=on_progress, **options)


async def stored(hass: HomeAssistant, address: str, register: Register) -> list[dict[str, Any]]:
    return await hourly_rows(
        hass, statistic_id(address, register), FIRST_REPORT - timedelta(days=400)
    )


def closed_end(clock: Clock) -> datetime:
    return (clock.now - timedelta(minutes=20)).replace(minute=0, second=0, microsecond=0)


async def assert_truth(
    hass: HomeAssistant, setup: SummarySetup, clock: Clock, address: str
) -> None:
    """Every stored hour is a truth hour and the sums run as the truth's energies do."""
    expected = truth_hours(setup.service, address, FIRST_REPORT, closed_end(clock))
    for register, energy, total in (
        (Register.IMPORT, "import_kwh", "import_total"),
        (Register.EXPORT, "export_kwh", "export_total"),
    ):
        rows = await stored(hass, address, register)
        assert [dt_util.utc_from_timestamp(row["start"]) for row in rows] == [
            hour.start for hour in expected
        ]
        running = 0.0
        for row, hour in zip(rows, expected, strict=True):
            running += getattr(hour, energy)
            assert row["sum"] == pytest.approx(running, abs=1e-5), hour.start
            assert row["state"] == pytest.approx(getattr(hour, total), abs=1e-6)


async def test_first_run_imports_the_whole_history(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    history = importer(hass, summary_sim, clock)
    await history.async_sync()
    assert history.last_error is None
    for address in (METER_A, METER_B):
        await assert_truth(hass, summary_sim, clock, address)
        progress = history.progress[address]
        assert progress.backfilled
        assert progress.imported_until == closed_end(clock)
    # 40 days of two meters: windows of two meters shared, before-first-report windows skipped.
    assert history.diagnostics()["requests"] <= 12
    ident = statistic_id(METER_A, Register.IMPORT)
    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={ident})
    )
    ((_, meta),) = metadata.values()
    assert meta["source"] == "meterlink"
    assert meta["unit_of_measurement"] == "kWh"
    assert meta["unit_class"] == "energy"
    assert meta["has_sum"] is True
    assert meta["name"] == "Garage energy import (EKM history)"
    assert statistic_id(METER_A, Register.EXPORT) == "meterlink:ekm_000300001001_energy_export"


async def test_a_second_run_appends_without_double_counting(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    history = importer(hass, summary_sim, clock)
    await history.async_sync()
    before = await stored(hass, METER_A, Register.IMPORT)
    await history.async_sync()  # nothing new: the same rows
    assert await stored(hass, METER_A, Register.IMPORT) == before
    clock.now += timedelta(hours=5, minutes=13)  # 17:20:30: the 16:00 hour has settled
    await history.async_sync()
    after = await stored(hass, METER_A, Register.IMPORT)
    assert len(after) == len(before) + 6
    assert after[: len(before) - 48] == before[: len(before) - 48]
    await assert_truth(hass, summary_sim, clock, METER_A)
    await assert_truth(hass, summary_sim, clock, METER_B)


async def test_a_restart_resumes_from_the_stored_rows(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    await importer(hass, summary_sim, clock).async_sync()
    await async_wait_recording_done(hass)
    clock.now += timedelta(days=3)  # Home Assistant was off for three days
    restarted = importer(hass, summary_sim, clock)
    await restarted.async_sync()
    await assert_truth(hass, summary_sim, clock, METER_A)
    await assert_truth(hass, summary_sim, clock, METER_B)
    # It continued from the anchor: a few requests, not the whole history again.
    assert restarted.diagnostics()["requests"] <= 2


async def test_an_interrupted_backfill_resumes(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    chunks: list[int] = []
    faults = summary_sim.service.faults

    def progress() -> None:
        chunks.append(1)
        if len(chunks) == 4:  # started, two chunks written: then EKM says "wait an hour"
            faults.http_status, faults.retry_after = 429, "3600"

    first = importer(
        hass, summary_sim, clock, on_progress=progress, chunk=timedelta(days=5), horizon=EVERYTHING
    )
    await first.async_sync()
    assert first.last_error is not None
    assert "429" in first.last_error
    written = await stored(hass, METER_A, Register.IMPORT)
    assert 0 < len(written) < 40 * 24
    faults.clear()
    await importer(hass, summary_sim, clock, chunk=timedelta(days=5)).async_sync()
    await assert_truth(hass, summary_sim, clock, METER_A)
    await assert_truth(hass, summary_sim, clock, METER_B)


async def test_late_uploads_are_rewritten_with_consistent_later_sums(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    end_ms = int(closed_end(clock).timestamp() * 1000)
    offline = range(end_ms - 10 * HOUR_MS, end_ms - 7 * HOUR_MS)
    summary_sim.service.faults.hidden = lambda _meter, ms: ms in offline
    history = importer(hass, summary_sim, clock)
    await history.async_sync()
    gappy = await stored(hass, METER_A, Register.IMPORT)
    await assert_truth(hass, summary_sim, clock, METER_A)  # three hours missing
    summary_sim.service.faults.hidden = None  # the gateway uploaded what it buffered
    await history.async_sync()
    fixed = await stored(hass, METER_A, Register.IMPORT)
    await assert_truth(hass, summary_sim, clock, METER_A)
    assert len(fixed) == len(gappy) + 3
    assert fixed[-1]["sum"] == pytest.approx(gappy[-1]["sum"], abs=1e-6)
    changes = [b["sum"] - a["sum"] for a, b in itertools.pairwise(fixed)]
    assert min(changes) >= 0


async def test_missing_quarters_and_newest_first_give_the_truth(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    faults = summary_sim.service.faults
    faults.newest_first = True
    start = int(FIRST_REPORT.timestamp() * 1000)
    faults.drop_quarters([start + n * 7 * 900_000 for n in range(400)])
    await importer(hass, summary_sim, clock).async_sync()
    await assert_truth(hass, summary_sim, clock, METER_A)
    await assert_truth(hass, summary_sim, clock, METER_B)


async def test_a_meter_swap_is_a_new_baseline(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    swap = NOW - timedelta(days=2, minutes=7)
    summary_sim.service.histories[METER_B].swap_at_ms = int(swap.timestamp() * 1000)
    history = importer(hass, summary_sim, clock)
    await history.async_sync()
    rows = await stored(hass, METER_B, Register.IMPORT)
    changes = [b["sum"] - a["sum"] for a, b in itertools.pairwise(rows)]
    assert min(changes) >= 0
    assert [r["register"] for r in history.progress[METER_B].resets] == ["export", "import"]
    assert history.diagnostics()["meters"][METER_B]["resets"]
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"meter_replaced_{METER_B}")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["meter"] == "House"


async def test_clearing_removes_the_history(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    await importer(hass, summary_sim, clock).async_sync()
    assert await stored(hass, METER_A, Register.EXPORT)
    await async_clear_history(hass, [METER_A])
    assert await stored(hass, METER_A, Register.EXPORT) == []
    assert await stored(hass, METER_B, Register.EXPORT)
    assert horizon_of("off") is None
    assert horizon_of("all") == EVERYTHING
    assert horizon_of(None) == timedelta(days=365)


async def test_a_refusal_is_kept_for_diagnostics(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    summary_sim.service.faults.http_status, summary_sim.service.faults.retry_after = 429, "900"
    history = importer(hass, summary_sim, clock)
    await history.async_sync()
    assert history.last_error is not None
    assert summary_sim.cloud.account_key not in str(history.diagnostics())
    assert await stored(hass, METER_A, Register.IMPORT) == []
    assert "429" in history.last_error


async def test_started_with_the_entry_it_runs_now_and_at_twenty_past(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup, clock: Clock
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="EKM Push")
    entry.add_to_hass(hass)
    client = SummaryClient(
        summary_sim.session, summary_sim.cloud.account_key, summary_url=summary_sim.url
    )
    started = async_start_history(hass, entry, client, NAMES, now=clock)
    assert started is not None
    await hass.async_block_till_done(wait_background_tasks=True)
    before = await stored(hass, METER_A, Register.IMPORT)
    assert before
    clock.now += timedelta(hours=1)
    # The listener runs on Home Assistant's clock: the next :20 after the real now.
    next_run = (dt_util.utcnow() + timedelta(hours=1)).replace(minute=20, second=0)
    async_fire_time_changed(hass, next_run)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(await stored(hass, METER_A, Register.IMPORT)) == len(before) + 1
    await assert_truth(hass, summary_sim, clock, METER_A)
    assert started.runs == 2
    await entry._async_process_on_unload(hass)  # what unloading the entry does
    async_fire_time_changed(hass, next_run + timedelta(hours=1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert started.runs == 2


async def test_without_the_recorder_the_feature_is_off(
    hass: HomeAssistant, summary_sim: SummarySetup
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="EKM Push")
    entry.add_to_hass(hass)
    client = SummaryClient(
        summary_sim.session, summary_sim.cloud.account_key, summary_url=summary_sim.url
    )
    assert async_start_history(hass, entry, client, NAMES) is None
    await hass.async_block_till_done()
    assert summary_sim.service.served == []
