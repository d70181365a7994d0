"""The eGauge WebAPI parsers for the fuzzer: seeds from the simulated meter, one target.

Registered in `families.FAMILIES` for `scripts/fuzz`; `tests/meters/egauge/test_fuzz_target.py`
also runs it over mutated seeds.

The target takes one body and runs it through every eGauge parser a poll, a history catch-up,
a login or a command would use, and through what the entities then read (totals, the
import/export split), because a crash there is an escape too.
"""

from __future__ import annotations

import contextlib
import json

from custom_components.meterlink.meters.egauge import protocol
from custom_components.meterlink.meters.egauge.energy import (
    Direction,
    SplitState,
    direction,
    split,
)
from custom_components.meterlink.meters.egauge.models import EpochMismatch, History, Reading
from custom_components.meterlink.meters.errors import MeterError

from ..egauge import SimEgauge


def seeds() -> list[bytes]:
    """Answers of the simulated meter: registers, history (plain and delta), /local, auth, cmd."""
    meter = SimEgauge(prehistory=600)
    meter.faults.unknown_type = "Zq"
    now = int(meter.now())
    documents: list[object] = [
        meter.register_answer({"rate": "", "time": "now", "virtual": "value"}),
        meter.register_answer({"virtual": "formula"}),
        meter.register_answer(
            {"time": f"{now - 300}:60:{now},{now - 20}:1:now", "virtual": "value"}
        ),
        meter.register_answer({"time": f"{now - 300}:1:{now}", "delta": "", "virtual": "value"}),
        meter.register_answer({"time": "now", "if": "epoch==0"}),
        meter.local_answer(
            {"values": "", "energy": "", "apparent": "", "cumul": "", "rate": "", "type": ""}
        ),
        meter.challenge(),
        {"jwt": "eyJ0eXAiOiJKV1QifQ.eyJsdG0iOjYwMH0.c2ln"},
        {"error": "Nonce expired."},
        {"usr": "owner", "rights": ["save", "ctrl"]},
        {"result": {"firmware": "4.6.2", "hardware": "3EA"}},
        {"result": {"done": False, "info": "FLASH", "progress": 0.5, "ts": "1.5"}},
        {"result": {"done": True, "error": "NOT_NEWER", "args": ["4.7", "4.7"]}},
        {"token": "473c31462e62848b5352314dfc608669"},
        {"version": 4.7, "minimum": "4.1.2"},
    ]
    return [json.dumps(document).encode() for document in documents]


def _use_reading(reading: Reading) -> None:
    for value in reading.values.values():
        _ = (value.total, value.register.virtual, value.register.type.total(value.counter or 0))


def target(data: bytes) -> object:
    """One body through every eGauge parser and what its callers read from the result."""
    document = protocol.decode(data)
    for parse in (
        protocol.parse_challenge,
        protocol.parse_login,
        protocol.parse_rights,
        protocol.parse_version,
        protocol.parse_local,
        protocol.parse_status,
        protocol.parse_update_offer,
        lambda d: protocol.parse_text(d, "/sys/sn"),
        lambda d: protocol.parse_command_answer(d, "/cmd/x"),
    ):
        with contextlib.suppress(MeterError):
            parse(document)
    for virtual in (True, False):
        with contextlib.suppress(MeterError):
            reading = protocol.parse_registers(document, virtual_values=virtual)
            if not isinstance(reading, EpochMismatch):
                _use_reading(reading)
        for delta in (False, True):
            with contextlib.suppress(MeterError):
                history = protocol.parse_history(document, virtual_values=virtual, delta=delta)
                if isinstance(history, History):
                    state = split(SplitState(), history.rows, history.registers)
                    split(state, history.rows, history.registers)
                    for register in history.registers:
                        assert direction(history.rows, register.name) in Direction
    return document
