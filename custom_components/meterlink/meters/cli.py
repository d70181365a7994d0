"""Commissioning tool: read a meter or change one setting from a shell, without Home Assistant.

`scripts/meter ekm read --port URL --address ADDR` (which runs `python -m meters.cli` with
`custom_components/meterlink` on the path, so Home Assistant is not imported).
Device families register themselves in `FAMILIES` (one function that adds their subcommands),
so Push, Push3 or smart-MAC tools can live in their own modules. Failures end with exactly one
line on stderr naming the reason and a distinct exit code, never a traceback or a password,
because installers run this from scripts and over remote shells.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from .egauge.cli import EGAUGE_EXIT_CODES
from .egauge.cli import register as register_egauge
from .ekm import commands
from .ekm.bus import BusTiming, EkmBus
from .ekm.commands import Command, login_frame
from .ekm.layout import Block
from .ekm.reading import EkmReading, MeterVersion
from .errors import (
    InvalidParameterError,
    MeterAddressError,
    MeterAuthError,
    MeterCommandError,
    MeterConnectionError,
    MeterCrcError,
    MeterError,
    MeterFrameError,
    MeterRateLimitError,
    MeterTimeoutError,
    MeterUnsupportedError,
)
from .push.cli import PUSH3_EXIT_CODES, PUSH_EXIT_CODES, register_push, register_push3
from .smartmac.cli import SMARTMAC_EXIT_CODES
from .smartmac.cli import register as register_smartmac

PROG = "meter"
DEFAULT_PASSWORD = "00000000"

type Handler = Callable[[argparse.Namespace], Awaitable[None]]
type Subparsers = argparse._SubParsersAction[OneLineParser]

# Most specific first: the first matching type decides the exit code and the reason.
EXIT_CODES: tuple[tuple[type[MeterError], int, str], ...] = (
    (InvalidParameterError, 2, "invalid parameter"),
    (MeterConnectionError, 3, "cannot open port"),
    (MeterTimeoutError, 4, "timeout"),
    (MeterCrcError, 5, "CRC failure"),
    (MeterAddressError, 5, "another meter answered"),
    (MeterFrameError, 5, "malformed response"),
    (MeterAuthError, 6, "password refused"),
    (MeterCommandError, 7, "command not acknowledged"),
    (MeterUnsupportedError, 8, "not supported by this meter"),
    (MeterRateLimitError, 9, "rate limited"),
    (MeterError, 1, "meter error"),
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other failure."""

    def error(self, message: str) -> NoReturn:
        """Exit 2 with one line instead of usage plus message."""
        _fail(2, "invalid arguments", f"{self.prog}: {message}")


def _fail(code: int, reason: str, detail: str) -> NoReturn:
    print(f"{PROG}: {reason}: {' '.join(detail.split())}", file=sys.stderr)
    raise SystemExit(code)


@dataclass(frozen=True)
class Family:
    """A device family's subcommand tree (`meter ekm ...`)."""

    name: str
    help: str
    register: Callable[[Subparsers], None]
    # Checked before EXIT_CODES: a family may word a refusal its own way ("PIN refused").
    exit_codes: tuple[tuple[type[MeterError], int, str], ...] = ()


@dataclass(frozen=True)
class Option:
    """One argparse option, as data so the subcommand table stays declarative."""

    flags: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Setting:
    """An `ekm` subcommand that sends one settings write built from its options."""

    name: str
    help: str
    options: tuple[Option, ...]
    build: Callable[[argparse.Namespace], Command]


# Parsing of list-like option values ---------------------------------------------------------


