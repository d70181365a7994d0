"""The eGauge client against the simulated meter over real HTTP and HTTPS sockets."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from custom_components.meterlink.meters.egauge import (
    EpochMismatch,
    History,
    Reading,
    counter_delta,
)
from custom_components.meterlink.meters.egauge.client import EgaugeClient
from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterConnectionError,
    MeterFrameError,
    MeterServerError,
    MeterTimeoutError,
    MeterUnsupportedError,
    MissingSaveRightError,
)
from simulator.egauge import EgaugeSimulator, SimEgauge

from .conftest import VIEWER, VIEWER_PASSWORD, ClientFactory, FakeClock


def _reading(answer: Reading | EpochMismatch) -> Reading:
    assert isinstance(answer, Reading)
    return answer


def _logins(meter: SimEgauge) -> int:
    return sum(1 for method, path, _ in meter.requests if path == "/auth/login")


async def test_digest_login_never_sends_the_password(
    client: EgaugeClient, meter: SimEgauge, sim: EgaugeSimulator
) -> None:
    info = await client.device_info()
    assert (info.serial, info.hostname, info.model, info.firmware) == (
        "G10400",
        "eGauge42",
        "EG4030",
        "4.6.2",
    )
    assert meter.logins == client.logins == 1
    # Every login body was a digest: the simulator records what it accepted, never a `pwd`.
    assert all("pwd" not in str(body) for _, body in meter.commands)


async def test_concurrent_requests_share_one_login(client: EgaugeClient, meter: SimEgauge) -> None:
    readings = await asyncio.gather(*(client.read() for _ in range(8)))
    assert all(isinstance(reading, Reading) for reading in readings)
    assert meter.logins == 1
    assert _logins(meter) == 1


async def test_expired_nonce_is_answered_with_a_fresh_one(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    meter.faults.expired_nonces = 2
    await client.read()
    assert meter.logins == 1
    challenges = [p for _, p, _ in meter.requests if p == "/auth/unauthorized"]
    assert len(challenges) == 3


async def test_nonces_that_always_expire_are_a_frame_error_not_bad_credentials(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    meter.faults.expired_nonces = 10
    with pytest.raises(MeterFrameError, match="nonce expired"):
        await client.read()


def test_simulated_nonce_expires_after_a_minute(meter: SimEgauge, clock: FakeClock) -> None:
    challenge = meter.challenge()
    clock.advance(61)
    status, answer = meter.login(
        {
            "usr": "owner",
            "rlm": challenge["rlm"],
            "nnc": challenge["nnc"],
            "cnnc": "a",
            "hash": "b",
        },
        https=True,
    )
    assert (status, answer) == (200, {"error": "Nonce expired."})


async def test_token_is_renewed_before_it_expires(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    await client.read()
    clock.advance(550)  # ltm 600 s: renewed 60 s early
    await client.read()
    assert meter.logins == 2
    assert not any(p == "/register" and m == "GET" for m, p, _ in meter.requests[-3:-1])


async def test_revoked_token_is_relogged_once_and_the_request_repeated(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    await client.read()
    meter.expire_tokens()
    reading = _reading(await client.read())
    assert reading.values
    assert meter.logins == 2
    paths = [p for _, p, _ in meter.requests]
    assert paths[-4:] == ["/register", "/auth/unauthorized", "/auth/login", "/register"]


async def test_wrong_password_is_an_auth_error(make_client: ClientFactory) -> None:
    with pytest.raises(MeterAuthError, match="refused the login"):
        await make_client(password="wrong").read()


async def test_unknown_user_is_an_auth_error(make_client: ClientFactory) -> None:
    with pytest.raises(MeterAuthError):
        await make_client(user="nobody").read()


async def test_reboot_is_cannot_connect_then_recovers(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock, make_client: ClientFactory
) -> None:
    await client.read()
    meter.reboot()
    clock.advance(1.5)
    with pytest.raises(MeterServerError) as caught:
        await client.read()
    assert not isinstance(caught.value, MeterAuthError)
    with pytest.raises(MeterConnectionError):  # a new login during the reboot: still no 401
        await make_client().read()
    clock.advance(30)
    assert _reading(await client.read()).values
    assert meter.boots == 1
    assert client.logins == 2  # the reboot revoked the token


async def test_non_401_nonce_answer_is_cannot_connect(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    meter.faults.nonce_status = 502
    with pytest.raises(MeterServerError):
        await client.read()
    meter.faults.nonce_status = 200
    with pytest.raises(MeterConnectionError, match="instead of a login challenge"):
        await client.read()


async def test_rights_and_missing_save_right(make_client: ClientFactory) -> None:
    owner = make_client()
    assert (await owner.rights()).save
    viewer = make_client(VIEWER, VIEWER_PASSWORD)
    rights = await viewer.rights()
    assert (rights.user, rights.save) == ("viewer", False)
    assert _reading(await viewer.read()).values  # reading works without save
    with pytest.raises(MissingSaveRightError):
        await viewer.command("/cmd/reboot")


async def test_save_gated_401_after_relogin_is_a_missing_right(
    make_client: ClientFactory, meter: SimEgauge
) -> None:
    viewer = make_client(VIEWER, VIEWER_PASSWORD)
    with pytest.raises(MissingSaveRightError):
        await viewer.call("POST", "/cmd/reboot")  # bypasses the rights check before sending
    assert not any(name == "reboot" for name, _ in meter.commands)


async def test_refused_rights_after_relogin_is_an_auth_error(
    client: EgaugeClient, meter: SimEgauge, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.read()
    monkeypatch.setattr(meter, "user_of", lambda _authorization: None)
    with pytest.raises(MeterAuthError, match="fresh login token"):
        await client.read()


async def test_one_request_per_poll_with_virtual_registers(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    await client.read()
    before = len(meter.requests)
    reading = _reading(await client.read())
    assert len(meter.requests) == before + 1
    use, grid, solar = reading.values["use"], reading.values["Grid"], reading.values["Solar"]
    assert use.register.virtual
    assert not grid.register.virtual
    assert grid.register.did is not None
    assert use.register.did is None
    truth = meter.reported()
    assert grid.counter == truth["Grid"]
    assert solar.counter == truth["Solar"]
    assert use.counter == truth["Grid"] + truth["Solar"]
    assert use.rate == pytest.approx(grid.rate + solar.rate, abs=1e-3)  # type: ignore[operator]
    assert grid.total == pytest.approx(truth["Grid"] / 3.6e6)
    assert reading.values["HVAC"].rate < 0  # type: ignore[operator]
    assert reading.values["L1 Voltage"].register.type.unit == "V"
    assert reading.values["Temperature"].total is None
    assert [r.idx for r in reading.registers] == sorted(r.idx for r in reading.registers)


async def test_counters_follow_rates(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    meter.set_rate("Solar", 3600.0)
    first = _reading(await client.read()).values["Solar"].counter
    clock.advance(100)
    second = _reading(await client.read()).values["Solar"].counter
    assert first is not None
    assert second is not None
    assert second - first == 360_000  # 3600 W for 100 s = 0.1 kWh


async def test_net_grid_register_changes_sign(client: EgaugeClient, clock: FakeClock) -> None:
    signs = set()
    for _ in range(20):
        rate = _reading(await client.read()).values["Grid"].rate
        assert rate is not None
        signs.add(rate > 0)
        clock.advance(45)
    assert signs == {True, False}


async def test_history_rows_across_ranges(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    clock.advance(7200)  # two more hours: minute rows beyond the last hour
    now = meter.now()
    history = await client.history([(now - 7200, 60, now), (now - 30, 1, now)])
    assert not isinstance(history, EpochMismatch)
    times = [row.ts for row in history.rows]
    assert times == sorted(times, reverse=True)
    assert len(times) == len(set(times))
    second = int(now)
    minute = second - second % 60
    expected = set(range(minute, int(now - 7200) - 1, -60)) | set(
        range(second, int(now - 30) - 1, -1)
    )
    assert set(times) == {float(t) for t in expected}  # overlapping rows only once
    for row in history.rows[:5]:
        raw = meter._raw_at(int(row.ts))
        assert raw is not None
        truth = meter.counters(raw)
        assert row.counters["Grid"] == truth["Grid"]
        assert row.counters["use"] == truth["use"]


async def test_history_delta_rows_decode_to_the_same_counters(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    now = meter.now()
    ranges = [(now - 600, 60, now), (now - 20, 1, now - 10)]
    plain = await client.history(ranges)
    delta = await client.history(ranges, delta=True)
    meter.faults.delta_float = True
    floats = await client.history(ranges[:1], delta=True, max_rows=5)
    assert isinstance(plain, History)
    assert isinstance(delta, History)
    assert plain.rows == delta.rows
    minute_rows = [row for row in plain.rows if row.ts % 60 == 0]
    assert isinstance(floats, History)
    assert list(floats.rows) == minute_rows[:5]


async def test_history_older_than_the_database_ends_the_range(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    now = meter.now()
    history = await client.history([(now - 30 * 86400, 86400, now)])
    assert isinstance(history, History)
    assert len(history.rows) == 1  # only today's row exists in a one-hour-old database


def test_history_query_is_validated() -> None:
    from custom_components.meterlink.meters.egauge.protocol import history_query

    with pytest.raises(InvalidParameterError):
        history_query([])
    with pytest.raises(InvalidParameterError):
        history_query([(10, 0, 20)])
    with pytest.raises(InvalidParameterError):
        history_query([(10, 1, 20)], max_rows=0)


async def test_local_values(client: EgaugeClient) -> None:
    local = await client.local()
    assert local.values["L1"].type == "V"
    assert 110 < local.values["L1"].normal < 130  # type: ignore[operator]
    assert local.values["L1"].frequency == pytest.approx(60, abs=0.1)
    assert local.values["S1"].type == "I"
    assert set(local.energy) == {"S1*L1", "S2*L1", "S3*L1"}
    assert local.ctid == "idle"


async def test_unknown_type_code_is_a_generic_register(
    client: EgaugeClient, meter: SimEgauge
) -> None:
    meter.faults.unknown_type = "Xw"
    value = _reading(await client.read()).values["Mystery"]
    assert not value.register.type.known
    assert (value.rate, value.total, value.register.type.code) == (7.0, None, "Xw")


async def test_epoch_move_is_a_reset_not_negative_energy(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    epoch = await client.epoch()
    assert _reading(await client.read(epoch=epoch)).values["Solar"].counter
    clock.advance(10)
    meter.move_epoch()
    answer = await client.read(epoch=epoch)
    assert isinstance(answer, EpochMismatch)
    assert answer.current == await client.epoch() != epoch
    after = _reading(await client.read(epoch=answer.current))
    assert after.values["Grid"].counter == 0


async def test_int64_wrap_difference_modulo_2_63(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    meter.set_rate("Solar", 1000.0)
    meter.wrap_soon("Solar", 3000)
    before = _reading(await client.read()).values["Solar"].counter
    clock.advance(10)
    after = _reading(await client.read()).values["Solar"].counter
    assert before is not None
    assert after is not None
    assert before > 2**62
    assert after < -(2**62)
    assert counter_delta(after, before) == 10_000


async def test_clock_skew_does_not_expire_tokens(client: EgaugeClient, meter: SimEgauge) -> None:
    meter.skew = -7200  # the meter is two hours behind
    reading = _reading(await client.read())
    await client.read()
    assert meter.logins == 1
    assert reading.ts == pytest.approx(meter.now(), abs=1)


async def test_unknown_resource_is_unsupported(client: EgaugeClient) -> None:
    with pytest.raises(MeterUnsupportedError):
        await client.value("/sys/nothing-here")


async def test_bad_request_is_an_api_error(client: EgaugeClient) -> None:
    from custom_components.meterlink.meters.errors import MeterApiError

    with pytest.raises(MeterApiError, match="HTTP 400"):
        await client.call("GET", "/register", params={"time": "soon"})


async def test_tls_verification_failure_is_cannot_connect(
    sim: EgaugeSimulator, session: aiohttp.ClientSession
) -> None:
    client = EgaugeClient(session, sim.https_host, "owner", "owner-secret", verify_tls=True)
    with pytest.raises(MeterConnectionError, match="certificate"):
        await client.read()


async def test_silent_meter_is_a_timeout(session: aiohttp.ClientSession, silent_host: str) -> None:
    client = EgaugeClient(session, silent_host, "u", "secret-pw", https=False, request_timeout=0.2)
    with pytest.raises(MeterTimeoutError) as caught:
        await client.read()
    assert "secret-pw" not in str(caught.value)


async def test_hosts_with_ports_ipv6_and_urls(session: aiohttp.ClientSession) -> None:
    from custom_components.meterlink.meters.egauge.protocol import base_url, normalize_host

    assert normalize_host("https://eGauge42.egauge.io/api/") == "eGauge42.egauge.io"
    assert normalize_host("fe80::1") == "[fe80::1]"
    assert base_url("[::1]:8443", https=True) == "https://[::1]:8443/api"
    assert base_url("10.0.0.5", https=False) == "http://10.0.0.5/api"
    for bad in ("", "host/path", "a:b:c:d:x:99999", "user@host", "host:0"):
        with pytest.raises(InvalidParameterError):
            normalize_host(bad)
    client = EgaugeClient(session, "dev.egauge.io", "u", "p")
    assert client.host == "dev.egauge.io"
