"""Run a simulator from the command line: `python -m simulator KIND [options]`.

Each kind registers how to add its options and how to run; endpoints are printed one per line
(`KIND TRANSPORT ENDPOINT`) and stdout is flushed, so a parent process or a person can connect,
and the simulator runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from custom_components.meterlink.meters.ekm import MeterVersion

from . import egauge, smartmac
from .ekm import push3
from .ekm import push_cloud as ekm_push
from .ekm.meter import SimMeter
from .ekm.rs485 import EkmBusSimulator, Faults

DEFAULT_EKM_METERS = ("000300001001:v4", "000300001002:v4", "000000011766:v3")
_FAULT_OPTIONS = ("bad_crc", "truncate", "silence", "garbage", "wrong_address")


@dataclass(frozen=True)
class Kind:
    """A simulator kind: its options and its coroutine."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], Awaitable[None]]


def _endpoint(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        msg = f"expected HOST:PORT, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return host, int(port)


def _meter(value: str) -> SimMeter:
    address, _, version = value.partition(":")
    try:
        return SimMeter(address, MeterVersion(version or "v4"))
    except ValueError as err:
        msg = f"expected ADDRESS:v3 or ADDRESS:v4, got {value!r}"
        raise argparse.ArgumentTypeError(msg) from err


def _probability(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 1:
        msg = f"a probability is from 0 to 1, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return number


def _configure_ekm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tcp", type=_endpoint, metavar="HOST:PORT", help="serve like a TCP bridge"
    )
    parser.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    parser.add_argument(
        "--meter",
        type=_meter,
        action="append",
        metavar="ADDR:v3|v4",
        help=f"a meter on the bus (repeatable; default {', '.join(DEFAULT_EKM_METERS)})",
    )
    parser.add_argument("--pace", action="store_true", help="send at the real 9600 baud")
    parser.add_argument("--turnaround", type=float, default=0.0, metavar="S")
    for name in _FAULT_OPTIONS:
        option = "--" + name.replace("_", "-")
        parser.add_argument(option, type=_probability, default=0.0, metavar="P", dest=name)
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault generator")


async def _run_ekm(args: argparse.Namespace) -> None:
    meters = args.meter or [_meter(spec) for spec in DEFAULT_EKM_METERS]
    faults = Faults(**{name: getattr(args, name) for name in _FAULT_OPTIONS}, seed=args.seed)
    simulator = EkmBusSimulator(meters, faults=faults, pace=args.pace, turnaround=args.turnaround)
    endpoints: list[tuple[str, str]] = []
    try:
        if args.tcp is not None or not args.pty:
            host, port = args.tcp or ("127.0.0.1", 8899)
            endpoints.append(("tcp", await simulator.start_tcp(host, port)))
        if args.pty:
            endpoints.append(("pty", await simulator.start_pty()))
        for transport, endpoint in endpoints:
            print(f"ekm-rs485 {transport} {endpoint}")
        sys.stdout.flush()
        await _until_stopped()
    finally:
        await simulator.stop()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


KINDS: dict[str, Kind] = {
    "ekm-rs485": Kind("EKM Omnimeters on an RS-485 bus", _configure_ekm, _run_ekm),
    "smartmac": Kind("smart-MAC meters over HTTP", smartmac.configure, smartmac.run),
    "ekm-push": Kind("the EKM Push cloud (Realtime, Account)", ekm_push.configure, ekm_push.run),
    "push3": Kind("a Push3 gateway's local readMeter API", push3.configure, push3.run),
    "egauge": Kind("an eGauge meter's WebAPI (HTTP/HTTPS)", egauge.configure, egauge.run),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse KIND and its options, then run that simulator until signalled."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name, kind in KINDS.items():
        kind.configure(kinds.add_parser(name, help=kind.help))
    args = parser.parse_args(argv)
    try:
        asyncio.run(KINDS[args.kind].run(args))
    except OSError as err:
        print(f"simulator: cannot start: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
