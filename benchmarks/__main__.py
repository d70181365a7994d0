"""Benchmarks: `python -m benchmarks rs485` (EKM RS-485 path) and `... push` (EKM Push in HA).

`rs485`:

1. How close a poll cycle (the A block of every meter, as the coordinator reads them) comes
   to the wire-time lower bound on a bus paced at 9600 baud 7E1. Everything above 1.0 is
   client overhead plus the meters' turnaround.
2. The same v4 meter read through a pty by EKM's own blocking `ekmmeters` 0.2.5 and by
   `EkmBus`. ekmmeters is not a project dependency: it goes into a throwaway virtual
   environment under /tmp and runs in a subprocess, because it blocks and uses pyserial.

`egauge`: see `benchmarks.egauge` (one-request polls against core's two-request shape).

`mqtt-parse`: see `benchmarks.mqtt` (CPU per MQTT message in the library).

`push`: see `benchmarks.push` (a real Home Assistant in-process, 1/100/1000 meters on one
EKM Push key: requests, CPU milliseconds and state writes per poll).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from custom_components.meterlink.meters.ekm import BusTiming, EkmBus, MeterVersion
from simulator.ekm.meter import SimMeter
from simulator.ekm.rs485 import CHAR_TIME, EkmBusSimulator

TURNAROUND = 0.005
REQUEST_BYTES = 19  # "/?" + 12 address digits + "00" + "!\r\n"
RESPONSE_BYTES = 255
CLOSE_BYTES = 5  # SOH "B0" ETX "u", sent after each meter's session
BENCH_ENV = Path("/tmp/meterlink-bench-env")
EKMMETERS = "ekmmeters==0.2.5"

_EKMMETERS_SCRIPT = """
import sys, time
import ekmmeters
port = ekmmeters.SerialPort(sys.argv[1])
if not port.initPort():
    sys.exit("cannot open " + sys.argv[1])
meter = ekmmeters.V4Meter(sys.argv[2])
meter.attachPort(port)
reads = int(sys.argv[3])
good = 0
start = time.monotonic()
for _ in range(reads):
    good += bool(meter.request())
