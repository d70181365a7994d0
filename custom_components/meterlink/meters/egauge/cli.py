"""`meter egauge read|history|cmd`: commission an eGauge meter from a shell.

`register` adds the command group to the commissioning tool (`meters/cli.py`). Output and exit
codes are a contract other tools parse: `read --json` prints one object, `history --json` the
rows of `meter push history --json` keyed by register name, `cmd` prints the
meter's final answer as JSON, and failures end with one line on stderr and the exit code of
`EGAUGE_EXIT_CODES` (then the tool's own table). The password is never printed, and neither
are the secrets of a command (a Wi-Fi key, a mail password).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from ..errors import (
    InvalidParameterError,
    MeterApiError,
    MeterAuthError,
    MeterCommandError,
    MeterConnectionError,
    MeterError,
    MeterPermissionError,
    MissingSaveRightError,
)
from ..history_rows import hour_row, utc_time
from ..http import redact
from . import commands
from .client import EgaugeClient
from .commands import CommandRequest
from .history import fetch_rows, register_hours, totals_of
from .models import EpochMismatch, Reading

# Checked before the commissioning tool's own table, first match wins.
EGAUGE_EXIT_CODES: tuple[tuple[type[MeterError], int, str], ...] = (
    (MeterConnectionError, 3, "cannot connect"),
    (MeterAuthError, 6, "credentials refused"),
    (MissingSaveRightError, 6, "save right missing"),
    (MeterPermissionError, 6, "rights refused"),
    (MeterCommandError, 7, "operation failed on the meter"),
    (MeterApiError, 7, "the meter refused the request"),
)


@dataclass(frozen=True)
class Operation:
    """One `cmd` operation: its options and how they become a validated request."""

    name: str
    help: str
    options: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]
    params: Callable[[argparse.Namespace], dict[str, Any]]

    def build(self, args: argparse.Namespace) -> CommandRequest:
        """The validated request (the library checks the values)."""
        return commands.build(self.name, self.params(args))


def _when(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        msg = "times are ISO 8601, e.g. 2026-03-01T12:00:00+00:00"
        raise InvalidParameterError(msg) from None
    return when.timestamp()  # a time without a zone is this computer's local time


def _regs(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        msg = "registers are comma-separated database ids, e.g. 0,3,5"
        raise InvalidParameterError(msg) from None


def _set_time(args: argparse.Namespace) -> dict[str, Any]:
    if args.resync:
        return {"time": None}
    when = _when(args.time)
    return {"time": time.time() if when is None else when}


def _restore(args: argparse.Namespace) -> dict[str, Any]:
    try:
        data = Path(args.file).read_bytes()
    except OSError as err:
        msg = f"cannot read the backup file: {err.strerror}"
        raise InvalidParameterError(msg) from None
    return {"data": data, "more_chunks": args.more_chunks}


def _db(args: argparse.Namespace) -> dict[str, Any]:
    return {"from": _when(args.start), "to": _when(args.stop), "regs": _regs(args.regs)}


_RANGE = (
    (("--from",), {"dest": "start", "metavar": "ISO8601", "help": "not older than"}),
    (("--to",), {"dest": "stop", "metavar": "ISO8601", "help": "not younger than"}),
    (("--regs",), {"metavar": "DID,...", "help": "only these registers (database ids)"}),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("reboot", "restart the meter (20-60 s offline)", (), lambda a: {}),
    Operation(
        "set-time",
        "set the clock (default: this computer's time) or --resync with NTP",
        (
            (("--time",), {"metavar": "ISO8601"}),
            (("--resync",), {"action": "store_true", "help": "only restart NTP/PTP"}),
        ),
        _set_time,
    ),
    Operation(
        "clear",
        "clear the replay excess or the web cache",
        ((("--what",), {"required": True, "choices": ("excess", "web_cache")}),),
        lambda a: {"what": a.what},
    ),
    Operation(
        "update-list",
        "show the newest firmware available",
        (
            (("--target",), {"choices": ("fw", "kernel"), "default": "fw"}),
            (("--branch",), {}),
        ),
        lambda a: {"target": a.target, "branch": a.branch},
    ),
    Operation(
        "update-install",
        "install a firmware version (the meter reboots)",
        (
            (("--version",), {"required": True, "metavar": "V"}),
            (("--target",), {"choices": ("fw", "kernel"), "default": "fw"}),
            (("--branch",), {}),
            (("--force",), {"action": "store_true", "help": "even if not newer"}),
        ),
        lambda a: {"version": a.version, "target": a.target, "force": a.force, "branch": a.branch},
    ),
    Operation(
        "test-email",
        "send a test e-mail",
        (
            (("--address",), {"required": True}),
            (("--smarthost",), {}),
            (("--mailuser",), {}),
            (("--mailpass",), {"help": "never printed"}),
            (("--fromaddr",), {}),
        ),
        lambda a: {
            key: getattr(a, key)
            for key in ("address", "smarthost", "mailuser", "mailpass", "fromaddr")
        },
    ),
    Operation(
        "test-remote",
        "try a remote device and list its registers",
        (
            (("--address",), {"required": True}),
            (("--linktype",), {"required": True, "choices": sorted(commands.LINK_TYPES)}),
        ),
        lambda a: {"address": a.address, "linktype": a.linktype},
    ),
    Operation(
        "activate",
        "activate the alert or push service",
        (
            (("--service",), {"required": True, "choices": ("alert", "push")}),
            (("--provider",), {"required": True, "metavar": "NAME"}),
        ),
        lambda a: {"service": a.service, "provider": a.provider},
    ),
    Operation(
        "cancel",
        "cancel a long operation",
        ((("--token",), {"required": True, "metavar": "T"}),),
        lambda a: {"token": a.token},
    ),
    Operation(
        "db-zero",
        "zero the database (destroys data; needs --yes)",
        _RANGE,
        _db,
    ),
    Operation(
        "db-restore",
        "restore a backup chunk (overwrites data; needs --yes)",
        (
            (("--file",), {"required": True, "metavar": "PATH"}),
            (("--more-chunks",), {"action": "store_true"}),
        ),
        _restore,
    ),
    Operation(
        "db-split",
        "split net registers' positive changes (rewrites data; needs --yes)",
        _RANGE,
        _db,
    ),
    Operation(
        "factory-restore",
        "restore factory settings (erases everything; needs --yes)",
        (),
        lambda a: {},
    ),
    Operation(
        "wlan",
        "add, select or forget a Wi-Fi network (needs --yes)",
        (
            (("--action",), {"required": True, "choices": ("add", "select", "forget")}),
            (("--ssid",), {}),
            (("--key",), {"help": "passphrase or hex key (never printed)"}),
            (("--hex",), {"action": "store_true", "help": "the key is hexadecimal"}),
            (("--hidden",), {"action": "store_true"}),
            (("--id",), {"type": int, "dest": "network_id"}),
        ),
        lambda a: {
            "action": a.action,
            "ssid": a.ssid,
            "key": a.key,
            "hex": a.hex,
            "hidden": a.hidden,
            "id": a.network_id,
        },
    ),
    Operation(
        "homeplug",
        "set the HomePlug encryption password (needs --yes)",
        (
            (("--homeplug-password",), {"required": True, "help": "never printed"}),
            (("--target",), {"required": True, "action": "append", "metavar": "MAC/DEK"}),
        ),
        lambda a: {"password": a.homeplug_password, "targets": a.target},
    ),
)


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", required=True, metavar="HOST[:PORT]", help="name, IP or proxy")
    common.add_argument("--user", required=True)
    common.add_argument("--password", required=True, help="never printed nor sent (digest login)")
    common.add_argument("--http", action="store_true", help="plain HTTP (eGauge2, EG30xx)")
    common.add_argument("--verify-tls", action="store_true", help="check the certificate")
    common.add_argument("--timeout", type=float, default=10.0, metavar="S", help="per request")
    common.add_argument("--json", action="store_true", help="one JSON object")
    return common


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `egauge` group (read, cmd OPERATION) to the tool's family subparsers."""
    egauge = subparsers.add_parser("egauge", help="eGauge meters over the WebAPI")
    actions = egauge.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = _connection_options()
    read = actions.add_parser("read", parents=[common], help="print every register")
    read.set_defaults(handler=handle_read)
    history = actions.add_parser("history", parents=[common], help="hourly energy of P registers")
    history.add_argument("--from", dest="start", required=True, metavar="ISO8601", type=utc_time)
    history.add_argument("--to", dest="end", required=True, metavar="ISO8601", type=utc_time)
    history.add_argument(
        "--step", type=int, default=3600, metavar="S", help="seconds between rows (default 3600)"
    )
    history.set_defaults(handler=handle_history)
    cmd = actions.add_parser("cmd", help="run a /cmd operation")
    operations = cmd.add_subparsers(dest="operation", metavar="OPERATION", required=True)
    for operation in OPERATIONS:
        sub = operations.add_parser(operation.name, parents=[common], help=operation.help)
        for flags, options in operation.options:
            sub.add_argument(*flags, **options)
        sub.add_argument("--no-wait", action="store_true", help="print the token and return")
        sub.add_argument("--yes", action="store_true", help="confirm a destructive operation")
        sub.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
        sub.set_defaults(handler=_command_handler(operation))


