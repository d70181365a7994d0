"""The EKM Push cloud with its Device Settings and Trigger APIs, on loopback, for HA tests.

One aiohttp application serves readMeter and the Account API (`simulator.ekm_push`) and
sendCommand, the answer streams and the Trigger API (`simulator.ekm_push_device_api`), over the
same SimMeter objects, so a relay closed by a command shows in the next cloud reading. The
ioStack outputs are shared the same way (one list object in both models).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from custom_components.meterlink.meters.ekm.reading import MeterVersion
from simulator.ekm_meter import SimMeter
from simulator.ekm_push import DEFAULT_GATEWAY, PushSimulator
from simulator.ekm_push import SimIoStack as CloudIoStack
from simulator.ekm_push_device_api import (
    DeviceApiSimulator,
    SimGateway,
    SimIoStack,
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


@dataclass
class CloudSim:
    """Both simulators and where they listen."""

    push: PushSimulator
    device_api: DeviceApiSimulator
    url: str

    @property
    def account_key(self) -> str:
        """The account key (sees every device)."""
        return self.push.account_key


async def start_cloud() -> CloudSim:
    """Start the combined cloud on 127.0.0.1 (`cloud_running` also stops it)."""
    meters = [
        SimMeter(RELAY_METER),
        SimMeter(OTHER_V4),
        SimMeter(V3_METER, MeterVersion.V3),
    ]
    cloud_stack = CloudIoStack(IOSTACK)
    push = PushSimulator(meters, [cloud_stack])
    stack = SimIoStack(IOSTACK)
    stack.do_levels = cloud_stack.outputs  # type: ignore[assignment]  # one list, two views
    device_api = DeviceApiSimulator(
        push.meters,
        {IOSTACK: stack},
        [
            SimGateway(
                GATEWAY,
                ACCOUNT,
                push.gateway_keys[GATEWAY],
                devices={*push.meters, IOSTACK},
            )
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
    url = await push.start()
    return CloudSim(push, device_api, url)


async def cloud_running() -> AsyncIterator[CloudSim]:
    """Fixture body: the cloud, stopped afterwards."""
    sim = await start_cloud()
    yield sim
    await sim.device_api.stop()
    await sim.push.stop()
