"""Simulated smart-MAC / smart-MAIC Wi-Fi meters (D101, D103 standard/extended, D105) over HTTP.

The simulator answers `GET /?page=getdata&devid=..&devpass=..[&pout=0|1]` the way the vendor
doc shows (HTTP/1.0-style `Connection: close`, `Server: smart-MAC`, string values, `br`
separators with a raw newline), and does what the doc only hints at so the client's handling
of it is exercised over real sockets: a rate limit answered with 429, a refused PIN in the three
shapes seen in the wild, and a device that drops off the network. It builds its JSON itself
rather than through the library, so a library bug cannot make both sides agree by accident.

Energy registers integrate power over simulated time; `SimSmartMac.last_numbers` is the truth
of the last answer (the numbers its strings stand for), for tests to compare readings with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlencode

from aiohttp import web

from custom_components.meterlink.meters.smartmac import SmartMacModel

STANDARD_INTERVAL = 60.0  # the vendor doc's limits, restated so the simulator stays independent
EXTENDED_INTERVAL = 6.0
DEFAULT_PIN = "012345"
DOC_WALL_TIME = 1530607456  # `time` of the vendor doc's example answer

_LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Login</title></head>"
    "<body><form method='get'><input type='hidden' name='page' value='devlogin'>"
    "<input type='password' name='devpass'><button>OK</button></form></body></html>"
)
_PHASE_DEFAULTS = {  # the vendor doc's example, phase by phase
    "volts": [220.89, 213.40, 218.59],
    "watts": [586.0, 30.0, 37.0],
    "power_factor": [0.94, 0.42, 0.60],
    "energy": [33549075.0, 4831905.0, 6710742.0],
}


class WrongPinAnswer(StrEnum):
    """How a device answers a wrong PIN: undocumented, so every reported shape is available."""

    LOGIN_PAGE = "login"  # HTTP 200, text/html, <title>Login</title>
    HTTP_401 = "401"
    JSON_ERROR = "json"  # HTTP 200, {"error": "wrong password"}


class Offline(StrEnum):
    """How a device is unreachable."""

    REFUSE = "refuse"  # nothing listens: connection refused
    SILENT = "silent"  # connections are accepted but never answered


@dataclass(frozen=True, slots=True)
class ServedRequest:
    """One getdata request as the device saw it (simulated monotonic seconds)."""

    at: float
    status: int
    outcome: str  # "ok", "wrong-pin", "rate-limited"
    pout: str | None


@dataclass
class SimSmartMac:
    """One device; mutate the public fields to stage a scenario (call `sync()` first).

    Powers are signed per phase: positive imports (W, Wh), negative exports (rW, rWh). The relay
    follows `pout_on`: by default `pout=1` switches it on and the answer carries "1" while it is on.
    """

    devid: str
    model: SmartMacModel = SmartMacModel.D103
    extended: bool = True
    pin: str = DEFAULT_PIN
    own_port: bool = False
    wrong_pin_answer: WrongPinAnswer = WrongPinAnswer.LOGIN_PAGE
    rate_limit: bool = True
    retry_after_header: bool = True
    energy_spaces: bool = True  # totals like "44 091 722"; per-phase Wh as in the doc
    volts: list[float] = field(default_factory=lambda: list(_PHASE_DEFAULTS["volts"]))
    watts: list[float] = field(default_factory=lambda: list(_PHASE_DEFAULTS["watts"]))
    power_factor: list[float] = field(default_factory=lambda: list(_PHASE_DEFAULTS["power_factor"]))
    frequency: float = 50.0
    temperature: float = 14.0
    relay_on: bool = False
    # The `pout` that means on. The vendor's annotated answer ("0-Off / 1-On") and the public
    # working client say "1"; the vendor's request text says "0" (vendor-evidence.md S4).
    pout_on: str = "1"
    # HTTP status of the answer to a relay command that was carried out anyway (the public
    # client's issue #27: "Unknown Error, but the switching happens"); None answers normally.
    pout_error: int | None = None
    pulse_rates: list[float] = field(default_factory=lambda: [12.0, 0.5])  # per minute
    probe_temperatures: list[float] = field(default_factory=lambda: [21.5, 22.0, -5.2, 4.0, 60.5])
    adc: float = 1.23
    energy_wh: list[float] = field(default_factory=lambda: list(_PHASE_DEFAULTS["energy"]))
    reverse_energy_wh: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    pulse_totals: list[float] = field(default_factory=lambda: [10450.0, 377.0])
    requests: list[ServedRequest] = field(default_factory=list, init=False)
    last_served: dict[str, str] = field(default_factory=dict, init=False)
    last_numbers: dict[str, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.model is SmartMacModel.UNKNOWN:
            msg = "a simulated device is a D101, D103 or D105"
            raise ValueError(msg)
        if self.model is SmartMacModel.D105:
            self.extended = False  # no extended D105 is documented

    @property
    def phases(self) -> int:
        """Number of measured lines."""
        return 3 if self.model is SmartMacModel.D103 else 1

    @property
    def interval(self) -> float:
        """Seconds this device wants between requests."""
        return EXTENDED_INTERVAL if self.extended else STANDARD_INTERVAL

    @property
    def pout(self) -> str:
        """The relay state as the device reports it (vendor polarity)."""
        return self.pout_on if self.relay_on else str(1 - int(self.pout_on))

    @property
    def request_times(self) -> list[float]:
        """When each request arrived, whatever its outcome."""
        return [request.at for request in self.requests]

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass: integrate power into energy and pulse rates into totals."""
        if seconds < 0:
            msg = "time only moves forward"
            raise ValueError(msg)
        for phase in range(self.phases):
            watt_hours = self.watts[phase] * seconds / 3600
            if watt_hours >= 0:
                self.energy_wh[phase] += watt_hours
            else:
                self.reverse_energy_wh[phase] -= watt_hours
        for channel, rate in enumerate(self.pulse_rates):
            self.pulse_totals[channel] += rate * seconds / 60

    def document(self, wall_time: int) -> str:
        """The getdata answer body as the device would send it; records what it carries."""
        entries: list[tuple[str, str, str, float | None]] = []  # key, name, unit, number
        match self.model:
            case SmartMacModel.D105:
                self._pulse_entries(entries)
            case SmartMacModel.D101:
                self._phase_entries(entries, "", 0)
                entries.append(("T", "Temperature", "°C", float(round(self.temperature))))
            case _:
                for phase in range(self.phases):
                    self._phase_entries(entries, str(phase + 1), phase)
                    entries.append((f"br{phase}", "\n", "", None))
                self._total_entries(entries)
        data: dict[str, dict[str, str]] = {}
        served = {"devid": self.devid, "time": str(wall_time), "pout": self.pout}
        numbers: dict[str, float] = {}
        for key, name, unit, number in entries:
            if number is None:
                data[key] = {"name": name}
                continue
            text = self._format(key, number)
            data[key] = {"name": name, "unit": unit, "value": text}
            served[key] = text
            numbers[key] = number
        self.last_served, self.last_numbers = served, numbers
        document = {"devid": self.devid, "time": str(wall_time), "pout": self.pout, "data": data}
        # The device puts a raw newline in the `br` names (invalid strict JSON); so do we.
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).replace("\\n", "\n")

    def _phase_entries(
        self, entries: list[tuple[str, str, str, float | None]], suffix: str, phase: int
    ) -> None:
        label = f" {suffix}" if suffix else ""
        volts = round(self.volts[phase], 2)
        power_factor = round(abs(self.power_factor[phase]), 2)
        watts = self.watts[phase]
        amps = round(abs(watts) / (volts * power_factor), 2) if volts * power_factor else 0.0
        entries += [
            (f"V{suffix}", f"Voltage{label}", "V", volts),
            (f"A{suffix}", f"Current{label}", "A", amps),
            (f"W{suffix}", f"Active Power{label}", "W", float(round(max(watts, 0.0)))),
        ]
        if self.extended:
            entries.append(
                (f"rW{suffix}", f"Rev. Active Power{label}", "W", float(round(max(-watts, 0.0))))
            )
        entries.append((f"Wh{suffix}", f"Energy{label}", "Wh", math.floor(self.energy_wh[phase])))
        if self.extended:
            entries += [
                (
                    f"rWh{suffix}",
                    f"Rev. Energy{label}",
                    "Wh",
                    math.floor(self.reverse_energy_wh[phase]),
                ),
                (f"PF{suffix}", f"Power Factor{label}", "", power_factor),
                (f"Fr{suffix}", f"Frequency{label}", "Hz", round(self.frequency, 2)),
            ]

    def _total_entries(self, entries: list[tuple[str, str, str, float | None]]) -> None:
        """Totals from the rounded per-phase numbers, so they add up exactly as served."""
        served = {key: number for key, _, _, number in entries if number is not None}
        suffixes = [str(phase + 1) for phase in range(self.phases)]

        def total(prefix: str) -> float:
            return round(sum(served[f"{prefix}{suffix}"] for suffix in suffixes), 2)

        entries += [
            ("A", "Current", "A", total("A")),
            ("W", "Active Power", "W", total("W")),
        ]
        if self.extended:
            entries.append(("rW", "Rev. Active Power", "W", total("rW")))
        entries.append(("TWh", "Total Energy", "Wh", total("Wh")))
        if self.extended:
            entries.append(("rTWh", "Total Rev. Energy", "Wh", total("rWh")))
        entries.append(("T", "Temperature", "°C", float(round(self.temperature))))

    def _pulse_entries(self, entries: list[tuple[str, str, str, float | None]]) -> None:
        for channel in (1, 2):
            rate = float(round(self.pulse_rates[channel - 1]))
            entries.append((f"Ch{channel}", f"Channel {channel}", "", rate))
        for channel in (1, 2):
            count = float(math.floor(self.pulse_totals[channel - 1]))
            entries.append((f"TCh{channel}", f"Total Channel {channel}", "", count))
        for probe, celsius in enumerate(self.probe_temperatures[:5], start=1):
            entries.append((f"T{probe}", f"Temperature {probe}", "°C", round(celsius, 1)))
        entries.append(("ADC", "ADC", "V", round(self.adc, 2)))

    def _format(self, key: str, number: float) -> str:
        if key.endswith(("Wh", "Wh1", "Wh2", "Wh3")) or key.startswith("TCh"):
            spaced = self.energy_spaces and key in {"TWh", "rTWh"}
            return f"{int(number):,}".replace(",", " ") if spaced else str(int(number))
        if key.startswith(("W", "rW", "Ch")) or key == "T":
            return str(int(number))
        if key.startswith("T"):
            return f"{number:.1f}"
        return f"{number:.2f}"