def _client(session: aiohttp.ClientSession, args: argparse.Namespace) -> EgaugeClient:
    return EgaugeClient(
        session,
        args.host,
        args.user,
        args.password,
        https=not args.http,
        verify_tls=args.verify_tls,
        request_timeout=args.timeout,
    )


async def handle_read(args: argparse.Namespace) -> None:
    """Print who the meter is and every register: a table, or one JSON object."""
    async with aiohttp.ClientSession() as session:
        client = _client(session, args)
        info = await client.device_info()
        reading = await client.read()
    if isinstance(reading, EpochMismatch):  # pragma: no cover - no condition was sent
        msg = "the meter answered a condition that was not asked"
        raise MeterApiError(msg)
    document = reading_as_json(info.serial, info.hostname, info.model, reading)
    print(json.dumps(document) if args.json else _table(document))


async def handle_history(args: argparse.Namespace) -> None:
    """Print every power register's hours in [--from, --to): a table, or the contract JSON."""
    start, stop = args.start.timestamp(), args.end.timestamp()
    if stop <= start or args.step < 1:
        msg = "--to must be after --from, and --step at least 1 s"
        raise InvalidParameterError(msg)
    async with aiohttp.ClientSession() as session:
        fetched = await fetch_rows(_client(session, args), start, stop, args.step)
    energy = register_hours(fetched.rows, fetched.registers, start, stop)
    if args.json:
        print(json.dumps({name: [hour_row(h) for h in e.hours] for name, e in energy.items()}))
        return
    for name, (imported, exported) in totals_of(energy).items():
        hours = len(energy[name].hours)
        print(f"{name}: {hours} hours, import {imported:.3f} kWh, export {exported:.3f} kWh")


