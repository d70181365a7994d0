"""A fake Push3 gateway's local API: `GET /readMeter?key=<gateway key>&cnt=N` over aiohttp.

It serves one gateway of a `PushSimulator` from the same read history, so the LAN, the cloud
and RS-485 show the same numbers. The answer follows the real shape (reedr/ha-ekm-local
tests/fixtures/gateway.json): `{"<address>": [{read}, ...]}`, JSON numbers, kWh as floats,
`Cos_Theta` as "0.83 C", status codes as "00", `Request_Type` 0, no derived fields, plus
`Time_Stamp_UTC_ms` and `Reliability_Ratio`. A wrong key gets HTTP 500 with an HTML page, and
a device whose reads fail keeps being served with its last good read (ever older time stamp).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from custom_components.meterlink.meters.ekm import LAYOUTS, FieldValue, Kind

from ..web import WebService
from .push_cloud import (
    PushSimulator,
    SimRead,
    build,
    cos_theta_text,
    listen_address,
    serve_until_stopped,
)
from .push_cloud import configure as configure_push

_ERROR_PAGE = "<html><head><title>500 Internal Server Error</title></head><body></body></html>"
_KWH_FIELDS = frozenset(s.name for layout in LAYOUTS.values() for s in layout if s.kind is Kind.KWH)
_STATUS_FIELDS = frozenset(
    {"Meter_Status_Code", "Meter_Status_Code_A", "Meter_Status_Code_B", "Meter_Status_Code_C"}
)
_NOT_ON_LAN = ("Power_Factor_Ln_", "Net_Calc_Watts_")


@dataclass
class Push3Faults:
    """LAN misbehaviour: an HTTP status for every request, or truncated JSON."""

    http_status: int | None = None
    truncate: bool = False


class Push3Simulator(WebService):
    """The local API of gateway `mac` (default: the first) of `cloud`."""

    def __init__(self, cloud: PushSimulator, mac: str | None = None) -> None:
        self.cloud = cloud
        self.mac = mac or next(iter(cloud.gateways))
        self.key = cloud.gateway_keys[self.mac]
        self.faults = Push3Faults()
        self.requests = 0
        super().__init__()
        self.app.router.add_get("/readMeter", self._read_meter)

    @property
    def devices(self) -> list[str]:
        """Addresses on this gateway."""
        return list(self.cloud.gateways[self.mac])

    def lan_read(self, address: str, read: SimRead) -> dict[str, object]:
        """One read as the Push3 writes it (numbers, not strings)."""
        entry: dict[str, object] = {}
        values: Mapping[str, FieldValue] = read.values
        for name, value in values.items():
            if name.startswith(_NOT_ON_LAN):
                continue
            if name.startswith("Cos_Theta_Ln_"):
                code = values[f"Power_Factor_Ln_{name[-1]}"]
                entry[name] = cos_theta_text(float(value), int(code))
            elif name in _KWH_FIELDS:
                entry[name] = float(value)
            elif name in _STATUS_FIELDS:
                entry[name] = f"{value:02d}" if isinstance(value, int) else value
            else:
                entry[name] = value
        if address in self.cloud.meters and "kWh_Ln_1" in values:
            entry["Request_Type"] = 0
        history = self.cloud.history[address]
        entry["Time_Stamp_UTC_ms"] = read.timestamp_ms
        entry["Reliability_Ratio"] = round(100 * sum(r.good for r in history) / len(history))
        return entry

    async def _read_meter(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.faults.http_status is not None:
            return web.Response(status=self.faults.http_status, text="error")
        if request.query.get("key") != self.key:
            return web.Response(status=500, text=_ERROR_PAGE, content_type="text/html")
        count_text = request.query.get("cnt", "1")
        count = int(count_text) if count_text.isdigit() and int(count_text) > 0 else 1
        if self.cloud.auto_poll:
            self.cloud.poll()
        document: dict[str, list[dict[str, object]]] = {}
        for address in self.devices:
            good = [read for read in self.cloud.history[address] if read.good]
            if good:
                document[address] = [self.lan_read(address, r) for r in good[-count:][::-1]]
        text = json.dumps(document)
        if self.faults.truncate:
            text = text[: len(text) // 2]
        return web.Response(text=text, content_type="application/json")

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; the `host:port` to give a Push3 client."""
        await self.listen(host, port)
        return self.host


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m simulator push3` (the devices as for ekm-push)."""
    configure_push(parser)
    parser.set_defaults(http="127.0.0.1:8092")


async def run(args: argparse.Namespace) -> None:
    """Serve one gateway's LAN API until SIGINT/SIGTERM; prints host and gateway key."""
    cloud = build(args)
    gateway = Push3Simulator(cloud)
    try:
        await gateway.start(*listen_address(args.http))
        print(f"push3 http {gateway.host} key {gateway.key}")
        sys.stdout.flush()
        await serve_until_stopped(cloud)
    finally:
        await gateway.stop()