@dataclass
class _Site:
    """One listening endpoint: the shared one, or a device's own."""

    devids: set[str]
    runner: web.AppRunner
    host: str = "127.0.0.1"
    port: int = 0
    tcp: web.TCPSite | None = None
    offline: Offline | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)


_SITE_KEY = web.AppKey("site", _Site)


class SmartMacSimulator:
    """Serves several simulated devices, told apart by `devid` (optionally each on its own port).

    `clock` is the device's monotonic time (inject a fake one to run rate limits without
    waiting); `advance` moves simulated time on top of it.
    """

    def __init__(
        self,
        devices: Iterable[SimSmartMac],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_time_start: int = DOC_WALL_TIME,
    ) -> None:
        self.devices: dict[str, SimSmartMac] = {}
        for device in devices:
            if device.devid in self.devices:
                msg = f"device {device.devid} is given twice"
                raise ValueError(msg)
            self.devices[device.devid] = device
        self._clock = clock
        self._offset = 0.0
        self._start = clock()
        self._wall_time_start = wall_time_start
        self._synced = self._start
        self._shared: _Site | None = None
        self._own: dict[str, _Site] = {}

    def now(self) -> float:
        """Simulated monotonic seconds."""
        return self._clock() + self._offset

    def wall_time(self) -> int:
        """The device's Unix time (the `time` field)."""
        return int(self._wall_time_start + self.now() - self._start)

    def advance(self, seconds: float) -> None:
        """Let simulated time pass for every device (rate limits included)."""
        if seconds < 0:
            msg = "time only moves forward"
            raise ValueError(msg)
        self.sync()
        self._offset += seconds
        self.sync()

    def sync(self) -> None:
        """Integrate every device up to now, so changes made next apply from now on."""
        now = self.now()
        elapsed = max(0.0, now - self._synced)
        self._synced = max(self._synced, now)
        for device in self.devices.values():
            device.advance(elapsed)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start listening; the base URL of the shared endpoint (devices without own port)."""
        shared = {devid for devid, device in self.devices.items() if not device.own_port}
        self._shared = await self._start_site(shared, host, port)
        for devid, device in self.devices.items():
            if device.own_port:
                self._own[devid] = await self._start_site({devid}, host, 0)
        return self.base_url()

    def base_url(self, devid: str | None = None) -> str:
        """`http://host:port` of the shared endpoint, or of the device's own."""
        return f"http://{self.host_for(devid)}"

    def host_for(self, devid: str | None = None) -> str:
        """`host:port` a client is configured with to reach `devid`."""
        site = self._site(devid)
        return f"{site.host}:{site.port}"

    def url_for(self, devid: str, pout: str | None = None) -> str:
        """The full getdata URL of a device, with its PIN (handy for curl)."""
        device = self.devices[devid]
        query = [("page", "getdata"), ("devid", devid), ("devpass", device.pin)]
        if pout is not None:
            query.append(("pout", pout))
        return f"{self.base_url(devid)}/?{urlencode(query)}"

    async def set_offline(self, mode: Offline, devid: str | None = None) -> None:
        """Take an endpoint off the network: the shared one, or the device's own port."""
        site = self._site(devid)
        await self.set_online(devid)
        site.offline = mode
        site.release = asyncio.Event()
        if mode is Offline.REFUSE and site.tcp is not None:
            await site.tcp.stop()
            site.tcp = None

    async def set_online(self, devid: str | None = None) -> None:
        """Bring an endpoint back on the same port."""
        site = self._site(devid)
        site.offline = None
        site.release.set()
        if site.tcp is None:
            site.tcp = web.TCPSite(site.runner, site.host, site.port)
            await site.tcp.start()

    async def stop(self) -> None:
        """Stop every endpoint; safe to call twice."""
        sites = [site for site in (self._shared, *self._own.values()) if site is not None]
        self._shared, self._own = None, {}
        for site in sites:
            site.release.set()
            await site.runner.cleanup()

    async def __aenter__(self) -> SmartMacSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _site(self, devid: str | None) -> _Site:
        site = self._own.get(devid) if devid is not None else None
        site = site or self._shared
        if site is None:
            msg = "the simulator is not running"
            raise RuntimeError(msg)
        return site

    async def _start_site(self, devids: set[str], host: str, port: int) -> _Site:
        app = web.Application()
        app.router.add_get("/", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        site = _Site(devids, runner, host)
        app[_SITE_KEY] = site
        await runner.setup()
        site.tcp = web.TCPSite(runner, host, port)
        await site.tcp.start()
        site.port = site.tcp.port
        return site

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        site = request.app[_SITE_KEY]
        if site.offline is Offline.SILENT:
            await site.release.wait()
            return web.Response(status=503, text="Service Unavailable")
        query = request.query
        if query.get("page") != "getdata":
            return _close(web.Response(status=404, text="Not Found"))
        devid = query.get("devid", "")
        device = self.devices.get(devid) if devid in site.devids else None
        pout = query.get("pout")
        if device is None:
            return _close(_wrong_pin(WrongPinAnswer.LOGIN_PAGE))
        self.sync()
        now = self.now()
        if query.get("devpass") != device.pin:
            device.requests.append(ServedRequest(now, 401, "wrong-pin", pout))
            return _close(_wrong_pin(device.wrong_pin_answer))
        accepted = [r.at for r in device.requests if r.outcome == "ok"]
        if device.rate_limit and accepted and now - accepted[-1] < device.interval:
            wait = max(1, math.ceil(device.interval - (now - accepted[-1])))
            device.requests.append(ServedRequest(now, 429, "rate-limited", pout))
            headers = {"Retry-After": str(wait)} if device.retry_after_header else {}
            return _close(web.Response(status=429, text="Too Many Requests", headers=headers))
        device.requests.append(ServedRequest(now, 200, "ok", pout))
        if pout in {"0", "1"}:
            device.relay_on = pout == device.pout_on
            if device.pout_error is not None:
                return _close(web.Response(status=device.pout_error, text="Unknown Error"))
        body = device.document(self.wall_time())
        response = web.Response(
            body=body.encode("utf-8"),
            content_type="application/json",
            charset="utf-8",
            headers={"Server": "smart-MAC"},
        )
        return _close(response)


def _wrong_pin(answer: WrongPinAnswer) -> web.Response:
    match answer:
        case WrongPinAnswer.HTTP_401:
            return web.Response(status=401, text="Unauthorized")
        case WrongPinAnswer.JSON_ERROR:
            return web.json_response({"error": "wrong password"})
        case _:
            return web.Response(text=_LOGIN_PAGE, content_type="text/html", charset="utf-8")


def _close(response: web.Response) -> web.Response:
    """The device closes every connection after answering (HTTP/1.0, `Connection: close`)."""
    response.force_close()
    return response


# Command line (`python -m simulator smartmac`) -----------------------------------------------

_MODEL_SPECS: dict[str, tuple[SmartMacModel, bool]] = {
    "d101": (SmartMacModel.D101, False),
    "d103": (SmartMacModel.D103, False),
    "d103x": (SmartMacModel.D103, True),
    "d105": (SmartMacModel.D105, False),
}
DEFAULT_DEVICES = ("1728053249:d103x", "1728053250:d103", "1728053251:d101", "1728053252:d105")


def _device(value: str) -> SimSmartMac:
    devid, _, rest = value.partition(":")
    spec, _, pin = rest.partition(":")
    if not devid or (spec or "d103x") not in _MODEL_SPECS:
        msg = f"expected DEVID[:d101|d103|d103x|d105[:PIN]], got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    model, extended = _MODEL_SPECS[spec or "d103x"]
    return SimSmartMac(devid, model, extended, pin or DEFAULT_PIN)


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        msg = f"expected HOST:PORT, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return host, int(port)


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m simulator smartmac`."""
    parser.add_argument(
        "--http", type=_listen, default=("127.0.0.1", 8090), metavar="HOST:PORT", help="listen"
    )
    parser.add_argument(
        "--device",
        type=_device,
        action="append",
        metavar="DEVID[:MODEL[:PIN]]",
        help=f"a device (repeatable; default {', '.join(DEFAULT_DEVICES)}; PIN {DEFAULT_PIN})",
    )
    parser.add_argument(
        "--wrong-pin",
        choices=[answer.value for answer in WrongPinAnswer],
        default=WrongPinAnswer.LOGIN_PAGE.value,
        help="how a wrong PIN is answered",
    )
    parser.add_argument("--no-rate-limit", action="store_true", help="never answer 429")


async def run(args: argparse.Namespace) -> None:
    """Serve until SIGINT/SIGTERM; prints one `smartmac http URL` line per device."""
    devices: list[SimSmartMac] = args.device or [_device(spec) for spec in DEFAULT_DEVICES]
    for device in devices:
        device.wrong_pin_answer = WrongPinAnswer(args.wrong_pin)
        device.rate_limit = not args.no_rate_limit
    simulator = SmartMacSimulator(devices)
    try:
        await simulator.start(*args.http)
        for device in devices:
            print(f"smartmac http {simulator.url_for(device.devid)}")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await simulator.stop()
