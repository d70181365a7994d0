"""The simulator's meter model and its sans-IO session handling, driven through `feed`."""

from __future__ import annotations

from datetime import datetime

import pytest

from custom_components.meterlink.meters.ekm import commands
from custom_components.meterlink.meters.ekm.frames import (
    CLOSE_FRAME,
    decode_response,
    read_request,
)
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from simulator.ekm.meter import SimMeter
from simulator.ekm.rs485 import EkmBusSimulator, Faults

from ..conftest import V3_ADDRESS, V4_ADDRESS, make_meters

ACK = b"\x06"
LOGIN = commands.login_frame("00000000")


def bus_sim(**kwargs: object) -> EkmBusSimulator:
    return EkmBusSimulator(make_meters(), auto_advance=False, **kwargs)  # type: ignore[arg-type]


def test_sessions_follow_the_protocol() -> None:
    sim = bus_sim()
    [frame_a] = sim.feed(read_request(V4_ADDRESS, Block.V4A))
    assert decode_response(frame_a, Block.V4A, address=V4_ADDRESS).version is MeterVersion.V4
    # A v4 meter answers the suffix-less (v3) request with its A block.
    [plain] = sim.feed(f"/?{V4_ADDRESS}!\r\n".encode())
    assert plain[247:249] == b"00"
    # A v3 meter ignores v4 requests; unknown addresses stay silent.
    assert sim.feed(read_request(V3_ADDRESS, Block.V4A)) == []
    assert sim.feed(read_request("000399999999", Block.V4A)) == []
    assert len(sim.feed(read_request(V3_ADDRESS, Block.V3))[0]) == 255


def test_writes_need_an_open_meter_and_a_login() -> None:
    sim = bus_sim()
    write = commands.relay(1, closed=True).frame
    assert sim.feed(LOGIN) == []  # no meter open
    sim.feed(read_request(V4_ADDRESS, Block.V4A))
    assert sim.feed(write) == []  # not logged in
    assert sim.feed(commands.login_frame("12345678")) == []  # wrong password: silence
    assert sim.feed(LOGIN) == [ACK]
    assert sim.feed(write) == [ACK]
    assert sim.meters[V4_ADDRESS].relays == [True, False]
    sim.feed(CLOSE_FRAME)
    assert sim.feed(commands.relay(1, closed=False).frame) == []  # the session ended
    assert sim.meters[V4_ADDRESS].relays == [True, False]


def test_bytes_split_anywhere_and_noise_between_messages() -> None:
    sim = bus_sim()
    stream = b"\x00noise" + read_request(V4_ADDRESS, Block.V4A) + b"\x01B1" + LOGIN
    replies = []
    for byte in stream:
        replies += sim.feed(bytes((byte,)))
    assert [len(reply) for reply in replies] == [255, 1]
    damaged = bytearray(commands.relay(2, closed=True).frame)
    damaged[-1] ^= 0x01
    assert sim.feed(bytes(damaged)) == []  # a command with a bad CRC is ignored
    assert sim.feed(b"/?12!\r\n") == []  # a malformed request is noise
    assert sim.feed(commands.relay(2, closed=True).frame) == [ACK]  # still logged in


def test_faults_and_the_truth_log() -> None:
    sim = bus_sim(faults=Faults(bad_crc=1.0))
    sim.feed(read_request(V4_ADDRESS, Block.V4A))
    assert sim.served[-1].fault == "bad_crc"
    assert V4_ADDRESS not in sim.last_served
    sim.faults = Faults(wrong_address=1.0)
    [forged] = sim.feed(read_request(V4_ADDRESS, Block.V4A))
    assert decode_response(forged, Block.V4A).address != V4_ADDRESS
    sim.faults = Faults(truncate=1.0, seed=1)
    [part] = sim.feed(read_request(V4_ADDRESS, Block.V4A))
    assert 0 < len(part) < 255
    sim.faults = Faults(silence=1.0)
    assert sim.feed(read_request(V4_ADDRESS, Block.V4A)) == []
    assert [frame.fault for frame in sim.served] == [
        "bad_crc",
        "wrong_address",
        "truncate",
        "silence",
    ]
    sim.faults = Faults()
    [good] = sim.feed(read_request(V4_ADDRESS, Block.V4A))
    assert sim.last_served[V4_ADDRESS] == dict(decode_response(good, Block.V4A).fields)


