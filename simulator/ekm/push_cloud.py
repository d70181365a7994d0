"""A fake EKM Push cloud: Realtime (readMeter) and Account APIs over aiohttp, with faults.

It serves `SimMeter` objects, the same ones `rs485.EkmBusSimulator` can serve on a bus, so
RS-485, cloud and Push3 show the same numbers: a read's truth is what an RS-485 client decodes
from the meter's frames (v4: B block under A block, like `meter ekm read`), rendered the way
the cloud does (every value a string, `Cos_Theta` as "0.83 C", derived `Net_Calc_Watts_*` and
`Power_Factor_Ln_*`) by code of its own, not by the library's parser.

Keys: the account key sees every device; each gateway has a gateway key (`gateway_keys`) that
sees only its devices, and each device a key of its own (`device_keys`). A "poll" is the
gateways reading every device once: `poll()` records one read per device into `history`
(each request polls first while `auto_poll` is on). `faults` turns on 401/403/429/5xx, API
status codes, truncated JSON or bad reads. The ioStack's fields are not named by any EKM
document; `SimIoStack` invents plausible ones, which is the point: clients must keep fields
they do not know.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

from custom_components.meterlink.meters.ekm import (
    Block,
    FieldValue,
    MeterVersion,
    decode_response,
    encode_response,
)

from ..web import WebService
from .meter import SimMeter

DEFAULT_ACCOUNT_KEY = "MTAxMDoyMDIw"  # EKM's public demo key (seeds 001/003)
DEFAULT_GATEWAY = "4016fa0500cd"  # the gateway MAC of the seeds' trigger examples
IOSTACK_PROTOCOL = "ios"  # undocumented; anything not "v<N>" is an ioStack to clients


def _key(text: str) -> str:
    """Keys look like EKM's: base64 of "<id>:<secret>"."""
    return base64.b64encode(text.encode()).decode()


@dataclass
class SimIoStack:
    """An ioStack: four pulse counters, four analog inputs, four outputs, a 1-Wire probe."""

    address: str
    pulse_rates: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.25, 0.0])
    analog_volts: list[float] = field(default_factory=lambda: [2.5, 0.0, 1.25, 4.9])
    outputs: list[bool] = field(default_factory=lambda: [False, True, False, False])
    celsius: float = 21.5
    firmware: str = "10"
    # What the Device Settings API changes or reports besides counters and outputs.
    password: str = "12345678"
    one_wire: list[str] = field(default_factory=lambda: ["28-00000a1b2c3d", "28-00000a1b2c3e"])
    watch_cleared: bool = False
    clock_set: bool = False

    def __post_init__(self) -> None:
        if self.address.isdigit():
            self.address = self.address.zfill(12)
            seed = int(self.address)
        else:  # the Device Settings API names ioStacks by any id
            seed = sum(map(ord, self.address))
        self._pulses = [float(seed % 100 * n) for n in range(1, 5)]

    @property
    def di_counts(self) -> list[int]:
        """The input counters as the Device Settings API's GetStatus reports them."""
        return [math.floor(count) for count in self._pulses]

    @property
    def do_levels(self) -> list[int]:
        """The output levels as GetStatus reports them (1 = on)."""
        return [int(on) for on in self.outputs]

    def reset_count(self, pin: int) -> None:
        """ResetDiCount: input `pin` (1..4) counts from zero again."""
        self._pulses[pin - 1] = 0.0

    def set_output(self, pin: int, level: int) -> None:
        """SetDoLevel: output `pin` (1..4) on (1) or off (0)."""
        self.outputs[pin - 1] = bool(level)

    def advance(self, seconds: float) -> None:
        """Count pulses for `seconds`."""
        for index, rate in enumerate(self.pulse_rates):
            self._pulses[index] += rate * seconds

    def values(self) -> dict[str, FieldValue]:
        """The fields of the next read."""
        values: dict[str, FieldValue] = {"Firmware": self.firmware, "Meter": self.address}
        for n in range(4):
            values[f"Pulse_Cnt_{n + 1}"] = math.floor(self._pulses[n])
            values[f"AI_{n + 1}"] = round(self.analog_volts[n], 3)
            values[f"State_Out_{n + 1}"] = int(self.outputs[n])
        values["OneWire_Temp_1"] = round(self.celsius, 1)
        return values


