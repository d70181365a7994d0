"""A development Home Assistant with the device simulators, started the way scripts/develop does.

The browser tests need what a user gets from ``scripts/develop --demo``: Home Assistant with the
real frontend, MeterLink loaded from this work tree, the simulators as separate processes, and
onboarding done with the demo account. Everything here listens on ephemeral ports of 127.0.0.1
and lives in a temporary config directory, so a run touches neither ``config/`` nor port 8123
and two runs can share a machine. Onboarding and the demo's config entries go through
``scripts/demo.py``, the very code ``scripts/develop --demo`` runs, so the demo is tested too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]

# Start-up of Home Assistant with the frontend takes 10-30 s on a busy 2-core machine; these
# are upper bounds for a broken start, not delays.
HASS_START_TIMEOUT = 180.0
SIMULATOR_START_TIMEOUT = 30.0


def load_demo() -> ModuleType:
    """scripts/demo.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("meterlink_demo", ROOT / "scripts" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


demo = load_demo()


class InstanceError(Exception):
    """The development instance could not be started; the message says what and where to look."""


def run_async[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from synchronous code.

    Playwright's sync API runs an event loop in the main thread, so asyncio.run() cannot be used
    there once the browser is up: each call gets a fresh loop in a worker thread instead.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    """An ephemeral TCP port of 127.0.0.1 for a server that takes a fixed port number."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float, alive: Callable[[], bool]) -> Any:
    """Poll `check` until it returns something truthy; fail early when the process died."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if not alive():
            raise InstanceError(f"{what}: the process exited")
        if time.monotonic() > deadline:
            raise InstanceError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.1)


@dataclass
class Process:
    """A child process in its own session, its output in a log file."""

    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str] | None = None) -> None:
        """Start it with the repository as working directory (``python -m simulator``)."""
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                self.args,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> str:
        """What it printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)


def start_simulator(kind: str, args: list[str], logs: Path, name: str | None = None) -> list[str]:
    """Run ``python -m simulator KIND ARGS`` and return the endpoint lines it prints."""
    name = name or kind
    command = [sys.executable, "-m", "simulator", kind, *args]
    process = Process(name, command, logs / f"simulator-{name}.log")
    process.start()
    _PROCESSES.append(process)
    prefix = f"{kind} "

    def endpoints() -> list[str]:
        return [line for line in process.output().splitlines() if line.startswith(prefix)]

    try:
        return list(
            wait_for(f"simulator {name}", endpoints, SIMULATOR_START_TIMEOUT, process.alive)
        )
    except InstanceError as err:
        raise InstanceError(f"{err}; its output:\n{process.output()[-2000:]}") from err


_PROCESSES: list[Process] = []


@dataclass
class Simulators:
    """The simulated devices and where they listen.

    ``demo`` is what ``scripts/develop --demo`` adds at start; the ``spare_*`` devices are not
    configured, so a test can add them through the UI and see a new entry appear; the
    ``unconfigured_*`` ones stay unconfigured for the tests of wrong input.
    """

    demo: Any  # scripts/demo.py's DemoEndpoints
    push_url: str  # the EKM Push cloud simulator (METERLINK_DEV_PUSH_URL for Home Assistant)
    spare_rs485_url: str
    spare_rs485_meters: tuple[str, ...]
    spare_smartmac_device_id: str
    unconfigured_smartmac_device_id: str
    spare_push3_host: str
    spare_push3_gateway_key: str
    push3_meters: tuple[str, ...]
    push3_iostacks: tuple[str, ...]


SMARTMAC_PIN = "012345"
PASSWORD = "00000000"


def _meters(*specs: str) -> list[str]:
    """`--meter A --meter B` for the simulator command line."""
    return [arg for spec in specs for arg in ("--meter", spec)]


def start_simulators(logs: Path) -> Simulators:
    """Start every simulator on an ephemeral port, as scripts/develop does on fixed ones.

    The smart-MAC simulator runs without its rate limit (one request a minute for a standard
    D103), which would make every test wait for it.
    """
    any_port = ["127.0.0.1:0"]
    rs485 = start_simulator(
        "ekm-rs485",
        ["--tcp", *any_port, *_meters("000300001001:v4", "000300001002:v4", "000000011766:v3")],
        logs,
    )
    spare_rs485 = start_simulator(
        "ekm-rs485", ["--tcp", *any_port, *_meters("000300003001:v4")], logs, "ekm-rs485-2"
    )
    smartmac_devices = [
        f"1728053249:d103x:{SMARTMAC_PIN}",
        f"1728053250:d101:{SMARTMAC_PIN}",
        f"1728053251:d103:{SMARTMAC_PIN}",  # never configured: the error tests use it
    ]
    smartmac = start_simulator(
        "smartmac",
        ["--http", *any_port, "--no-rate-limit"]
        + [arg for device in smartmac_devices for arg in ("--device", device)],
        logs,
    )
    push3 = start_simulator(
        "push3",
        [
            "--http",
            *any_port,
            "--iostack",
            "000000900001",
            *_meters("000300002001:v4", "000300002002:v4"),
        ],
        logs,
    )
    # The Push3 unique id is its lowest device address: the spare needs other devices.
    spare_push3 = start_simulator(
        "push3",
        ["--http", *any_port, *_meters("000300004001:v4"), "--iostack", "000000900002"],
        logs,
        "push3-2",
    )
    egauge = start_simulator("egauge", ["--https", *any_port], logs)
    cloud_devices = demo.DemoEndpoints().push_cloud_devices
    cloud = start_simulator(
        "ekm-push",
        ["--http", *any_port, "--meter", f"{cloud_devices[0]}:v4", "--iostack", cloud_devices[1]],
        logs,
    )
    # Lines: `ekm-rs485 tcp URL`, `smartmac http URL`, `push3 http HOST key KEY`,
    # `egauge https HOST`.
    smartmac_host = smartmac[0].split()[2].removeprefix("http://").split("/", 1)[0]
    push3_words, spare_words = push3[0].split(), spare_push3[0].split()
    endpoints = demo.DemoEndpoints(
        rs485_url=rs485[0].split()[2],
        rs485_meters=("000300001001", "000300001002", "000000011766"),
        meter_password=PASSWORD,
        smartmac_host=smartmac_host,
        smartmac_device_id="1728053249",
        smartmac_pin=SMARTMAC_PIN,
        push3_host=push3_words[2],
        push3_gateway_key=push3_words[4],
        egauge_host=egauge[0].split()[2],
    )
    push_url = cloud[0].split()[2]  # `ekm-push http URL account-key KEY`
    return Simulators(
        demo=endpoints,
        push_url=push_url,
        spare_rs485_url=spare_rs485[0].split()[2],
        spare_rs485_meters=("000300003001",),
        spare_smartmac_device_id="1728053250",
        unconfigured_smartmac_device_id="1728053251",
        spare_push3_host=spare_words[2],
        spare_push3_gateway_key=spare_words[4],
        push3_meters=("000300002001", "000300002002"),
        push3_iostacks=("000000900001",),
    )


def write_config(config: Path, port: int) -> None:
    """The repository's config/configuration.yaml, MeterLink linked in, HTTP on `port`.

    HTTP settings live in .storage/http since Home Assistant 2026.9, so the port is seeded there
    exactly as scripts/develop seeds the listening address.
    """
    with warnings.catch_warnings():  # aiohttp's note on HA's web.Application subclass
        warnings.simplefilter("ignore", DeprecationWarning)
        from homeassistant.components.http import config as http_config

    config.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "configuration.yaml", config / "configuration.yaml")
    (config / "custom_components").symlink_to(ROOT / "custom_components")
    stable = dict(http_config._DEFAULT_CONFIG)  # the seed scripts/develop writes
    stable["server_host"] = ["127.0.0.1"]
    stable["server_port"] = port
    document = {
        "version": http_config.STORAGE_VERSION,
        "minor_version": http_config.STORAGE_MINOR_VERSION,
        "key": http_config.STORAGE_KEY,
        "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
    }
    (config / ".storage").mkdir(exist_ok=True)
    (config / ".storage" / "http").write_text(json.dumps(document), encoding="utf-8")


@dataclass
class Instance:
    """A running development Home Assistant: its URL, a token, the simulators and its log."""

    url: str
    token: str
    config: Path
    log: Path
    simulators: Simulators
    entries: list[dict[str, Any]] = field(default_factory=list)

    def websocket(self, message: dict[str, Any]) -> Any:
        """One websocket command's result (registries are only on the websocket API)."""
        return run_async(self._call("websocket", message))

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call with the demo user's token (for set-up and clean-up, not assertions)."""
        return run_async(self._call("call", method, path, json_body=body))

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        async with aiohttp.ClientSession() as session:
            api = demo.HomeAssistantApi(session, self.url)
            api.token = self.token
            return await getattr(api, name)(*args, **kwargs)

    def meterlink_entries(self) -> list[dict[str, Any]]:
        """MeterLink's config entries as the integrations page gets them."""
        return list(self.rest("GET", "/api/config/config_entries/entry?domain=meterlink"))

    def log_text(self) -> str:
        """Home Assistant's log so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")


async def _set_up(url: str, endpoints: Any, wait: float) -> tuple[str, list[dict[str, Any]]]:
    """Onboard as scripts/develop --demo does and add the demo's entries; return the token."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        api = demo.HomeAssistantApi(session, url)
        status = await demo.wait_for_http(api, wait)
        await demo.onboard(api, status)
        await demo.wait_until_running(api, wait)
        await demo.dismiss_development_notices(api)
        await demo.add_devices(api, demo.demo_devices(endpoints))
        if not await demo.check(api, 90):
            raise InstanceError("the demo's MeterLink entries do not report numbers")
        assert api.token is not None
        return api.token, await api.get("/api/config/config_entries/entry?domain=meterlink")


