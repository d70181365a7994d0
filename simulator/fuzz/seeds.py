"""Valid inputs for every parser family, taken from the simulators' own output.

The RS-485, cloud, Push3 and smart-MAC simulators render their answers with plain methods, so
those are called directly; the Account, Trigger and Device Settings answers are only rendered
inside request handlers, so they are fetched once over real HTTP on loopback.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

import aiohttp

from custom_components.meterlink.meters.ekm.frames import read_request
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from custom_components.meterlink.meters.smartmac.models import SmartMacModel

from ..ekm.meter import SimMeter
from ..ekm.push3 import Push3Simulator
from ..ekm.push_cloud import PushSimulator, SimIoStack
from ..ekm.push_device_api import Privilege, TokenInfo, attach_to_cloud
from ..ekm.rs485 import EkmBusSimulator
from ..smartmac import SimSmartMac

V4 = "000300001001"
V3 = "000000011766"
STACK = "000000900001"
GATEWAY = "4016fa0500cd"
TOKEN = "fuzz-read-write-token"
_CAPTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "push3_gateway.json"


def _cloud() -> PushSimulator:
    meters = [SimMeter(V4), SimMeter(V3, MeterVersion.V3)]
    cloud = PushSimulator(meters, [SimIoStack(STACK)], gateways={GATEWAY: [V4, V3, STACK]})
    cloud.poll()
    cloud.advance(61.0)
    cloud.poll()
    return cloud


def rs485() -> list[bytes]:
    """Answers of a v4 and a v3 meter to every block request, and a garbled stream of them."""
    bus = EkmBusSimulator([SimMeter(V4), SimMeter(V3, MeterVersion.V3)], auto_advance=False)
    frames = [
        reply
        for address, block in ((V4, Block.V4A), (V4, Block.V4B), (V3, Block.V3))
        for reply in bus.feed(read_request(address, block))
    ]
    return [*frames, b"\x06" + frames[0], b"noise\x02" + frames[1] + frames[2][:100]]


def cloud_readmeter() -> list[bytes]:
    """Answers to readMeter: every device (two reads each), and each device alone."""
    cloud = _cloud()
    singles = [cloud.read_set(address, 1) for address in (V4, V3, STACK)]
    return [
        json.dumps({"readMeter": {"ReadSet": [cloud.read_set(V4, 2), *singles[1:]]}}).encode(),
        *(json.dumps({"readMeter": {"ReadSet": [one]}}).encode() for one in singles),
        json.dumps({"readmeter": {"ReadSet": singles[2:]}}).encode(),
    ]


def push3_readmeter() -> list[bytes]:
    """The Push3 LAN answer as the simulator writes it, and the one real capture."""
    cloud = _cloud()
    gateway = Push3Simulator(cloud)
    document = {
        address: [gateway.lan_read(address, read) for read in cloud.history[address][::-1]]
        for address in gateway.devices
    }
    return [json.dumps(document).encode(), _CAPTURE.read_bytes()]


def smartmac_getdata() -> list[bytes]:
    """Answers to getdata of every simulated model."""
    devices = [
        SimSmartMac("1728053249", SmartMacModel.D103, extended=True),
        SimSmartMac("1728053250", SmartMacModel.D103, extended=False, relay_on=True),
        SimSmartMac("1728053251", SmartMacModel.D101),
        SimSmartMac("1728053252", SmartMacModel.D105),
    ]
    return [device.document(1530607456).encode() for device in devices]


@functools.cache
def _served() -> dict[str, list[bytes]]:
    return asyncio.run(_harvest())


def account() -> list[bytes]:
    """Account API answers for an account key, a gateway key and a device key."""
    return _served()["account"]


def triggers() -> list[bytes]:
    """Trigger API answers: a gateway's list (data and rrule conditions) and a create."""
    return _served()["triggers"]


def device_stream() -> list[bytes]:
    """A response stream carrying the answers to several commands, one after another."""
    return _served()["stream"]


def device_receipt() -> list[bytes]:
    """Replies to sendCommand: receipts and a 400 error body."""
    return _served()["receipt"]