def meter_truth(meter: SimMeter) -> dict[str, FieldValue]:
    """What an RS-485 client decodes from the meter now (v4: B block under the A block)."""
    blocks = (Block.V3,) if meter.version is MeterVersion.V3 else (Block.V4B, Block.V4A)
    truth: dict[str, FieldValue] = {}
    for block in blocks:
        frame = encode_response(block, meter.values(block), kwh_scale=meter.kwh_scale)
        truth.update(decode_response(frame, block, kwh_scale=meter.kwh_scale).fields)
    return truth


def cos_theta_text(value: float, code: int) -> str:
    """A power factor the way the cloud and the Push3 write it: "0.83 C", "0.95 L", "1.00"."""
    if code == 100:
        return f"{value:.2f}"
    return f"{value:.2f} {'C' if code > 100 else 'L'}"


@dataclass(frozen=True)
class SimRead:
    """One read a gateway took: when, whether it failed, and the values."""

    timestamp_ms: int
    good: bool
    values: Mapping[str, FieldValue]


@dataclass
class PushFaults:
    """Misbehaviour to serve; `times` limits it to that many requests (None: until cleared)."""

    http_status: int | None = None
    retry_after: str | None = "30"
    api_code: int | None = None
    truncate: bool = False
    bad_reads: set[str] = field(default_factory=set)
    no_data: set[str] = field(default_factory=set)
    account_answer: tuple[int, str] | None = None  # (status, body) of the Account API
    times: int | None = None

    def clear(self) -> None:
        """Serve normally again."""
        self.http_status = self.api_code = self.times = self.account_answer = None
        self.truncate = False
        self.bad_reads.clear()
        self.no_data.clear()


@dataclass(frozen=True)
class ServedRequest:
    """A request as the simulator saw it (which kind of key, never the key itself)."""

    path: str
    key_kind: str
    status: int
    devices: tuple[str, ...] = ()
    url_length: int = 0


API_MESSAGES: dict[int, str] = {
    1000: "There is not data for: {meters}",
    1100: "All invalid query requests",
    1101: "Invalid format",
    1102: "Invalid value",
    1103: "Invalid parameter",
    1200: "Found invalid meter: {meters} for key: {key}",
    1300: "Oops! It looks like there was an unexpected error.",
}