def reading_as_json(serial: str, hostname: str, model: str, reading: Reading) -> dict[str, Any]:
    """The `read --json` object (the issue's contract), signs as the meter reports them."""
    registers: dict[str, Any] = {}
    for name, value in reading.values.items():
        kind = value.register.type
        entry: dict[str, Any] = {
            "type": kind.code,
            "virtual": value.register.virtual,
            "rate": value.rate,
            "unit": kind.unit,
        }
        total = value.total
        if total is not None and kind.total_unit is not None:
            entry["total"] = total
            entry["total_unit"] = kind.total_unit
        registers[name] = entry
    return {
        "serial": serial,
        "hostname": hostname,
        "model": model,
        "time": reading.ts,
        "registers": registers,
    }


def _table(document: dict[str, Any]) -> str:
    lines = [
        f"{document['hostname']} ({document['model']}, serial {document['serial']}), "
        f"meter time {datetime.fromtimestamp(document['time']).isoformat(timespec='seconds')}"
    ]
    rows = [
        (
            name,
            f"{entry['type']}{' (virtual)' if entry['virtual'] else ''}",
            "-" if entry["rate"] is None else f"{entry['rate']:g} {entry['unit']}".strip(),
            f"{entry['total']:.3f} {entry['total_unit']}" if "total" in entry else "",
        )
        for name, entry in document["registers"].items()
    ]
    widths = [max((len(row[c]) for row in rows), default=0) for c in range(3)]
    lines += [
        f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in rows
    ]
    return "\n".join(lines)


def _command_handler(operation: Operation) -> Callable[[argparse.Namespace], Any]:
    async def handle(args: argparse.Namespace) -> None:
        request = operation.build(args)  # refuses bad input before anything is sent
        if request.destructive and not args.yes:
            msg = f"{operation.name} changes or destroys data on the meter: add --yes"
            raise InvalidParameterError(msg)
        async with aiohttp.ClientSession() as session:
            result = await commands.run(
                _client(session, args), request, wait=not args.no_wait, poll_interval=args.poll
            )
        text = json.dumps(result.as_json())
        print(redact(text, args.password, *request.secrets))

    return handle
