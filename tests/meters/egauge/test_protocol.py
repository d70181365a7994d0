"""The sans-IO eGauge parsers: the vendor's own examples, and Hypothesis for every parser."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.egauge import protocol
from custom_components.meterlink.meters.egauge.models import (
    TYPES,
    EpochMismatch,
    History,
    Reading,
    counter_delta,
    register_type,
)
from custom_components.meterlink.meters.errors import (
    MeterApiError,
    MeterAuthError,
    MeterCommandError,
    MeterError,
    MeterFrameError,
)

# The vendor's RegisterResponseObject example, verbatim: virtual=formula and delta rows.
SCHEMA_EXAMPLE = {
    "ts": "1678330813.000129799",
    "registers": [
        {"name": "use", "type": "P", "idx": 0, "formula": '+"Grid"+"Solar"'},
        {"name": "Grid", "type": "P", "idx": 17, "did": 0, "rate": 1798},
        {"name": "Solar", "type": "P", "idx": 20, "did": 1, "rate": -4},
    ],
    "ranges": [
        {
            "ts": "1678298313.000129799",
            "delta": 1,
            "rows": [["117607805899", "268487638108"], ["-224", "-480"], ["-218", "-481"]],
        },
        {
            "ts": "1678298040",
            "delta": 60,
            "rows": [["905", "-3533"], ["7663", "-34573"]],
        },
    ],
}


def _jwt(claims: object) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJ0eXAiOiJKV1QifQ.{payload}.c2ln"


def test_vendor_example_history_with_delta_across_ranges() -> None:
    history = protocol.parse_history(SCHEMA_EXAMPLE, virtual_values=False, delta=True)
    assert isinstance(history, History)
    grid = [row.counters["Grid"] for row in history.rows]
    first = 117607805899
    assert grid[:3] == [first, first - 224, first - 224 - 218]
    assert grid[3] == first - 224 - 218 + 905  # the second range continues the running sum
    assert [r.name for r in history.registers] == ["use", "Grid", "Solar"]
    assert history.registers[0].virtual
    assert history.registers[0].formula == '+"Grid"+"Solar"'
    assert "use" not in history.rows[0].counters  # formula only: no column


def test_vendor_example_reading_with_rates() -> None:
    reading = protocol.parse_registers(SCHEMA_EXAMPLE, virtual_values=False)
    assert isinstance(reading, Reading)
    assert reading.values["Grid"].rate == 1798
    assert reading.values["Solar"].counter == 268487638108
    assert reading.values["use"].counter is None
    assert reading.counters_ts == pytest.approx(1678298313.0001297)


def test_time_now_and_24h_example_has_one_counter_row() -> None:
    document = {
        "ts": "1678477555.345",
        "registers": [{"name": "temp", "type": "T", "idx": 8, "did": 7}],
        "ranges": [
            {"ts": "1678477555.154", "delta": 1, "rows": [["7494425049"]]},
            {"ts": "1678391100", "delta": 60, "rows": [["7033149079"]]},
        ],
    }
    history = protocol.parse_history(document)
    assert isinstance(history, History)
    older, newer = history.rows[1].counters["temp"], history.rows[0].counters["temp"]
    seconds = history.rows[0].ts - history.rows[1].ts
    # The vendor's worked result: 5.335 °C on average over the day.
    assert register_type("T").amount(newer - older) / seconds == pytest.approx(5.335, abs=0.001)


def test_bad_cells_cost_only_their_value() -> None:
    document = {
        "ts": "1",
        "registers": [
            {"name": "a", "type": "P", "idx": 0, "did": 0, "rate": "x"},
            {"name": "b", "type": "P", "idx": 1, "did": 1, "rate": 5},
        ],
        "ranges": [{"ts": "1", "delta": 1, "rows": [["1.5", "7"]]}],
    }
    reading = protocol.parse_registers(document)
    assert isinstance(reading, Reading)
    assert (reading.values["a"].rate, reading.values["a"].counter) == (None, None)
    assert (reading.values["b"].rate, reading.values["b"].counter) == (5, 7)


@pytest.mark.parametrize(
    "document",
    [
        {
            "ts": "1",
            "registers": [{"name": "a", "type": "P", "idx": 0, "did": 0}],
            "ranges": [{"ts": "1", "rows": [["1", "2"]]}],
        },
        {
            "ts": "1",
            "registers": [
                {"name": "a", "type": "P", "idx": 0},
                {"name": "a", "type": "P", "idx": 1},
            ],
        },
        {"ts": "1", "registers": [{"type": "P", "idx": 0}]},
        {"ts": "1", "registers": "no"},
        {"ts": "1", "registers": [3]},
        {"registers": []},
        {"ts": "1", "ranges": [{"ts": "1", "delta": 0, "rows": [[], []]}]},
        {"ts": "1", "ranges": [{"ts": "1"}]},
        {"ts": "1", "ranges": {}},
        [],
    ],
)
def test_unmappable_register_answers_are_refused(document: object) -> None:
    with pytest.raises(MeterFrameError):
        protocol.parse_registers(document)


def test_epoch_condition() -> None:
    assert protocol.parse_registers({"current": "1675276020", "result": False}) == EpochMismatch(
        "1675276020"
    )
    assert protocol.parse_history({"current": "5", "result": False}) == EpochMismatch("5")
    query = protocol.poll_query("1675276020")
    assert query["if"] == "epoch==1675276020"
    assert query["virtual"] == "value"


def test_type_table_and_quanta() -> None:
    assert len(TYPES) == 29
    assert register_type("P").total(3_600_000) == 1.0
    assert register_type("V").total(3_600_000) == pytest.approx(1.0)  # 0.001 V·s units → Vh
    assert register_type("Qv").total(1_000_000) == pytest.approx(1.0)  # 1e-9 m³ units → litres
    assert register_type("$").total(2**29) == pytest.approx(1.0)
    assert register_type("PQ").total_unit == "kvarh"
    assert register_type("T").total(5) is None
    generic = register_type("Zz")
    assert (generic.known, generic.unit, generic.quantum) == (False, "", 1)


@given(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**40), 2**40))
def test_counter_delta_survives_int64_wrap(start: int, change: int) -> None:
    wrapped = (start + change + 2**63) % 2**64 - 2**63
    assert counter_delta(wrapped, start) == change


def test_login_answers() -> None:
    token = protocol.parse_login({"jwt": _jwt({"beg": 1, "ltm": 120})})
    assert token is not None
    assert token.lifetime == 120
    assert protocol.parse_login({"error": "Nonce expired."}) is None
    with pytest.raises(MeterAuthError):
        protocol.parse_login({"error": "Authentication failed."})
    with pytest.raises(MeterFrameError):
        protocol.parse_login({})
    for broken in ("a.b", "a.!!!.c", _jwt([1]), _jwt({"ltm": 0}), _jwt({"ltm": "x"})):
        assert protocol.jwt_lifetime(broken) == protocol.DEFAULT_TOKEN_LIFETIME


def test_login_hash_is_the_vendors_digest() -> None:
    import hashlib

    ha1 = hashlib.md5(b"owner:eGauge Administration:pw").hexdigest()
    expected = hashlib.md5(f"{ha1}:nonce:cnonce".encode()).hexdigest()
    assert (
        protocol.login_hash("owner", "eGauge Administration", "pw", "nonce", "cnonce") == expected
    )
    body = protocol.login_body(
        "owner", "pw", protocol.Challenge("eGauge Administration", "nonce"), "cnonce"
    )
    assert body["hash"] == expected
    assert "pw" not in json.dumps(body)
    assert len(protocol.new_cnonce()) == 32


def test_status_tags_in_words() -> None:
    status = protocol.parse_status(
        {
            "result": {
                "args": ["4.5alpha1", "4.5alpha1"],
                "done": True,
                "error": "NOT_NEWER",
                "ts": "1679103764.278772467",
            }
        }
    )
    assert status.done
    assert status.error == "NOT_NEWER"
    assert (
        status.error_text
        == "available version 4.5alpha1 is not newer than the installed version 4.5alpha1"
    )
    running = protocol.parse_status(
        {"result": {"done": False, "info": "RESTORE", "progress": 0.31415}}
    )
    assert (running.info_text, running.progress) == ("restoring the database", 0.31415)
    odd = protocol.parse_status({"result": {"done": True, "error": "NEWTAG", "args": ["x"]}})
    assert odd.error_text == "NEWTAG (x)"
    short = protocol.parse_status({"result": {"done": True, "error": "NOT_NEWER"}})
    assert short.error_text is not None
    assert "?" in short.error_text


def test_command_answers() -> None:
    assert protocol.parse_command_answer({"status": "OK"}, "/cmd/reboot").token is None
    token = "473c31462e62848b5352314dfc608669"
    assert protocol.parse_command_answer({"token": token}, "/cmd/x").token == token
    with pytest.raises(MeterCommandError, match="busy"):
        protocol.parse_command_answer({"error": "busy"}, "/cmd/x")
    with pytest.raises(MeterFrameError):
        protocol.parse_command_answer({"token": "short"}, "/cmd/x")
    assert protocol.parse_update_offer({"version": 4.4, "minimum": "4.1.2"}).version == "4.4"
    with pytest.raises(MeterFrameError):
        protocol.parse_update_offer({"status": "OK"})


def test_results_and_versions() -> None:
    assert protocol.parse_text({"result": "G10400"}, "/sys/sn") == "G10400"
    with pytest.raises(MeterApiError):
        protocol.parse_result({"error": "no"}, "/sys/sn")
    with pytest.raises(MeterFrameError):
        protocol.parse_text({"result": [1]}, "/sys/sn")
    version = protocol.parse_version({"result": {"firmware": "4.5alpha1", "hardware": "3EA"}})
    assert (version.firmware, version.hardware, version.kernel) == ("4.5alpha1", "3EA", None)
    rights = protocol.parse_rights({"usr": "owner", "rights": ["save", "ctrl", 3]})
    assert rights.save
    assert rights.rights == {"save", "ctrl"}


def test_local_vendor_example() -> None:
    local = protocol.parse_local(
        {
            "ts": "1579893622.000132",
            "values": {
                "L1": {"rate": {"n": 125.01754, "f": 60.0079803}},
                "S5": {"rate": {"n": 3.87214255, "f": 0}},
                "Hpcb": {"rate": 41.5, "type": "h"},
                "junk": 3,
            },
            "energy": {"S1*L1": {"rate": -145.436066}, "-S5*L1": {"rate": "x"}},
        }
    )
    assert local.values["L1"].normal == 125.01754
    assert local.values["L1"].frequency == 60.0079803
    assert local.values["Hpcb"].normal == 41.5
    assert local.values["Hpcb"].type == "h"
    assert "junk" not in local.values
    assert local.energy == {"S1*L1": -145.436066}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "ts",
        "registers",
        "ranges",
        "rows",
        "delta",
        "name",
        "type",
        "idx",
        "did",
        "rate",
        "jwt",
        "error",
        "rlm",
        "nnc",
        "result",
        "done",
        "token",
        "values",
        "energy",
        "version",
        "rights",
        "usr",
        "args",
        "info",
        "progress",
        "current",
        "firmware",
        "n",
        "f",
        "formula",
    ]
)
SHAPED = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["1", "-5", "P", "V", "OK", "Nonce expired.", "NOT_NEWER", "1.5e3"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=30,
)

PARSERS: dict[str, Callable[[object], object]] = {
    "challenge": protocol.parse_challenge,
    "login": protocol.parse_login,
    "rights": protocol.parse_rights,
    "result": lambda d: protocol.parse_result(d, "/sys/x"),
    "text": lambda d: protocol.parse_text(d, "/sys/x"),
    "version": protocol.parse_version,
    "registers": protocol.parse_registers,
    "registers_physical": lambda d: protocol.parse_registers(d, virtual_values=False),
    "history": protocol.parse_history,
    "history_delta": lambda d: protocol.parse_history(d, delta=True),
    "local": protocol.parse_local,
    "command": lambda d: protocol.parse_command_answer(d, "/cmd/x"),
    "status": protocol.parse_status,
    "update": protocol.parse_update_offer,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150, deadline=None)
@given(document=st.one_of(JSON, SHAPED))
def test_every_parser_gives_a_model_or_a_typed_error(name: str, document: object) -> None:
    with contextlib.suppress(MeterError):
        PARSERS[name](document)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_body_decodes_or_is_a_frame_error(body: bytes) -> None:
    try:
        document = protocol.decode(body)
    except MeterFrameError:
        return
    for parser in PARSERS.values():
        with contextlib.suppress(MeterError):
            parser(document)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_any_jwt_has_a_lifetime_and_any_host_is_checked(text: str) -> None:
    assert 0 < protocol.jwt_lifetime(text) <= 86400
    with contextlib.suppress(MeterError):
        protocol.normalize_host(text)
