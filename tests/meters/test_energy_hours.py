"""Property tests of the hour arithmetic: order, gaps and duplicates never change the hours.

Registers are drawn as monotonic integer counts (like a real register at 0.01 kWh), sampled at
random instants; an hour's truth is computed here from the counts directly.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.energy_hours import (
    HOUR_MS,
    Baseline,
    Register,
    RegisterSample,
    hour_of,
    hourly_energy,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = 1_790_000_000_000 // HOUR_MS * HOUR_MS


@st.composite
def monotonic_samples(draw: st.DrawFn) -> list[RegisterSample]:
    """Samples at distinct increasing instants with non-decreasing registers (0.01 kWh)."""
    count = draw(st.integers(1, 60))
    offsets = sorted(set(draw(st.lists(st.integers(1, 30 * HOUR_MS), min_size=count))))
    imp = draw(st.integers(0, 10**7))
    exp = draw(st.integers(0, 10**7))
    samples = []
    for offset in offsets:
        imp += draw(st.integers(0, 500))
        exp += draw(st.integers(0, 200))
        samples.append(RegisterSample(START + offset, imp / 100, exp / 100))
    return samples


def shuffled(samples: list[RegisterSample], seed: int) -> list[RegisterSample]:
    copy = list(samples)
    random.Random(seed).shuffle(copy)
    return copy


@SETTINGS
@given(samples=monotonic_samples(), seed=st.integers(0, 2**32), copies=st.integers(0, 3))
def test_order_and_duplicates_do_not_matter(
    samples: list[RegisterSample], seed: int, copies: int
) -> None:
    expected = hourly_energy(samples)
    noisy = shuffled(samples + samples[: copies * 3], seed)
    assert hourly_energy(noisy) == expected


@SETTINGS
@given(samples=monotonic_samples(), keep=st.data())
def test_gaps_move_energy_to_the_next_hour_with_data_and_lose_none(
    samples: list[RegisterSample], keep: st.DataObject
) -> None:
    baseline = Baseline(samples[0].import_kwh, samples[0].export_kwh)
    full = hourly_energy(samples, baseline=baseline)
    kept = [s for s in samples if keep.draw(st.booleans())] or samples[-1:]
    gappy = hourly_energy(kept, baseline=baseline)
    full_by_hour = {h.start_ms: h for h in full.hours}
    assert {h.start_ms for h in gappy.hours} == {hour_of(s.as_of_ms) for s in kept}
    cumulative = 0.0
    full_cumulative = {}
    running = 0.0
    for hour in full.hours:
        running += hour.import_kwh
        full_cumulative[hour.start_ms] = running
    for hour in gappy.hours:
        cumulative += hour.import_kwh
        assert hour.import_kwh >= 0
        assert hour.export_kwh >= 0
        # The energy up to an hour with data is the same with or without the gaps before it
        # whenever that hour's last sample survived.
        last = max(s.as_of_ms for s in samples if hour_of(s.as_of_ms) == hour.start_ms)
        if any(s.as_of_ms == last for s in kept):
            assert hour.import_total == full_by_hour[hour.start_ms].import_total
            assert cumulative == pytest.approx(full_cumulative[hour.start_ms], abs=1e-5)


@SETTINGS
@given(samples=monotonic_samples())
def test_the_hours_add_up_to_the_register_change(samples: list[RegisterSample]) -> None:
    baseline = Baseline(samples[0].import_kwh, samples[0].export_kwh)
    result = hourly_energy(samples, baseline=baseline)
    last = samples[-1]
    assert last.import_kwh is not None
    assert last.export_kwh is not None
    assert baseline.import_kwh is not None
    assert baseline.export_kwh is not None
    assert sum(h.import_kwh for h in result.hours) == pytest.approx(
        last.import_kwh - baseline.import_kwh, abs=1e-5
    )
    assert sum(h.export_kwh for h in result.hours) == pytest.approx(
        last.export_kwh - baseline.export_kwh, abs=1e-5
    )
    assert result.drops == ()
    for hour in result.hours:
        in_hour = [s for s in samples if hour_of(s.as_of_ms) == hour.start_ms]
        assert hour.import_total == max(in_hour, key=lambda s: s.as_of_ms).import_kwh


@SETTINGS
@given(
    values=st.lists(
        st.tuples(
            st.integers(0, 40 * HOUR_MS),
            st.one_of(st.none(), st.floats(-1e6, 1e9)),
            st.one_of(st.none(), st.floats(-1e6, 1e9)),
        ),
        max_size=80,
    ),
    baseline=st.one_of(
        st.none(),
        st.builds(Baseline, st.floats(0, 1e9) | st.none(), st.floats(0, 1e9) | st.none()),
    ),
)
def test_no_negative_hour_whatever_the_registers_do(
    values: list[tuple[int, float | None, float | None]], baseline: Baseline | None
) -> None:
    samples = [RegisterSample(START + t, imp, exp) for t, imp, exp in values]
    result = hourly_energy(samples, baseline=baseline)
    starts = [h.start_ms for h in result.hours]
    assert starts == sorted(set(starts))
    for hour in result.hours:
        assert hour.import_kwh >= 0
        assert hour.export_kwh >= 0
    # Copies at one instant with different values: the larger wins in any order.
    assert hourly_energy(list(reversed(samples)), baseline=baseline) == result


def test_a_dip_is_held_and_a_reset_is_a_new_baseline() -> None:
    hour = START
    samples = [
        RegisterSample(hour + 600_000, 100.0, 10.0),
        RegisterSample(hour + 1_200_000, 99.5, 10.5),  # a dip: held at 100
        RegisterSample(hour + HOUR_MS + 600_000, 101.0, 11.0),  # counts from 100, not 99.5
        RegisterSample(hour + 2 * HOUR_MS + 600_000, 2.0, 0.5),  # a new meter
        RegisterSample(hour + 3 * HOUR_MS + 600_000, 3.5, 0.75),
    ]
    result = hourly_energy(samples)
    assert [(h.import_kwh, h.export_kwh) for h in result.hours] == [
        (0.0, 0.5),
        (1.0, 0.5),
        (0.0, 0.0),
        (1.5, 0.25),
    ]
    assert [(d.register, d.reset) for d in result.drops] == [
        (Register.IMPORT, False),
        (Register.EXPORT, True),
        (Register.IMPORT, True),
    ]
    assert result.hours[0].import_total == 100.0  # the dip shows the held value
    assert result.hours[2].import_total == 2.0
    assert result.end == Baseline(3.5, 0.75)


def test_a_sample_at_the_full_hour_closes_the_hour_before() -> None:
    result = hourly_energy([RegisterSample(START + HOUR_MS, 5.0, 1.0)], baseline=Baseline(4.0, 0.5))
    assert [(h.start_ms, h.import_kwh, h.export_kwh) for h in result.hours] == [(START, 1.0, 0.5)]
