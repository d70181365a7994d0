"""`meter push read|discover` and `meter push3 read`: EKM Push data from a shell.

`register_push` / `register_push3` add the command groups to the commissioning tool
(`meters/cli.py`). With `--json` a read prints one object, device address -> EKM field names
and values, the same object `meter ekm read --json` prints for a meter on RS-485 plus
`Time_Stamp_UTC_ms`. Refused keys, rate limits and each family of API status codes end with
their own exit code and one line, because "wait a minute", "check the key" and "that meter is
not on this key" are different instructions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import aiohttp

from ..errors import (
    MeterApiError,
    MeterAuthError,
    MeterCommandError,
    MeterConnectionError,
    MeterError,
    MeterFrameError,
    MeterPermissionError,
    MeterRateLimitError,
    MeterServerError,
    MeterTimeoutError,
)
from .client import PushClient
from .history_cli import add_history_action
from .models import PushInventory, PushReadings
from .push3 import Push3Client, gateway_unique_id
from .realtime import DEFAULT_API_URL
from .settings.cli import add_device_actions
from .settings.client import AnswerTimeoutError
from .status import PushInvalidMeterError, PushNoDataError, PushQueryError
from .stream_cli import add_stream_action
from .triggers import TriggerNotFoundError

KEY_ENVIRONMENT = "EKM_PUSH_KEY"
"""Read when --key is not given, so the key need not appear in the process list."""

# Checked before the commissioning tool's own table, first match wins.
PUSH_EXIT_CODES: tuple[tuple[type[MeterError], int, str], ...] = (
    (AnswerTimeoutError, 4, "no answer from the device"),
    (TriggerNotFoundError, 16, "no such trigger"),
    (MeterRateLimitError, 9, "rate limited"),
    (PushNoDataError, 10, "no data yet"),
    (PushInvalidMeterError, 11, "invalid meter for this key"),
    (PushQueryError, 12, "query refused"),
    (MeterPermissionError, 15, "not permitted"),
    (MeterAuthError, 6, "key or token refused"),
    (MeterServerError, 13, "EKM Push server error"),
    (MeterApiError, 14, "EKM Push API error"),
    (MeterCommandError, 7, "the device reported failure"),
    (MeterTimeoutError, 4, "timeout"),
    (MeterConnectionError, 3, "cannot reach EKM Push"),
    (MeterFrameError, 5, "malformed response"),
)
PUSH3_EXIT_CODES: tuple[tuple[type[MeterError], int, str], ...] = (
    (MeterAuthError, 6, "gateway key refused"),
    (MeterServerError, 13, "gateway error"),
    (MeterTimeoutError, 4, "timeout"),
    (MeterConnectionError, 3, "cannot reach the Push3"),
    (MeterFrameError, 5, "malformed response"),
)


def _key_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--key",
        default=os.environ.get(KEY_ENVIRONMENT),
        required=KEY_ENVIRONMENT not in os.environ,
        help=f"{what} (never printed; default: ${KEY_ENVIRONMENT})",
    )


def register_push(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `push` group (read, discover) to the tool's family subparsers."""
    push = subparsers.add_parser("push", help="EKM Push cloud (all meters and ioStacks of a key)")
    actions = push.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    _key_option(common, "account, gateway or meter key")
    common.add_argument("--api-url", default=DEFAULT_API_URL, metavar="URL")
    common.add_argument("--account-url", default=None, metavar="URL", help="default: --api-url")
    common.add_argument("--timeout", type=float, default=30.0, metavar="S", help="per request")
    common.add_argument("--json", action="store_true", help="one JSON object")
    read = actions.add_parser("read", parents=[common], help="newest good read of each device")
    read.add_argument("--meters", default=None, metavar="A~B", help="default: all the key sees")
    read.add_argument("--count", type=int, default=1, metavar="N", help="reads per device asked")
    read.set_defaults(handler=handle_push_read)
    discover = actions.add_parser("discover", parents=[common], help="gateways and devices")
    discover.set_defaults(handler=handle_push_discover)
    add_device_actions(actions)  # command, triggers (Device Settings and Trigger APIs)
    add_stream_action(actions, _key_option)  # stream (MQTT)
    add_history_action(actions, _key_option)  # hourly energy (Summary API)


