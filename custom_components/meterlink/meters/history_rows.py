"""The `history --json` row and time options shared by every family's history command.

`meter push history` and `meter egauge history` print the same contract row, so other tools
read either one way; it is written here once.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from .energy_hours import EnergyHour


def utc_time(text: str) -> datetime:
    """An argparse type: ISO 8601, where a time without an offset is UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        msg = f"{text!r} is not an ISO 8601 time"
        raise argparse.ArgumentTypeError(msg) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def hour_row(hour: EnergyHour) -> dict[str, object]:
    """One hour in the JSON shape of the contract."""
    return {
        "start": datetime.fromtimestamp(hour.start_ms / 1000, UTC).isoformat(),
        "import_kwh": hour.import_kwh,
        "export_kwh": hour.export_kwh,
        "import_total": hour.import_total,
        "export_total": hour.export_total,
    }