async def _harvest() -> dict[str, list[bytes]]:
    cloud = _cloud()
    api = attach_to_cloud(
        cloud, {TOKEN: TokenInfo("account-1", Privilege.OWNER)}, account="account-1"
    )
    api.delay_for = lambda _sent: 0.0
    base = await cloud.start()
    served: dict[str, list[bytes]] = {"account": [], "triggers": [], "stream": [], "receipt": []}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession() as session:
            for key in (cloud.account_key, cloud.gateway_keys[GATEWAY], cloud.device_keys[V4]):
                async with session.get(
                    f"{base}/account/api/account", params={"key": key}
                ) as response:
                    served["account"].append(await response.read())
            for body in _trigger_bodies():
                async with session.post(
                    f"{base}/api/trigger",
                    params={"key": cloud.account_key, "gateway": GATEWAY},
                    json=body,
                    headers=headers,
                ) as response:
                    served["triggers"].append(await response.read())
            async with session.get(
                f"{base}/api/trigger",
                params={"key": cloud.account_key, "gateway": GATEWAY},
                headers=headers,
            ) as response:
                served["triggers"].append(await response.read())
            for body in _commands():
                async with session.post(
                    f"{base}/sendCommand",
                    params={"key": cloud.account_key},
                    json=body,
                    headers=headers,
                ) as response:
                    served["receipt"].append(await response.read())
            for _ in range(50):  # answers are published by tasks of the simulator
                if len(api.answers) >= 3:
                    break
                await asyncio.sleep(0.01)
    finally:
        await cloud.stop()
    texts = [json.dumps(answer) for answer in api.answers.values()]
    served["stream"] = [
        *(text.encode() for text in texts),  # one message each: mutated as JSON too
        "\n".join(texts).encode(),
        "".join(texts).encode(),
        (": ping\n" + "\r\n".join(texts[:1])).encode(),
        json.dumps({"id": 1, "text": texts[0]}).encode(),
    ]
    return served


def _trigger_bodies() -> list[dict[str, object]]:
    data_condition = {
        "type": "data",
        "source": "meter",
        "source_id": V4,
        "field": "kWh_Tot",
        "threshold_test": "rise_eq",
        "threshold_value": "10",
        "duration": "0",
        "hysteresis": "60",
    }
    rrule = {
        "type": "rrule",
        "rrule": "DTSTART:20210702T173200\nRRULE:FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=0;COUNT=12",
    }
    relay = {
        "target": "meter",
        "target_id": V4,
        "command": "setRelay",
        "params": {"relay": "relay_1", "status": "close", "duration": 1},
    }
    webhook = {
        "target": "gateway",
        "command": "sendWebhook",
        "params": {"url": "https://example.com/hook"},
    }
    return [
        {
            "trigger": {
                "trigger_name": "kWh rise",
                "conditions": [data_condition],
                "actions": [relay],
            }
        },
        {
            "trigger": {
                "trigger_name": "monthly",
                "conditions": [rrule],
                "actions": [webhook, {"target": "gateway", "command": "sendEmail"}],
                "enabled": False,
                "extras": {"note": "x"},
            }
        },
    ]


def _commands() -> list[dict[str, object]]:
    channel = {"response_channel_id": "response_fuzz"}
    return [
        {
            "target": "meter",
            "target_id": V4,
            "command": "SetRelay",
            "params": {"relay": "Relay_1", "status": "close", "duration": 0},
            **channel,
        },
        {"target": "meter", "target_id": V4, "command": "GetTariffData", **channel},
        {"target": "iostack", "target_id": STACK, "command": "GetStatus", **channel},
        {"target": "meter", "target_id": "nope", "command": "SetRelay", **channel},
    ]


def rrules() -> list[bytes]:
    """RRULE condition texts like the trigger seeds' (seed 001) and the RFC's examples."""
    return [
        b"DTSTART:20210702T173200\nRRULE:FREQ=DAILY;BYHOUR=0;BYMINUTE=35;BYSECOND=0",
        b"RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=12",
        b"FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO;INTERVAL=2;UNTIL=20300101T000000Z",
        b"DTSTART:20250101T000000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;WKST=SU;BYSETPOS=1",
    ]