class PushSimulator(WebService):
    """The fake EKM Push service; mutate `meters`, `faults`, `gateways` to stage scenarios."""

    def __init__(
        self,
        meters: Iterable[SimMeter] = (),
        iostacks: Iterable[SimIoStack] = (),
        *,
        gateways: Mapping[str, Iterable[str]] | None = None,
        account_key: str = DEFAULT_ACCOUNT_KEY,
        clock: Callable[[], float] = time.time,
        auto_poll: bool = True,
    ) -> None:
        self.meters: dict[str, SimMeter] = {m.address: m for m in meters}
        self.iostacks: dict[str, SimIoStack] = {s.address: s for s in iostacks}
        everything = [*self.meters, *self.iostacks]
        self.gateways: dict[str, list[str]] = (
            {mac: [a.zfill(12) for a in devices] for mac, devices in gateways.items()}
            if gateways is not None
            else {DEFAULT_GATEWAY: everything}
        )
        self.account_key = account_key
        self.gateway_keys: dict[str, str] = {
            mac: _key(f"{6526943 + n}:gateway-{mac}") for n, mac in enumerate(self.gateways)
        }
        self.device_keys: dict[str, str] = {a: _key(f"{int(a)}:device") for a in everything}
        self.faults = PushFaults()
        self.history: dict[str, list[SimRead]] = {a: [] for a in everything}
        self.served: list[ServedRequest] = []
        self.auto_poll = auto_poll
        # Called with each poll's new reads (address -> read): the MQTT publisher listens here.
        self.poll_listeners: list[Callable[[dict[str, SimRead]], None]] = []
        self._clock = clock
        super().__init__()
        self.app.router.add_get("/readMeter", self._read_meter)
        self.app.router.add_get("/account/api/account", self._account)
        # The Summary API, once push_summary.attach_summary gave it a register history.
        self.summary_handler: Callable[[web.Request], Awaitable[web.Response]] | None = None
        self.app.router.add_get("/summary", self._summary)

    # Scenario --------------------------------------------------------------------------------

    def gateway_of(self, address: str) -> str | None:
        """The MAC of the gateway a device is on."""
        return next((mac for mac, devices in self.gateways.items() if address in devices), None)

    def visible(self, key: str) -> list[str] | None:
        """Devices a key may see, or None for a key the service does not know."""
        if key == self.account_key:
            return [*self.meters, *self.iostacks]
        for mac, gateway_key in self.gateway_keys.items():
            if key == gateway_key:
                return list(self.gateways[mac])
        for address, device_key in self.device_keys.items():
            if key == device_key:
                return [address]
        return None

    def key_kind(self, key: str) -> str:
        """Which kind of key this is: account, gateway, device or invalid."""
        if key == self.account_key:
            return "account"
        if key in self.gateway_keys.values():
            return "gateway"
        return "device" if key in self.device_keys.values() else "invalid"

    def advance(self, seconds: float) -> None:
        """Let every device's registers run for `seconds`."""
        for meter in self.meters.values():
            meter.advance(seconds)
        for stack in self.iostacks.values():
            stack.advance(seconds)

    def poll(self) -> None:
        """The gateways read every device once (bad for those in `faults.bad_reads`)."""
        now_ms = int(self._clock() * 1000)
        taken: dict[str, SimRead] = {}
        for address in self.history:
            if address in self.faults.no_data:
                continue
            if address in self.meters:
                values = meter_truth(self.meters[address])
            else:
                values = self.iostacks[address].values()
            good = address not in self.faults.bad_reads
            taken[address] = SimRead(now_ms, good, values)
            self.history[address].append(taken[address])
            del self.history[address][:-1000]  # the Realtime API keeps 1000 reads
        for listener in self.poll_listeners:
            listener(taken)

    def newest_good(self, address: str) -> SimRead | None:
        """The read a correct client must report for `address`."""
        return next((read for read in reversed(self.history[address]) if read.good), None)

    # Rendering -----------------------------------------------------------------------------

    def cloud_read(self, address: str, read: SimRead) -> dict[str, object]:
        """One ReadData entry: every value a string, like the Realtime API."""
        when = datetime.fromtimestamp(read.timestamp_ms / 1000, UTC)
        entry: dict[str, object] = {
            "Good": 1 if read.good else 0,
            "Date": f"{when:%Y-%m-%d}",
            "Time": f"{when:%H:%M:%S.%f}"[:-3],
            "Time_Stamp_UTC_ms": read.timestamp_ms,
        }
        if not read.good:
            entry["PERR.NR"] = 1
            return entry
        for name, value in read.values.items():
            if name.startswith("Cos_Theta_Ln_"):
                code = read.values[f"Power_Factor_Ln_{name[-1]}"]
                entry[name] = cos_theta_text(float(value), int(code))
            else:
                entry[name] = str(value)
        return entry

    def read_set(self, address: str, count: int) -> dict[str, object]:
        """The ReadSet of one device: its newest `count` reads, newest first."""
        reads = self.history[address][-count:][::-1]
        protocol = (
            self.meters[address].version.value if address in self.meters else IOSTACK_PROTOCOL
        )
        return {
            "Meter": address,
            "Group": 0,
            "Interval": 60,
            "Protocol": protocol,
            "MAC_Addr": self.gateway_of(address) or "",
            "Tz_Offset_Sec": 0,
            "Bad_Reads": sum(not r.good for r in reads),
            "Good_Reads": sum(r.good for r in reads),
            "Credits": 0,
            "ReadData": [self.cloud_read(address, read) for read in reads],
        }

    # HTTP ---------------------------------------------------------------------------------

    def _fault_status(self) -> int | None:
        faults = self.faults
        if faults.times is not None:
            if faults.times <= 0:
                return None
            faults.times -= 1
        return faults.http_status

    def _answer(self, document: object, status: int = 200) -> web.Response:
        text = json.dumps(document)
        if self.faults.truncate:
            text = text[: len(text) // 2]
        return web.Response(text=text, status=status, content_type="application/json")

    def _record(
        self, request: web.Request, kind: str, status: int, devices: Iterable[str] = ()
    ) -> None:
        self.served.append(
            ServedRequest(request.path, kind, status, tuple(devices), len(str(request.rel_url)))
        )

    def _refusal(self, request: web.Request, key: str) -> web.Response | None:
        kind = self.key_kind(key)
        status = self._fault_status()
        if status is not None:
            self._record(request, kind, status)
            headers = {}
            if status == 429 and self.faults.retry_after is not None:
                headers["Retry-After"] = self.faults.retry_after
            return web.Response(status=status, text=f"HTTP {status}", headers=headers)
        if kind == "invalid":
            self._record(request, kind, 401)
            return self._answer({"status_code": "401", "error": "Invalid key"}, 401)
        return None

    def _api_error(self, code: int, devices: Iterable[str], key: str) -> web.Response:
        message = API_MESSAGES.get(code, API_MESSAGES[1100])
        text = message.format(meters="~".join(devices), key=key)
        status = 200 if code < 1100 else 500 if code >= 1300 else 400
        return self._answer({"status_code": code, "message": text}, status)

    async def _read_meter(self, request: web.Request) -> web.Response:
        query = request.query
        key = query.get("key", "")
        refusal = self._refusal(request, key)
        if refusal is not None:
            return refusal
        kind = self.key_kind(key)
        visible = self.visible(key) or []
        asked = [a.zfill(12) for a in query.get("meters", "").split("~") if a]
        devices = asked or visible
        code = self.faults.api_code
        count_text = query.get("cnt", "1")
        if code is None and (query.get("fmt", query.get("format", "json")) != "json"):
            code = 1101
        if code is None and (not count_text.isdigit() or not 1 <= int(count_text) <= 1000):
            code = 1103
        invalid = [a for a in devices if a not in visible]
        if code is None and invalid:
            code = 1200
            devices = invalid
        if code is None and self.auto_poll:
            self.poll()
        with_data = [a for a in devices if self.history.get(a)]
        if code is None and not with_data:
            code = 1000
        if code is not None:
            response = self._api_error(code, devices, key)
            self._record(request, kind, response.status, devices)
            return response
        self._record(request, kind, 200, with_data)
        read_sets = [self.read_set(address, int(count_text)) for address in with_data]
        return self._answer({"readMeter": {"ReadSet": read_sets}})

    async def _summary(self, request: web.Request) -> web.Response:
        if self.summary_handler is None:
            raise web.HTTPNotFound
        return await self.summary_handler(request)

    async def _account(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        refusal = self._refusal(request, key)
        if refusal is not None:
            return refusal
        kind = self.key_kind(key)
        visible = self.visible(key) or []
        if self.faults.account_answer is not None:
            status, body = self.faults.account_answer
            self._record(request, kind, status)
            return web.Response(status=status, text=body)
        self._record(request, kind, 200, visible)
        if kind == "device":
            address = visible[0]
            listed = "meters" if address in self.meters else "iostacks"
            return self._answer({listed: [{"address": address}]})
        # The shape public working clients read (vendor-evidence.md A1): top-level gateways
        # named by `mac_address` (meters nested as on /account/api/gateway), top-level meters.
        gateways = [
            {
                "mac_address": mac,
                "name": f"Push3 {mac}",
                "meters": [{"address": a} for a in devices if a in self.meters],
                "iostacks": [{"address": a} for a in devices if a in self.iostacks],
            }
            for mac, devices in self.gateways.items()
            if kind == "account" or set(devices) <= set(visible)
        ]
        meters = [{"address": a} for a in visible if a in self.meters]
        return self._answer({"gateways": gateways, "meters": meters})

    # Lifecycle -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; the base URL to give a client as `api_url` and `account_url`."""
        await self.listen(host, port)
        return self.base_url


# Command line (`python -m simulator ekm-push`) -----------------------------------------------

DEFAULT_METERS = ("000300001001:v4", "000300001002:v4", "000000011766:v3")  # as ekm-rs485
DEFAULT_IOSTACKS = ("000000900001",)
DEFAULT_TOKEN = "simulated-read-write-token"


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m simulator ekm-push` (meters as for ekm-rs485)."""
    from . import push_mqtt  # it builds on this module

    parser.add_argument("--http", default="127.0.0.1:8091", metavar="HOST:PORT", help="listen")
    parser.add_argument("--meter", action="append", metavar="ADDR:v3|v4", help="repeatable")
    parser.add_argument("--iostack", action="append", metavar="ADDR", help="repeatable")
    parser.add_argument("--key", default=DEFAULT_ACCOUNT_KEY, help="the account key")
    parser.add_argument(
        "--token", default=DEFAULT_TOKEN, help="a READ/WRITE API token (sendCommand, triggers)"
    )
    push_mqtt.configure(parser)


def sim_meter(spec: str) -> SimMeter:
    """A meter from `ADDRESS[:v3|v4]`."""
    address, _, version = spec.partition(":")
    try:
        return SimMeter(address, MeterVersion(version or "v4"))
    except ValueError as err:
        msg = f"expected ADDRESS:v3 or ADDRESS:v4, got {spec!r}"
        raise argparse.ArgumentTypeError(msg) from err


def build(args: argparse.Namespace) -> PushSimulator:
    """The simulator the options describe (also used by the `push3` kind)."""
    meters = [sim_meter(spec) for spec in (args.meter or DEFAULT_METERS)]
    stacks = [SimIoStack(a) for a in (args.iostack or DEFAULT_IOSTACKS)]
    return PushSimulator(meters, stacks, account_key=args.key)


def listen_address(value: str) -> tuple[str, int]:
    """HOST:PORT as a pair."""
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port) if port.isdigit() else 0


async def run(args: argparse.Namespace) -> None:
    """Serve until SIGINT/SIGTERM, printing the base URL and every key."""
    from . import push_mqtt
    from .push_device_api import TokenInfo, attach_to_cloud
    from .push_summary import attach_summary

    simulator = build(args)
    tokens = {args.token: TokenInfo("account-1")} if getattr(args, "token", None) else {}
    attach_to_cloud(simulator, tokens)
    publisher = None
    attach_summary(simulator, first_report=datetime.now(UTC) - timedelta(days=30))
    try:
        await simulator.start(*listen_address(args.http))
        print(f"ekm-push http {simulator.base_url} account-key {simulator.account_key}")
        for token in tokens:
            print(f"ekm-push api-token {token} (READ/WRITE)")
        for mac, key in simulator.gateway_keys.items():
            print(f"ekm-push gateway {mac} key {key}")
        sys.stdout.flush()
        publisher = await push_mqtt.start_from_args(simulator, args)
        await serve_until_stopped(simulator)
    finally:
        if publisher is not None:
            await publisher.stop()
        await simulator.stop()


async def serve_until_stopped(simulator: PushSimulator) -> None:
    """Let the devices run (one simulated second per second) until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            simulator.advance(1.0)