def test_energy_integrates_power_consistently() -> None:
    meter = SimMeter(V4_ADDRESS, watts=[1000.0, 500.0, -2000.0], jitter=False)
    before = meter.values(Block.V4A)
    meter.advance(3600)
    after = meter.values(Block.V4A)
    b_after = meter.values(Block.V4B)
    assert after["kWh_Ln_1"] == pytest.approx(float(before["kWh_Ln_1"]) + 1.0, abs=0.011)
    assert after["Rev_kWh_Ln_3"] == pytest.approx(float(before["Rev_kWh_Ln_3"]) + 2.0, abs=0.011)
    assert after["Rev_kWh_Ln_1"] == before["Rev_kWh_Ln_1"]
    lines = sum(round(float(after[f"kWh_Ln_{n}"]) * 100) for n in (1, 2, 3))
    assert round(float(after["kWh_Tot"]) * 100) == lines  # exactly, in register counts
    tariffs = sum(round(float(b_after[f"kWh_Tariff_{n}"]) * 100) for n in (1, 2, 3, 4))
    assert tariffs == round(float(after["kWh_Tot"]) * 100)
    rev_tariffs = sum(round(float(b_after[f"Rev_kWh_Tariff_{n}"]) * 100) for n in (1, 2, 3, 4))
    assert rev_tariffs == round(float(after["Rev_kWh_Tot"]) * 100)
    assert after["State_Watts_Dir"] == 2  # F F R
    assert after["kWh_Rst"] == pytest.approx(3.5, abs=0.03)
    assert int(after["Pulse_Cnt_1"]) > int(before["Pulse_Cnt_1"])
    assert b_after["RMS_Watts_Max_Demand"] == 3500.0


def test_jitter_is_small_and_reproducible() -> None:
    first, second = SimMeter(V4_ADDRESS), SimMeter(V4_ADDRESS)
    for meter in (first, second):
        meter.advance(10)
    assert first.values(Block.V4A) == second.values(Block.V4A)
    volts = float(first.values(Block.V4A)["RMS_Volts_Ln_1"])
    assert abs(volts - 120.2) <= 0.7


def test_v3_energy_has_one_decimal_and_no_relays() -> None:
    meter = SimMeter(V3_ADDRESS, MeterVersion.V3, kwh_scale=2)
    assert meter.kwh_scale == 1
    assert meter.apply("81", "10000") is False
    assert meter.values(Block.V3)["Model"] == "1017"


@pytest.mark.parametrize(
    ("command", "check"),
    [
        (
            commands.set_time(datetime(2026, 3, 1, 12, 0, 0)),
            lambda m: m.meter_time() == "26030101120000",
        ),
        (commands.ct_ratio(1500), lambda m: m.ct_ratio == 1500),
        (commands.max_demand_period(60), lambda m: m.demand_period == 3),
        (commands.max_demand_auto_reset("daily"), lambda m: m.demand_auto_reset == 3),
        (commands.pulse_input_ratio(3, 250), lambda m: m.pulse_ratios[2] == 250),
        (commands.pulse_output_ratio(1600), lambda m: m.cf_ratio == 1600),
        (commands.lcd_items([1, 2, 28]), lambda m: m.lcd_items == [1, 2, 28]),
        (
            commands.schedule(2, [(7, 0, 1), (22, 0, 2)]),
            lambda m: m.schedules["71"].startswith("070001"),
        ),
        (commands.seasons([(1, 1, 1), (6, 1, 2)]), lambda m: m.seasons.startswith("010101")),
        (commands.holidays([(12, 25)]), lambda m: m.holidays.startswith("1225")),
        (commands.weekend_holiday_schedules(3, 4), lambda m: m.weekend_holiday == "0304"),
        (commands.max_demand_reset(), lambda m: m.max_demand == 0.0),
        (commands.zero_resettable_kwh(), lambda m: m.values(Block.V4A)["kWh_Rst"] == 0.0),
    ],
)
def test_settings_writes(command: commands.Command, check: object) -> None:
    meter = SimMeter(V4_ADDRESS)
    meter.advance(60)
    assert meter.apply(command.code, command.data)
    assert callable(check)
    assert check(meter)


@pytest.mark.parametrize(
    ("code", "data"),
    [
        ("81", "20000"),
        ("82", "1abcd"),
        ("60", "26023001120000"),  # 30 February
        ("60", "26030102120000"),  # wrong day of week
        ("D0", "0150"),
        ("50", "4"),
        ("D5", "9"),
        ("A0", "0000"),
        ("D4", "0003"),
        ("D3", "0"),
        ("D2", "01"),
        ("70", "12"),
        ("40", "x"),
        ("20", "1234"),
        ("99", ""),
    ],
)
def test_bad_writes_are_not_acknowledged(code: str, data: str) -> None:
    assert SimMeter(V4_ADDRESS).apply(code, data) is False


def test_schedule_one_picks_the_tariff_and_password_change_applies() -> None:
    meter = SimMeter(V4_ADDRESS, clock=datetime(2026, 3, 2, 23, 0, 0))
    assert meter.current_tariff() == 1
    assert meter.apply("70", "070001220003".ljust(48, "0"))
    assert meter.current_tariff() == 3
    assert meter.apply("20", "87654321")
    assert meter.password == "87654321"
    with pytest.raises(ValueError, match="forward"):
        meter.advance(-1)