@contextlib.contextmanager
def development_instance(workdir: Path, results: Path) -> Iterator[Instance]:
    """Simulators, Home Assistant on an ephemeral port, onboarding and the demo's entries."""
    results.mkdir(parents=True, exist_ok=True)
    try:
        simulators = start_simulators(results)
        port = free_port()
        config = workdir / "config"
        write_config(config, port)
        log = results / "home-assistant.log"
        hass = Process(
            "home-assistant",
            [
                sys.executable,
                "-m",
                "homeassistant",
                "--config",
                str(config),
                "--skip-pip",
                "--log-file",
                str(log),
                "--log-no-color",
            ],
            results / "home-assistant.console.log",
        )
        # Only what Home Assistant needs: no developer's METERLINK_* or proxy settings leak in.
        env = {key: value for key, value in os.environ.items() if not key.startswith("METERLINK_")}
        env["METERLINK_DEV_PUSH_URL"] = simulators.push_url
        hass.start(env)
        _PROCESSES.append(hass)
        url = f"http://127.0.0.1:{port}"
        try:
            token, entries = run_async(_set_up(url, simulators.demo, HASS_START_TIMEOUT))
        except (demo.DemoError, InstanceError) as err:
            tail = hass.output()[-3000:] if hass.log.exists() else ""
            raise InstanceError(f"{err}\nHome Assistant's console:\n{tail}") from err
        yield Instance(url, token, config, log, simulators, entries)
    finally:
        while _PROCESSES:
            process = _PROCESSES.pop()
            process.stop(60 if process.name == "home-assistant" else 10)
