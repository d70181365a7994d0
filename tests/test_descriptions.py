"""The EKM description table on readings that lack fields (as cloud and partial reads do)."""

from __future__ import annotations

from custom_components.meterlink.ekm import descriptions as ekm
from custom_components.meterlink.meters.ekm.reading import EkmReading, MeterVersion


def _v4(**fields: float | int | str) -> EkmReading:
    return EkmReading("000300001001", MeterVersion.V4, fields)


def test_missing_fields_are_unknown_not_zero() -> None:
    empty = _v4()
    assert empty.difference("kWh_Tot", "Rev_kWh_Tot") is None
    assert ekm.line_power(empty, 1) is None
    assert ekm.net_power(empty) is None
    assert ekm.power_factor(empty, 1) is None
    assert ekm.meter_time(_v4(Meter_Time="not a time")) is None
    for description in ekm.SENSORS:
        assert description.value_fn(empty) is None, description.key
    for select in ekm.SELECTS:
        assert select.current_fn(empty) is None, select.key


def test_power_without_direction_is_unknown_on_v4() -> None:
    # Without State_Watts_Dir a v4 magnitude could be either sign.
    assert ekm.line_power(_v4(RMS_Watts_Ln_1=500), 1) is None


def test_net_power_from_signed_lines_when_not_calculated() -> None:
    # State_Watts_Dir 2 = forward, forward, reverse.
    reading = _v4(State_Watts_Dir=2, RMS_Watts_Ln_1=500, RMS_Watts_Ln_2=300, RMS_Watts_Ln_3=200)
    assert ekm.net_power(reading) == 600
    assert ekm.line_power(reading, 3) == -200


def test_differences_keep_the_registers_resolution() -> None:
    reading = _v4(kWh_Tariff_1=1234.57, Rev_kWh_Tariff_1=0.1)
    assert reading.difference("kWh_Tariff_1", "Rev_kWh_Tariff_1") == 1234.47


def test_power_factor_sign() -> None:
    assert ekm.power_factor(_v4(Power_Factor_Ln_1=95), 1) == 0.95  # lagging
    assert ekm.power_factor(_v4(Power_Factor_Ln_1=110), 1) == -0.9  # leading
    assert ekm.power_factor(_v4(Power_Factor_Ln_1=100), 1) == 1.0