def _numbers(text: str, what: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        msg = f"{what} are comma-separated numbers"
        raise InvalidParameterError(msg) from None


def _pairs(text: str, what: str, pattern: str) -> list[tuple[int, ...]]:
    """Split "a<sep>b=c,..." items into number tuples; `pattern` only names the format."""
    result = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            result.append(
                tuple(int(number) for number in item.replace("=", ":").replace("-", ":").split(":"))
            )
        except ValueError:
            msg = f"{what} are written {pattern}"
            raise InvalidParameterError(msg) from None
    return result


def _triples(text: str, what: str, pattern: str) -> list[tuple[int, int, int]]:
    items = _pairs(text, what, pattern)
    if any(len(item) != 3 for item in items):
        msg = f"{what} are written {pattern}"
        raise InvalidParameterError(msg)
    return [(a, b, c) for a, b, c in items]


def _dates(text: str) -> list[tuple[int, int]]:
    items = _pairs(text, "holidays", "MM-DD,MM-DD,...")
    if any(len(item) != 2 for item in items):
        msg = "holidays are written MM-DD,MM-DD,..."
        raise InvalidParameterError(msg)
    return [(a, b) for a, b in items]


def _when(text: str | None) -> datetime:
    if text is None:
        return datetime.now().replace(microsecond=0)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        msg = "the time is ISO 8601, e.g. 2026-03-01T12:00:00"
        raise InvalidParameterError(msg) from None
    # The meter clock has no time zone: an aware time is shown in local time.
    return when.astimezone().replace(tzinfo=None) if when.tzinfo else when


_INT = {"type": int, "required": True}

EKM_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "relay",
        "open or close output relay 1 or 2 (v4)",
        (
            Option(("--relay",), {"type": int, "required": True, "metavar": "1|2"}),
            Option(("--state",), {"choices": ("open", "close"), "required": True}),
            Option(("--seconds",), {"type": int, "default": 0, "help": "0 = hold"}),
        ),
        lambda a: commands.relay(a.relay, a.state == "close", a.seconds),
    ),
    Setting(
        "set-time",
        "set the meter clock (default: this computer's local time)",
        (Option(("--time",), {"metavar": "ISO", "default": None}),),
        lambda a: commands.set_time(_when(a.time)),
    ),
    Setting(
        "ct-ratio",
        "set the current-transformer ratio",
        (Option(("--amps",), _INT),),
        lambda a: commands.ct_ratio(a.amps),
    ),
    Setting(
        "demand-period",
        "set the max-demand period",
        (Option(("--minutes",), _INT | {"metavar": "15|30|60"}),),
        lambda a: commands.max_demand_period(a.minutes),
    ),
    Setting("reset-demand", "reset max demand now", (), lambda a: commands.max_demand_reset()),
    Setting(
        "auto-reset",
        "set the automatic max-demand reset (v4)",
        (Option(("--interval",), {"required": True, "choices": tuple(commands.AUTO_RESET)}),),
        lambda a: commands.max_demand_auto_reset(a.interval),
    ),
    Setting(
        "pulse-ratio",
        "set a pulse input's ratio (v4)",
        (Option(("--input",), _INT | {"metavar": "1|2|3"}), Option(("--ratio",), _INT)),
        lambda a: commands.pulse_input_ratio(a.input, a.ratio),
    ),
    Setting(
        "pulse-output",
        "set the pulse output constant in impulses per kWh (v4)",
        (Option(("--ratio",), _INT),),
        lambda a: commands.pulse_output_ratio(a.ratio),
    ),
    Setting(
        "zero-resettable",
        "zero the resettable kWh registers (v4)",
        (),
        lambda a: commands.zero_resettable_kwh(),
    ),
    Setting(
        "lcd",
        "choose the items the display cycles through (v4)",
        (Option(("--items",), {"required": True, "metavar": "1,2,3"}),),
        lambda a: commands.lcd_items(_numbers(a.items, "LCD items")),
    ),
    Setting(
        "schedule",
        "set tariff schedule N",
        (
            Option(("--number",), _INT | {"metavar": "1..6"}),
            Option(("--periods",), {"required": True, "metavar": "HH:MM=T,..."}),
        ),
        lambda a: commands.schedule(a.number, _triples(a.periods, "periods", "HH:MM=T,...")),
    ),
    Setting(
        "seasons",
        "set the seasons: from which date which schedule applies",
        (Option(("--seasons",), {"required": True, "metavar": "MM-DD=S,..."}),),
        lambda a: commands.seasons(_triples(a.seasons, "seasons", "MM-DD=S,...")),
    ),
    Setting(
        "holidays",
        "set the holiday dates",
        (Option(("--dates",), {"required": True, "metavar": "MM-DD,..."}),),
        lambda a: commands.holidays(_dates(a.dates)),
    ),
    Setting(
        "weekend-schedules",
        "choose the schedules used on weekends and holidays",
        (Option(("--weekend",), _INT), Option(("--holiday",), _INT)),
        lambda a: commands.weekend_holiday_schedules(a.weekend, a.holiday),
    ),
)


# EKM handlers ------------------------------------------------------------------------------


def _bus(args: argparse.Namespace) -> EkmBus:
    timing = BusTiming(baudrate=args.baudrate, turnaround=args.turnaround)
    return EkmBus(args.port, timing=timing, retries=args.retries)


async def _version(bus: EkmBus, args: argparse.Namespace) -> MeterVersion:
    if args.version is not None:
        return MeterVersion(args.version)
    return (await bus.identify(args.address)).version