def register_push3(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `push3` group (read) for a gateway's local API."""
    push3 = subparsers.add_parser("push3", help="a Push3 gateway on the LAN")
    actions = push3.add_subparsers(dest="action", metavar="ACTION", required=True)
    read = actions.add_parser("read", help="newest good read of each device on the gateway")
    read.add_argument("--host", required=True, metavar="HOST[:PORT]", help="the gateway's IP")
    _key_option(read, "the gateway key")
    read.add_argument("--timeout", type=float, default=10.0, metavar="S")
    read.add_argument("--json", action="store_true", help="one JSON object")
    read.set_defaults(handler=handle_push3_read)


def _push_client(session: aiohttp.ClientSession, args: argparse.Namespace) -> PushClient:
    # One run, one answer: a rate limit is reported with its wait instead of waited out.
    return PushClient(
        session,
        args.key,
        api_url=args.api_url,
        account_url=args.account_url or args.api_url,
        request_timeout=args.timeout,
        max_wait=0,
    )


async def handle_push_read(args: argparse.Namespace) -> None:
    """Print the newest good read of every device asked for (or every device on the key)."""
    addresses = None if args.meters is None else args.meters.replace(",", "~").split("~")
    async with aiohttp.ClientSession() as session:
        client = _push_client(session, args)
        # Named meters: any refusal is the answer. All meters: one without data is a note.
        readings = await client.read(addresses, count=args.count, isolate=addresses is None)
    _print_readings(readings, args.json)


async def handle_push_discover(args: argparse.Namespace) -> None:
    """Print the gateways, meters and ioStacks the key may see."""
    async with aiohttp.ClientSession() as session:
        inventory = await _push_client(session, args).discover()
    if args.json:
        print(json.dumps(inventory_as_json(inventory)))
        return
    print(_inventory_table(inventory))


async def handle_push3_read(args: argparse.Namespace) -> None:
    """Print the newest good read of every device on a Push3."""
    async with aiohttp.ClientSession() as session:
        client = Push3Client(session, args.host, args.key, request_timeout=args.timeout)
        readings = await client.read()
    if not args.json:
        print(f"Push3 {client.host} (id {gateway_unique_id(readings)})")
    _print_readings(readings, args.json)


def readings_as_json(readings: PushReadings) -> dict[str, dict[str, object]]:
    """Address -> field name -> value, meters first; the shape of `meter ekm read --json`."""
    flat: dict[str, dict[str, object]] = {
        address: dict(meter.reading.fields) for address, meter in readings.meters.items()
    }
    flat.update({address: dict(stack.fields) for address, stack in readings.iostacks.items()})
    return flat


def inventory_as_json(inventory: PushInventory) -> dict[str, object]:
    """The inventory as plain JSON."""
    return {
        "gateways": [
            {"mac": g.mac, "name": g.name, "meters": list(g.meters), "iostacks": list(g.iostacks)}
            for g in inventory.gateways
        ],
        "meters": list(inventory.meters),
        "iostacks": list(inventory.iostacks),
    }


def _print_readings(readings: PushReadings, as_json: bool) -> None:
    if not readings.meters and not readings.iostacks:
        reasons = "; ".join(f"{a}: {why}" for a, why in readings.missing.items())
        msg = f"no device has a good read ({reasons or 'the key sees no device'})"
        raise PushNoDataError(msg, code=1000)
    if as_json:
        print(json.dumps(readings_as_json(readings)))
    else:
        print(_readings_table(readings))
    for address, why in readings.missing.items():
        print(f"note: {address}: {why}", file=sys.stderr)


def print_stream_message(readings: PushReadings, *, as_json: bool) -> None:
    """One MQTT message as `read` prints a poll (one line with --json), then flushed."""
    if as_json:
        print(json.dumps(readings_as_json(readings)), flush=True)
    else:
        print(_readings_table(readings) or "(no good read in this message)", flush=True)
    for address, why in readings.missing.items():
        print(f"note: {address}: {why}", file=sys.stderr)


def _readings_table(readings: PushReadings) -> str:
    lines: list[str] = []
    for address, meter in readings.meters.items():
        reading = meter.reading
        when = meter.timestamp.isoformat() if meter.timestamp else "no time stamp"
        lines.append(
            f"meter {address} ({reading.version}, {reading.model_name}, read {when}"
            + (f", gateway {meter.gateway}" if meter.gateway else "")
            + ")"
        )
        lines += _rows(reading.fields)
    for address, stack in readings.iostacks.items():
        when = stack.timestamp.isoformat() if stack.timestamp else "no time stamp"
        lines.append(f"ioStack {address} (read {when})")
        lines += _rows(stack.fields)
    return "\n".join(lines)


def _rows(fields: Any) -> list[str]:
    width = max((len(name) for name in fields), default=0)
    return [f"  {name:<{width}}  {value}" for name, value in fields.items()]


def _inventory_table(inventory: PushInventory) -> str:
    lines = []
    for gateway in inventory.gateways:
        lines.append(
            f"gateway {gateway.mac} ({gateway.name or 'unnamed'}): "
            f"{len(gateway.meters)} meters, {len(gateway.iostacks)} ioStacks"
        )
        lines += [f"  meter {address}" for address in gateway.meters]
        lines += [f"  iostack {address}" for address in gateway.iostacks]
    on_gateways = {a for g in inventory.gateways for a in (*g.meters, *g.iostacks)}
    lines += [f"meter {a}" for a in inventory.meters if a not in on_gateways]
    lines += [f"iostack {a}" for a in inventory.iostacks if a not in on_gateways]
    return "\n".join(lines) if lines else "no gateways, meters or ioStacks on this key"