elapsed = time.monotonic() - start
port.closePort()
print("RESULT", elapsed, good)
"""


@dataclass(frozen=True)
class CycleResult:
    """One bus size: measured poll-cycle time against the wire-time lower bound."""

    meters: int
    cycles: int
    cycle_time: float
    bytes_per_cycle: float

    @property
    def wire_time(self) -> float:
        """The bytes of one cycle at 10 bits per character, nothing else."""
        return self.bytes_per_cycle * CHAR_TIME

    @property
    def ratio(self) -> float:
        """Cycle time over the wire-time lower bound (target <= 1.15)."""
        return self.cycle_time / self.wire_time


def _addresses(count: int) -> list[str]:
    return [f"{300001001 + index:012d}" for index in range(count)]


async def poll_cycles(meters: int, cycles: int) -> CycleResult:
    """Time `cycles` poll cycles of `meters` v4 meters on a paced bus behind a TCP bridge."""
    addresses = _addresses(meters)
    simulator = EkmBusSimulator(
        [SimMeter(address) for address in addresses], pace=True, turnaround=TURNAROUND
    )
    url = await simulator.start_tcp()
    try:
        async with EkmBus(url, timing=BusTiming(turnaround=0.5, gap=0.1)) as bus:
            await bus.read_meter(addresses[0], MeterVersion.V4, include_b=False)  # warm up
            sent, received = bus.stats.bytes_sent, bus.stats.bytes_received
            start = time.monotonic()
            for _ in range(cycles):
                for address in addresses:
                    await bus.read_meter(address, MeterVersion.V4, include_b=False)
            elapsed = time.monotonic() - start
            wire_bytes = bus.stats.bytes_sent - sent + bus.stats.bytes_received - received
            if bus.stats.retries:
                print(f"  note: {bus.stats.retries} retries during the run", file=sys.stderr)
    finally:
        await simulator.stop()
    return CycleResult(meters, cycles, elapsed / cycles, wire_bytes / cycles)


def ensure_ekmmeters() -> Path | None:
    """The throwaway venv's python with ekmmeters installed, or None (reason printed)."""
    python = BENCH_ENV / "bin" / "python"
    check = [str(python), "-c", "import ekmmeters, serial"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    steps = [
        [sys.executable, "-m", "venv", str(BENCH_ENV)],
        [str(python), "-m", "pip", "install", "--quiet", EKMMETERS, "pyserial"],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"ekmmeters comparison skipped: {' '.join(step[:4])} failed: {last}")
            return None
    return python


async def _run_ekmmeters(python: Path, port: str, address: str, reads: int) -> tuple[float, int]:
    process = await asyncio.create_subprocess_exec(
        str(python),
        "-c",
        _EKMMETERS_SCRIPT,
        port,
        address,
        str(reads),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("RESULT "):
            _, elapsed, good = line.split()
            return float(elapsed), int(good)
    message = err.decode(errors="replace").strip().splitlines() or ["no result"]
    raise RuntimeError(message[-1])


async def compare_with_ekmmeters(python: Path, reads: int) -> tuple[float, int, float]:
    """Wall time of `reads` A+B reads: (ekmmeters seconds, its good reads, EkmBus seconds)."""
    address = _addresses(1)[0]
    simulator = EkmBusSimulator([SimMeter(address)], pace=True, turnaround=TURNAROUND)
    try:
        path = await simulator.start_pty()
        theirs, good = await _run_ekmmeters(python, path, address, reads)
        async with EkmBus(path) as bus:
            await bus.connect()
            start = time.monotonic()
            for _ in range(reads):
                await bus.read_meter(address, MeterVersion.V4, include_b=True)
            ours = time.monotonic() - start
    finally:
        await simulator.stop()
    return theirs, good, ours


async def rs485(sizes: Sequence[int], cycles: Sequence[int], reads: int, compare: bool) -> None:
    """Print both tables."""
    per_meter = REQUEST_BYTES + RESPONSE_BYTES + CLOSE_BYTES
    print("EKM RS-485 poll cycle: A block of every v4 meter, simulated bus paced at 9600 baud 7E1")
    print(f"(10 bits per character = {CHAR_TIME * 1000:.4f} ms), ", end="")
    print(f"meter turnaround {TURNAROUND * 1000:.0f} ms,")
    print("client EkmBus over a TCP bridge (socket://). Bytes counted per meter and cycle:")
    print(
        f"  request {REQUEST_BYTES} + A response {RESPONSE_BYTES} + close frame {CLOSE_BYTES} "
        f"= {per_meter} bytes; the lower bound is those bytes x 10 bits / 9600 baud"
    )
    print("  (it leaves out the meters' turnaround, so turnaround counts against the ratio).")
    print()
    header = ("meters", 6), ("cycles", 6), ("bytes/cycle", 11), ("wire bound", 11)
    print(
        " ".join(f"{name:>{width}}" for name, width in (*header, ("cycle time", 11), ("ratio", 6)))
    )
    for meters, count in zip(sizes, cycles, strict=True):
        result = await poll_cycles(meters, count)
        print(
            f"{result.meters:>6} {result.cycles:>6} {result.bytes_per_cycle:>11.0f} "
            f"{result.wire_time * 1000:>9.1f}ms {result.cycle_time * 1000:>9.1f}ms "
            f"{result.ratio:>6.3f}"
        )
    print("target: ratio <= 1.15")
    if not compare:
        return
    print()
    print(f"One v4 meter through a pty, {reads} full reads (A + B blocks), same paced simulator:")
    python = ensure_ekmmeters()
    if python is None:
        return
    theirs, good, ours = await compare_with_ekmmeters(python, reads)
    print(f"{'client':<28} {'wall time':>10} {'per read':>10} {'good reads':>10}")
    print(f"{'ekmmeters 0.2.5 (pyserial)':<28} {theirs:>9.2f}s {theirs / reads:>9.3f}s {good:>10}")
    print(f"{'EkmBus (serialx, asyncio)':<28} {ours:>9.2f}s {ours / reads:>9.3f}s {reads:>10}")
    print(f"ratio ekmmeters / EkmBus: {theirs / ours:.2f}")
    wire = 2 * (REQUEST_BYTES + RESPONSE_BYTES) * CHAR_TIME
    print(f"(wire time of one A + B read: {wire * 1000:.0f} ms; ekmmeters sleeps 0.2 s after")
    print(" every write and every response and polls every 20 ms; EkmBus adds a close frame)")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: which benchmark, and how long to run it."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    benches = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    bench = benches.add_parser("rs485", help="EKM RS-485 poll cycle and ekmmeters comparison")
    bench.add_argument("--reads", type=int, default=5, help="reads per client in the comparison")
    bench.add_argument("--quick", action="store_true", help="fewer cycles")
    bench.add_argument("--no-compare", action="store_true", help="skip the ekmmeters comparison")
    push = benches.add_parser("push", help="EKM Push key in Home Assistant: cost per poll")
    push.add_argument("--sizes", default="1,100,1000", help="meters on the key, comma-separated")
    push.add_argument("--polls", type=int, default=7, help="polls measured per scenario")
    push.add_argument("--rows-only", action="store_true", help=argparse.SUPPRESS)
    egauge = benches.add_parser("egauge", help="eGauge: requests and CPU per poll vs core's shape")
    egauge.add_argument("--sizes", default="8,64", help="registers on the meter, comma-separated")
    egauge.add_argument("--polls", type=int, default=200, help="polls measured per row")
    mqtt = benches.add_parser("mqtt-parse", help="EKM MQTT message parse cost (library)")
    mqtt.add_argument("--sizes", default="1,100,1000", help="meters per message")
    mqtt.add_argument("--runs", type=int, default=200, help="runs per 100 meters")
    history = benches.add_parser("history", help="EKM Summary backfill: requests and time")
    history.add_argument("--sizes", default="1,10", help="meters (1 meter-year each)")
    history.add_argument("--days", type=int, default=365, help="history per meter")
    args = parser.parse_args(argv)
    if args.bench == "egauge":
        from .egauge import egauge_bench

        asyncio.run(egauge_bench([int(size) for size in args.sizes.split(",") if size], args.polls))
        return 0
    if args.bench == "mqtt-parse":
        from .mqtt import mqtt_parse_bench

        mqtt_parse_bench([int(size) for size in args.sizes.split(",") if size], args.runs)
        return 0
    if args.bench == "history":
        from .history import history_bench

        asyncio.run(history_bench([int(n) for n in args.sizes.split(",") if n], args.days))
        return 0
    if args.bench == "push":
        from .push import push_bench

        sizes = [int(size) for size in args.sizes.split(",") if size]
        asyncio.run(push_bench(sizes, args.polls, rows_only=args.rows_only))
        return 0
    cycles = (3, 2, 1) if args.quick else (10, 5, 2)
    asyncio.run(rs485((1, 4, 16), cycles, args.reads, not args.no_compare))
    return 0


if __name__ == "__main__":
    sys.exit(main())