async def _read(args: argparse.Namespace) -> None:
    async with _bus(args) as bus:
        if args.version is not None:
            reading = await bus.read_meter(args.address, MeterVersion(args.version))
        else:
            reading = await bus.identify(args.address)
            if reading.version is MeterVersion.V4:
                scale = reading.code("kWh_Scale")
                block_b = await bus.read_block(args.address, Block.V4B, kwh_scale=scale)
                reading = reading.merged_with(block_b)
    print(json.dumps(dict(reading.fields), indent=2) if args.json else _table(reading))


def _table(reading: EkmReading) -> str:
    head = (
        f"meter {reading.address} ({reading.version}, {reading.model_name}, "
        f"firmware {reading.firmware})"
    )
    width = max(len(name) for name in reading.fields)
    return "\n".join(
        [head, *(f"{name:<{width}}  {value}" for name, value in reading.fields.items())]
    )


def _setting_handler(setting: Setting) -> Handler:
    async def handle(args: argparse.Namespace) -> None:
        command = setting.build(args)  # refuses bad input before the port is opened
        login_frame(args.password)
        async with _bus(args) as bus:
            version = await _version(bus, args)
            await bus.execute(args.address, command, args.password, version)
        print(f"meter {args.address}: {command.description}: done")

    return handle


def _bus_options() -> OneLineParser:
    common = OneLineParser(add_help=False)
    common.add_argument("--port", required=True, metavar="URL", help="serial port or socket://")
    common.add_argument("--address", required=True, metavar="ADDR", help="9 or 12 digits")
    versions = common.add_mutually_exclusive_group()
    versions.add_argument("--v3", dest="version", action="store_const", const="v3")
    versions.add_argument("--v4", dest="version", action="store_const", const="v4")
    common.add_argument("--baudrate", type=int, default=9600, help=argparse.SUPPRESS)
    common.add_argument("--turnaround", type=float, default=1.0, metavar="S")
    common.add_argument("--retries", type=int, default=2, metavar="N")
    return common


def register_ekm(families: Subparsers) -> None:
    """The `ekm` subcommands: read, and one per entry of EKM_SETTINGS."""
    ekm = families.add_parser("ekm", help="EKM Omnimeters on RS-485")
    actions = ekm.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = _bus_options()
    read = actions.add_parser("read", parents=[common], help="print one meter's reading")
    read.add_argument("--json", action="store_true", help="EKM field names to values")
    read.set_defaults(handler=_read)
    for setting in EKM_SETTINGS:
        sub = actions.add_parser(setting.name, parents=[common], help=setting.help)
        for option in setting.options:
            sub.add_argument(*option.flags, **option.kwargs)
        sub.add_argument("--password", default=DEFAULT_PASSWORD, help="8 digits")
        sub.set_defaults(handler=_setting_handler(setting))


FAMILIES: tuple[Family, ...] = (
    Family("ekm", "EKM Omnimeters", register_ekm),
    Family(
        "smartmac", "smart-MAC / smart-MAIC Wi-Fi meters", register_smartmac, SMARTMAC_EXIT_CODES
    ),
    Family("push", "EKM Push cloud", register_push, PUSH_EXIT_CODES),
    Family("push3", "EKM Push3 gateway on the LAN", register_push3, PUSH3_EXIT_CODES),
    Family("egauge", "eGauge meters over the WebAPI", register_egauge, EGAUGE_EXIT_CODES),
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = OneLineParser(prog=PROG, description="Read and commission electricity meters.")
    families = parser.add_subparsers(dest="family", metavar="FAMILY", required=True)
    for family in FAMILIES:
        family.register(families)
    return parser


async def async_main(argv: Sequence[str] | None = None) -> int:
    """Run one command in a running loop; the exit code says how it ended (see EXIT_CODES)."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        await handler(args)
    except MeterError as err:
        family_codes = next(f.exit_codes for f in FAMILIES if f.name == args.family)
        code, reason = next(
            (c, r) for kind, c, r in (*family_codes, *EXIT_CODES) if isinstance(err, kind)
        )
        detail = str(err) or err.__class__.__name__
        if isinstance(err, MeterRateLimitError) and err.retry_after is not None:
            detail = f"{detail}; retry in {err.retry_after:.0f} s"
        print(f"{PROG}: {reason}: {' '.join(detail.split())}", file=sys.stderr)
        return code
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `scripts/meter`."""
    try:
        return asyncio.run(async_main(argv))
    except KeyboardInterrupt:
        _fail(130, "interrupted", "stopped by the user")


if __name__ == "__main__":
    sys.exit(main())
