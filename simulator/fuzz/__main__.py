"""`python -m simulator.fuzz`: fuzz every parser family, or print the linearity figures.

Prints one line per family (inputs, rate, refused and parsed inputs, escapes, the slowest
input) and every escape with its smallest input; exits 1 when anything escaped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import linearity
from .families import FAMILIES
from .run import Result, run_family

DEFAULT_COUNT = 1_000_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="inputs per family")
    parser.add_argument("--seed", type=int, default=0, help="replay a run with its seed")
    parser.add_argument(
        "--family",
        action="append",
        choices=[family.name for family in FAMILIES],
        help="only this family (repeatable; default: all)",
    )
    parser.add_argument("--slow-ms", type=float, default=50.0, help="flag inputs slower than this")
    parser.add_argument("--list", action="store_true", help="list the families and exit")
    parser.add_argument(
        "--linearity", action="store_true", help="print the decoders' cost per input size"
    )
    return parser


def _short(data: bytes, limit: int = 120) -> str:
    text = repr(data)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(data)} bytes)"


def _line(result: Result, slow_ms: float) -> str:
    slowest_ms = result.slowest * 1000
    flag = " SLOW" if slowest_ms > slow_ms else ""
    return (
        f"{result.family:18} {result.inputs:>9} {result.rate:>9.0f}/s {result.refused:>9} "
        f"{result.parsed:>9} {result.escape_count:>7} {slowest_ms:>9.2f} ms{flag} "
        f"({len(result.slowest_input)} B)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzzer; 0 when nothing escaped."""
    args = _parser().parse_args(argv)
    if args.list:
        for family in FAMILIES:
            print(family.name)
        return 0
    if args.linearity:
        for line in linearity.run():
            print(line, flush=True)
        return 0
    chosen = [f for f in FAMILIES if not args.family or f.name in args.family]
    print(f"seed {args.seed}, {args.count} inputs per family", flush=True)
    print(
        f"{'family':18} {'inputs':>9} {'rate':>11} {'refused':>9} {'parsed':>9} "
        f"{'escapes':>7} {'slowest':>12}",
        flush=True,
    )
    results = []
    for family in chosen:
        result = run_family(family, args.count, args.seed)
        results.append(result)
        print(_line(result, args.slow_ms), flush=True)
    escaped = False
    for result in results:
        for escape in result.escapes.values():
            escaped = True
            print(
                f"ESCAPE {result.family}: {escape.kind} at {escape.where} x{escape.count}: "
                f"{escape.message}\n  smallest input: {_short(escape.data, 400)}",
                flush=True,
            )
        if result.slowest * 1000 > args.slow_ms:
            print(f"SLOW {result.family}: {_short(result.slowest_input)}", flush=True)
    total = sum(r.inputs for r in results)
    seconds = sum(r.seconds for r in results)
    print(
        f"total {total} inputs in {seconds:.1f} s, {sum(r.escape_count for r in results)} escapes"
    )
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
