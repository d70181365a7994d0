"""The EKM MQTT broker's side of simulated Push3 gateways: each read taken is published.

EKM's broker (seed 003) streams every read a Push3 takes on `realtime/<gateway key>`. This
module listens to `PushSimulator.poll()` and publishes, per gateway, one message with a
`meter_<address>` (`iostack_<address>`) member per device that was read, rendered the way the
Push3 LAN API renders it (`Push3Simulator.lan_read`: numbers, `Cos_Theta` as "0.83 C"), to a
real broker. A failed read is not published (the vendor does not say what a gateway sends for
one). The vendor shows no complete message; the shape is the one the README states.

`python -m simulator ekm-push --mqtt mqtts://HOST:PORT [--mqtt-cafile PEM]` publishes too,
and then the gateways read every device each `--read-interval` seconds by themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Mapping

import aiomqtt

from custom_components.meterlink.meters.push.mqtt import Broker, StreamKind, parse_broker, topic
from custom_components.meterlink.meters.push.mqtt_client import tls_context

from .push3 import Push3Simulator
from .push_cloud import PushSimulator, SimRead

PUBLISHER = "publisher"
"""The username the test broker's ACL lets write every topic."""


def realtime_payload(gateway: Push3Simulator, reads: Mapping[str, SimRead]) -> bytes:
    """One realtime message of `gateway` for the good reads in `reads` (its devices only)."""
    members = {
        f"{'meter' if address in gateway.cloud.meters else 'iostack'}_{address}": gateway.lan_read(
            address, read
        )
        for address, read in reads.items()
        if read.good and address in gateway.devices
    }
    return json.dumps(members).encode()


class MqttPublisher:
    """Publishes every poll of `cloud` to `broker`, one message per gateway with new reads.

    With `read_interval` the gateways also read every device that often by themselves (a
    standalone simulator); without it reads happen when a test or a request polls.
    """

    def __init__(
        self,
        cloud: PushSimulator,
        broker: Broker,
        tls: ssl.SSLContext,
        *,
        username: str = PUBLISHER,
        read_interval: float | None = None,
    ) -> None:
        self.cloud = cloud
        self.broker = broker
        self.published = 0
        self.published_at = 0.0  # time.monotonic() after the last publish (the benchmark)
        self._last: list[tuple[str, bytes]] = []
        self._tls = tls
        self._username = username
        self._gateways = [Push3Simulator(cloud, mac) for mac in cloud.gateways]
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._read_interval = read_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = asyncio.Event()

    def _polled(self, reads: dict[str, SimRead]) -> None:
        self._last = []
        for gateway in self._gateways:
            payload = realtime_payload(gateway, reads)
            if payload != b"{}":
                self._last.append((topic(StreamKind.REALTIME, gateway.key), payload))
        for message in self._last:
            self._queue.put_nowait(message)

    def repeat(self) -> None:
        """Publish the last poll's messages again (a gateway repeating what it sent)."""
        for message in self._last:
            self._queue.put_nowait(message)

    async def start(self) -> None:
        """Connect and publish from now on (reads taken before are not sent)."""
        self.cloud.poll_listeners.append(self._polled)
        publishing = asyncio.create_task(self._run())
        self._tasks.append(publishing)
        connected = asyncio.create_task(self._connected.wait())
        await asyncio.wait((publishing, connected), return_when=asyncio.FIRST_COMPLETED)
        connected.cancel()
        if publishing.done():
            await self.stop()
            publishing.result()  # the connection failed: raise its error
        if self._read_interval is not None:
            self._tasks.append(asyncio.create_task(self._read_periodically(self._read_interval)))

    async def _read_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.cloud.poll()

    async def drain(self) -> None:
        """Wait until everything queued so far is published."""
        await self._queue.join()

    async def _run(self) -> None:
        async with aiomqtt.Client(
            self.broker.host, self.broker.port, username=self._username, tls_context=self._tls
        ) as client:
            self._connected.set()
            while True:
                name, payload = await self._queue.get()
                try:
                    await client.publish(name, payload, qos=0)
                    self.published += 1
                    self.published_at = time.monotonic()
                finally:
                    self._queue.task_done()

    async def stop(self) -> None:
        """Stop publishing and disconnect."""
        if self._polled in self.cloud.poll_listeners:
            self.cloud.poll_listeners.remove(self._polled)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


# Command line (`python -m simulator ekm-push --mqtt ...`) ---------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    """The publisher's options of `python -m simulator ekm-push`."""
    parser.add_argument("--mqtt", default=None, metavar="mqtts://HOST:PORT", help="publish reads")
    parser.add_argument("--mqtt-cafile", default=None, metavar="PEM", help="the broker's CA")
    parser.add_argument("--mqtt-user", default=PUBLISHER, metavar="NAME", help="publisher login")
    parser.add_argument(
        "--read-interval", type=float, default=10.0, metavar="S", help="with --mqtt: gateway reads"
    )


async def start_from_args(cloud: PushSimulator, args: argparse.Namespace) -> MqttPublisher | None:
    """The publisher `--mqtt` asks for, started (None without `--mqtt`)."""
    if getattr(args, "mqtt", None) is None:
        return None
    loop = asyncio.get_running_loop()
    context = await loop.run_in_executor(None, tls_context, args.mqtt_cafile)
    publisher = MqttPublisher(
        cloud,
        parse_broker(args.mqtt),
        context,
        username=args.mqtt_user,
        read_interval=args.read_interval,
    )
    await publisher.start()
    print(f"ekm-push mqtt {args.mqtt} read every {args.read_interval:g} s", flush=True)
    return publisher
