"""The Account API answer in the shape public working clients read (vendor-evidence.md A1).

Top-level `gateways` whose items carry the MAC under `mac_address`, top-level `meters` of
`{"address": ...}` objects; `/account/api/gateway` nests `meters[].address` in the gateway.
The simulator serves that shape by default, so the client test reads it over real HTTP.
"""

from __future__ import annotations

import aiohttp
import pytest

from custom_components.meterlink.meters.push.account import parse_inventory
from custom_components.meterlink.meters.push.client import PushClient
from custom_components.meterlink.meters.push.models import PushGateway, PushInventory
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_cloud import PushSimulator, SimIoStack

GATEWAY = "4016fa012345"
METER = "000300002570"
OTHER = "000300002571"
STACK = "000000900001"


@pytest.fixture(autouse=True)
def _loopback_allowed(socket_enabled: None) -> None:
    """The simulator listens on 127.0.0.1."""


def test_top_level_gateways_named_by_mac_address_are_kept() -> None:
    document = {
        "gateways": [{"mac_address": "40:16:FA:01:23:45", "name": "Main panel"}],
        "meters": [{"address": METER}],
    }
    inventory = parse_inventory(document)
    assert inventory.gateways == (PushGateway(GATEWAY, "Main panel", (), ()),)
    assert inventory.meters == (METER,)


def test_meters_listed_only_inside_their_gateway_are_not_lost() -> None:
    document = {
        "gateways": [
            {
                "mac_address": GATEWAY,
                "name": "Barn",
                "meters": [{"address": 300002570}, {"address": OTHER}],
            }
        ]
    }
    inventory = parse_inventory(document)
    assert inventory.meters == (METER, OTHER)
    assert inventory.gateway_of(OTHER) == PushGateway(GATEWAY, "Barn", (METER, OTHER), ())


async def test_the_simulator_serves_the_evidenced_shape_and_the_client_reads_it() -> None:
    simulator = PushSimulator(
        [SimMeter(METER), SimMeter(OTHER)],
        [SimIoStack(STACK)],
        gateways={GATEWAY: [METER, OTHER, STACK]},
    )
    await simulator.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(
                f"{simulator.base_url}/account/api/account",
                params={"key": simulator.account_key},
            ) as response:
                raw = await response.json()
            client = PushClient(
                session,
                simulator.account_key,
                api_url=simulator.base_url,
                account_url=simulator.base_url,
            )
            inventory = await client.discover()
    finally:
        await simulator.stop()
    assert set(raw) == {"gateways", "meters"}
    assert raw["gateways"][0]["mac_address"] == GATEWAY
    assert raw["meters"] == [{"address": METER}, {"address": OTHER}]
    assert inventory == PushInventory(
        (PushGateway(GATEWAY, f"Push3 {GATEWAY}", (METER, OTHER), (STACK,)),),
        (METER, OTHER),
        (STACK,),
    )
