"""Fixtures for the eGauge library tests: a simulated meter on HTTP and HTTPS at once.

The meter and the client share one fake clock, so nonce and token lifetimes, reboots and a
day of history are checked in milliseconds: the test moves the clock, the simulator integrates
its counters second by second up to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from custom_components.meterlink.meters.egauge.client import EgaugeClient
from simulator.egauge import EgaugeSimulator, SimEgauge

START = 1_796_000_000.4  # a Unix time in late 2026 (not on a whole second, as real ones)
OWNER, OWNER_PASSWORD = "owner", "owner-secret"
VIEWER, VIEWER_PASSWORD = "viewer", "viewer-secret"


class FakeClock:
    """Unix time that only moves when a test moves it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """The library needs no Home Assistant (this overrides the top conftest's fixture)."""


@pytest.fixture(autouse=True)
def _loopback_allowed(socket_enabled: None) -> None:
    """The simulator listens on 127.0.0.1; Home Assistant's test plugin blocks sockets."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def meter(clock: FakeClock) -> SimEgauge:
    return SimEgauge(clock=clock, reboot_seconds=30.0)


@pytest.fixture
async def sim(meter: SimEgauge) -> AsyncIterator[EgaugeSimulator]:
    simulator = EgaugeSimulator(meter)
    await simulator.start(https=("127.0.0.1", 0))
    yield simulator
    await simulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


type ClientFactory = Callable[..., EgaugeClient]


@pytest.fixture(params=["https", "http"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(
    sim: EgaugeSimulator, session: aiohttp.ClientSession, clock: FakeClock, scheme: str
) -> ClientFactory:
    def make(user: str = OWNER, password: str = OWNER_PASSWORD, **options: object) -> EgaugeClient:
        https = scheme == "https"
        host = sim.https_host if https else sim.host
        return EgaugeClient(
            session,
            host,
            user,
            password,
            https=https,
            clock=clock,
            **options,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
def client(make_client: ClientFactory) -> EgaugeClient:
    return make_client()


@pytest.fixture
async def silent_host() -> AsyncIterator[str]:
    """`127.0.0.1:PORT` of a server that accepts connections and never answers."""
    release = asyncio.Event()

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    release.set()
    server.close()
    await server.wait_closed()
