"""`meter push history`: hourly import/export energy of EKM meters from the Summary API.

`--json` prints one object, `{"<12-digit address>": [{"start", "import_kwh", "export_kwh",
"import_total", "export_total"}, ...]}`: one row per UTC hour in the range that has data,
oldest first. `*_kwh` is the hour's end register minus the end register of the latest earlier
hour with data (searched before --from for the first row, so the rows add up to the
register's change), `*_total` the register at the hour's end. Other tools read this shape, so
it is a contract. Exit codes are those of `push read`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import aiohttp

from ..errors import InvalidParameterError
from ..history_rows import hour_row, utc_time
from .status import PushNoDataError
from .summary import DEFAULT_SUMMARY_URL, from_ms
from .summary_client import DEFAULT_MIN_INTERVAL, MeterHistory, SummaryClient

CLI_MAX_WAIT = 30.0
"""A 429 asking for longer than this ends the run (exit 9) instead of being waited out."""


def add_history_action(
    actions: argparse._SubParsersAction[Any],
    key_option: Callable[[argparse.ArgumentParser, str], None],
) -> argparse.ArgumentParser:
    """Add `history` to the `push` group (`key_option` adds --key as the group does)."""
    history: argparse.ArgumentParser = actions.add_parser(
        "history", help="hourly energy from the Summary API"
    )
    key_option(history, "account, gateway or meter key")
    history.add_argument("--meters", required=True, metavar="A~B", help="meter addresses")
    history.add_argument("--from", dest="start", required=True, metavar="ISO8601", type=utc_time)
    history.add_argument("--to", dest="end", required=True, metavar="ISO8601", type=utc_time)
    history.add_argument("--summary-url", default=DEFAULT_SUMMARY_URL, metavar="URL")
    history.add_argument("--json", action="store_true", help="one JSON object")
    history.add_argument(
        "--pace",
        type=float,
        default=DEFAULT_MIN_INTERVAL,
        metavar="S",
        help=f"seconds between requests (default {DEFAULT_MIN_INTERVAL:g})",
    )
    history.set_defaults(handler=handle_push_history)
    return history


async def handle_push_history(args: argparse.Namespace) -> None:
    """Print the hourly energy of every meter asked for in [--from, --to)."""
    if args.end <= args.start:
        msg = "--to must be after --from"
        raise InvalidParameterError(msg)
    meters = [m for m in args.meters.replace(",", "~").split("~") if m.strip()]
    async with aiohttp.ClientSession() as session:
        client = SummaryClient(
            session,
            args.key,
            summary_url=args.summary_url,
            min_interval=args.pace,
            max_wait=CLI_MAX_WAIT,
        )
        histories, _ = await client.history(meters, args.start, args.end, isolate=False)
    if not any(h.energy.hours for h in histories.values()):
        msg = f"no summary data for {'~'.join(histories) or args.meters} in the range"
        raise PushNoDataError(msg, code=1001)
    if args.json:
        print(
            json.dumps(
                {m: [hour_row(h) for h in hist.energy.hours] for m, hist in histories.items()}
            )
        )
    else:
        print(_table(histories))
    for meter, history in histories.items():
        for drop in history.energy.drops:
            kind = "reset (meter swapped?)" if drop.reset else "dip held"
            print(
                f"note: {meter}: {drop.register} register went from {drop.before} to "
                f"{drop.after} at {from_ms(drop.as_of_ms).isoformat()}: {kind}",
                file=sys.stderr,
            )


def _table(histories: dict[str, MeterHistory]) -> str:
    lines: list[str] = []
    for meter, history in histories.items():
        hours = history.energy.hours
        imported = sum(h.import_kwh for h in hours)
        exported = sum(h.export_kwh for h in hours)
        lines.append(
            f"meter {meter}: {len(hours)} hours, import {imported:.3f} kWh, "
            f"export {exported:.3f} kWh"
        )
        lines.append(
            f"  {'hour (UTC)':<25}  {'import kWh':>10}  {'export kWh':>10}"
            f"  {'import total':>12}  {'export total':>12}"
        )
        lines += [
            f"  {from_ms(h.start_ms).isoformat():<25}  {h.import_kwh:>10.3f}  "
            f"{h.export_kwh:>10.3f}  {h.import_total:>12.3f}  {h.export_total:>12.3f}"
            for h in hours
        ]
    return "\n".join(lines)
