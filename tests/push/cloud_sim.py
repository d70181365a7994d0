"""The EKM Push cloud with its Device Settings and Trigger APIs, on loopback, for HA tests.

One aiohttp application serves readMeter and the Account API (`simulator.ekm.push_cloud`) and
sendCommand, the answer streams and the Trigger API (`simulator.ekm.push_device_api`), over the
same SimMeter objects, so a relay closed by a command shows in the next cloud reading. The
ioStack is one `SimIoStack` in both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler

from custom_components.meterlink.meters.ekm.reading import MeterVersion
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_cloud import DEFAULT_GATEWAY, PushSimulator, SimIoStack
from simulator.ekm.push_device_api import (
    DeviceApiSimulator,
    SimGateway,
    TokenInfo,
)

ACCOUNT = "account-1"
WRITE_TOKEN = "write-token-XZTdu8_5iw62WQuDg4OHIMhG7m"
READ_TOKEN = "read-token-BZTdu8_5iw62WQuDg4OHIMhG7mc"
RELAY_METER = "000300001001"
OTHER_V4 = "000300001002"
V3_METER = "000000011766"
IOSTACK = "000000900001"
GATEWAY = DEFAULT_GATEWAY
SECOND_GATEWAY = "4016fa0500ce"


@dataclass
class CloudSim:
    """Both simulators and where they listen; `refuse` answers a path with an HTTP status."""

    push: PushSimulator
    device_api: DeviceApiSimulator
    url: str
    refuse: dict[str, int] = field(default_factory=dict)

    @property
    def account_key(self) -> str:
        """The account key (sees every device)."""
        return self.push.account_key


async def start_cloud(*, second_gateway: bool = False) -> CloudSim:
    """Start the combined cloud on 127.0.0.1 (`cloud_running` also stops it).

    One gateway reads everything; with `second_gateway` the ioStack and the v3 meter sit on a
    second gateway of the same account.
    """
    meters = [
        SimMeter(RELAY_METER),
        SimMeter(OTHER_V4),
        SimMeter(V3_METER, MeterVersion.V3),
    ]
    stack = SimIoStack(IOSTACK)  # one model: commands change what readings report
    layout = {GATEWAY: [RELAY_METER, OTHER_V4, V3_METER, IOSTACK]}
    if second_gateway:
        layout = {GATEWAY: [RELAY_METER, OTHER_V4], SECOND_GATEWAY: [V3_METER, IOSTACK]}
    push = PushSimulator(meters, [stack], gateways=layout)
    device_api = DeviceApiSimulator(
        push.meters,
        {IOSTACK: stack},
        [
            SimGateway(mac, ACCOUNT, push.gateway_keys[mac], devices=set(devices))
            for mac, devices in layout.items()
        ],
        {
            WRITE_TOKEN: TokenInfo(ACCOUNT),
            READ_TOKEN: TokenInfo(ACCOUNT, write=False),
        },
        account_keys={push.account_key: ACCOUNT},
        min_delay=0.005,
        max_delay=0.05,
    )
    device_api.install(push.app)
    refuse: dict[str, int] = {}

    @web.middleware
    async def refusing(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (status := refuse.get(request.path)) is not None:
            if status == 404:
                raise web.HTTPNotFound  # aiohttp's own page, as for a missing route
            return web.json_response(
                {"error": f"refused by the test ({status})"},
                status=status,
                headers={"Retry-After": "600"},
            )
        return await handler(request)

    push.app.middlewares.append(refusing)
    url = await push.start()
    return CloudSim(push, device_api, url, refuse)


async def cloud_running(*, second_gateway: bool = False) -> AsyncIterator[CloudSim]:
    """Fixture body: the cloud, stopped afterwards."""
    sim = await start_cloud(second_gateway=second_gateway)
    yield sim
    await sim.device_api.stop()
    await sim.push.stop()
