"""`meter smartmac read|relay`: commission a smart-MAC device from a shell.

`register` adds the command group to the commissioning tool's parser (`meters/cli.py`); the
handlers raise the library's typed errors and the tool turns them into one line and an exit
code. A rate-limited device has an exit code of its own, because "try again in a minute" is a
different instruction for an installer than "check the PIN" or "check the network".
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp

from ..errors import MeterAuthError, MeterConnectionError, MeterError, MeterRateLimitError
from .client import SmartMacClient
from .models import RelayPolarity, SmartMacReading, pout_for, relay_on

# Checked before the commissioning tool's own table, first match wins.
SMARTMAC_EXIT_CODES: tuple[tuple[type[MeterError], int, str], ...] = (
    (MeterRateLimitError, 9, "rate limited"),
    (MeterConnectionError, 3, "cannot reach the device"),
    (MeterAuthError, 6, "PIN refused"),
)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `smartmac` group (read, relay) to the tool's family subparsers."""
    smartmac = subparsers.add_parser("smartmac", help="smart-MAC / smart-MAIC Wi-Fi meters")
    actions = smartmac.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", required=True, metavar="HOST[:PORT]", help="the device's IP")
    common.add_argument("--device-id", required=True, metavar="ID", help="devid of the device")
    common.add_argument("--pin", required=True, help="the device's PIN (never printed)")
    common.add_argument("--timeout", type=float, default=10.0, metavar="S", help="per request")
    common.add_argument("--json", action="store_true", help="one JSON object: key -> number")
    read = actions.add_parser("read", parents=[common], help="print the device's values")
    read.set_defaults(handler=handle_read)
    relay = actions.add_parser("relay", parents=[common], help="switch the load relay")
    relay.add_argument("--state", choices=("on", "off"), required=True)
    relay.add_argument(
        "--polarity",
        choices=[polarity.value for polarity in RelayPolarity],
        default=RelayPolarity.VENDOR_DOC.value,
        help="vendor: pout 0 = on (the vendor doc); inverted: pout 1 = on",
    )
    relay.set_defaults(handler=handle_relay)


async def handle_read(args: argparse.Namespace) -> None:
    """Print one reading: a table, or with --json the device's keys to numbers."""
    async with aiohttp.ClientSession() as session:
        reading = await _client(session, args).read()
    print(json.dumps(reading_as_json(reading)) if args.json else _table(reading))


async def handle_relay(args: argparse.Namespace) -> None:
    """Switch the relay and print what the device reports back.

    The reported `pout` is printed next to the value sent: the vendor doc describes the status
    (0 = off) and the command (0 = on) differently, and this is where an installer sees which
    one their firmware follows.
    """
    polarity = RelayPolarity(args.polarity)
    on = args.state == "on"
    async with aiohttp.ClientSession() as session:
        reading = await _client(session, args).set_relay(on, polarity)
    if args.json:
        print(json.dumps(reading_as_json(reading)))
        return
    state = relay_on(reading, polarity)
    shown = "unknown" if state is None else ("on" if state else "off")
    print(
        f"device {reading.devid}: sent pout={pout_for(on, polarity)} ({args.state}, "
        f"{polarity.value} polarity); device reports pout={reading.pout} ({shown})"
    )


def reading_as_json(reading: SmartMacReading) -> dict[str, object]:
    """The device's keys to numbers in the device's units, plus devid/time/pout as sent."""
    flat: dict[str, object] = {key: _json_number(value) for key, value in reading.values.items()}
    for key in ("devid", "time", "pout"):
        if key in reading.attributes:
            flat[key] = reading.attributes[key]
    return flat


def _client(session: aiohttp.ClientSession, args: argparse.Namespace) -> SmartMacClient:
    # One request per run: nothing to wait for, and a 429 is reported rather than waited out.
    return SmartMacClient(
        session, args.host, args.device_id, args.pin, request_timeout=args.timeout, max_wait=0
    )


def _json_number(value: float) -> float | int:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _table(reading: SmartMacReading) -> str:
    when = "no time"
    if reading.time is not None:
        try:
            when = datetime.fromtimestamp(reading.time, UTC).isoformat()
        except ValueError, OverflowError, OSError:
            when = f"time {reading.time}"
    kind = f"{reading.model.value}{' extended' if reading.extended else ''}"
    lines = [f"device {reading.devid} ({kind}), {when}, pout={reading.pout}"]
    rows = [
        (key, _number_text(value), reading.units.get(key, ""), reading.names.get(key, ""))
        for key, value in reading.values.items()
    ]
    rows += [
        (key, repr(text), "", f"{reading.names.get(key, '')} (not a number)".strip())
        for key, text in reading.extra.items()
    ]
    widths = [max((len(row[column]) for row in rows), default=0) for column in range(3)]
    lines += [
        f"{key:<{widths[0]}}  {value:>{widths[1]}} {unit:<{widths[2]}}  {name}".rstrip()
        for key, value, unit, name in rows
    ]
    return "\n".join(lines)


def _number_text(value: float) -> str:
    return str(_json_number(value))
