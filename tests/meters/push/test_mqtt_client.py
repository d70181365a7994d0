"""`PushStream` against a real mosquitto (TLS, EKM's per-key ACL), fed by the simulator."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncGenerator

import pytest

from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterConnectionError,
    MeterNotAuthorizedError,
)
from custom_components.meterlink.meters.push.mqtt import Broker, StreamKind, parse_broker
from custom_components.meterlink.meters.push.mqtt_client import (
    Backoff,
    BadMessage,
    Connected,
    Disconnected,
    Message,
    PushStream,
    Silent,
    StreamEvent,
    client_id,
    tls_context,
)
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_cloud import PushSimulator
from simulator.ekm.push_mqtt import MqttPublisher
from tests.meters.conftest import make_meters
from tests.mosquitto import HOST, Mosquitto, publish

FAST = Backoff(initial=0.05, maximum=0.2)


def stream(server: Mosquitto, key: str, **kwargs: object) -> PushStream:
    options: dict[str, object] = {
        "tls": server.ca.client_context(),
        "broker": parse_broker(server.url),
        "backoff": FAST,
        "connect_timeout": 5.0,
    }
    options.update(kwargs)
    return PushStream(key, **options)  # type: ignore[arg-type]


async def next_event[T](events: AsyncGenerator[StreamEvent], kind: type[T]) -> T:
    """The next event of `kind` (others are passed over) within 10 s."""
    async with asyncio.timeout(10):
        async for event in events:
            if isinstance(event, kind):
                return event
    raise AssertionError("the stream ended")


@pytest.fixture
async def cloud(mosquitto: Mosquitto) -> AsyncGenerator[tuple[PushSimulator, MqttPublisher]]:
    simulator = PushSimulator(make_meters(), auto_poll=False)
    publisher = MqttPublisher(simulator, parse_broker(mosquitto.url), mosquitto.ca.client_context())
    await publisher.start()
    yield simulator, publisher
    await publisher.stop()


def gateway_key(simulator: PushSimulator) -> str:
    return next(iter(simulator.gateway_keys.values()))


async def test_first_reading_arrives_as_the_truth(
    mosquitto: Mosquitto, cloud: tuple[PushSimulator, MqttPublisher]
) -> None:
    simulator, publisher = cloud
    subscription = stream(mosquitto, gateway_key(simulator))
    events = subscription.events()
    try:
        assert await next_event(events, Connected) == Connected(reconnect=False)
        simulator.poll()
        await publisher.drain()
        message = (await next_event(events, Message)).message
    finally:
        await events.aclose()
    assert set(message.readings.meters) == set(simulator.meters)
    for address, meter in message.readings.meters.items():
        truth = simulator.newest_good(address)
        assert truth is not None
        assert meter.timestamp_ms == truth.timestamp_ms
        assert meter.reading.fields["kWh_Tot"] == truth.values["kWh_Tot"]
    assert subscription.stats.messages == 1
    assert subscription.stats.last_message is not None


async def test_hundred_meters_in_one_message(mosquitto: Mosquitto) -> None:
    simulator = PushSimulator([SimMeter(f"{300000000 + n:012d}") for n in range(100)])
    publisher = MqttPublisher(simulator, parse_broker(mosquitto.url), mosquitto.ca.client_context())
    await publisher.start()
    events = stream(mosquitto, gateway_key(simulator)).events()
    try:
        await next_event(events, Connected)
        simulator.poll()
        await publisher.drain()
        message = (await next_event(events, Message)).message
    finally:
        await events.aclose()
        await publisher.stop()
    assert len(message.readings.meters) == 100
    assert publisher.published == 1


async def test_malformed_payload_is_counted_and_the_stream_goes_on(
    mosquitto: Mosquitto, cloud: tuple[PushSimulator, MqttPublisher]
) -> None:
    simulator, publisher = cloud
    key = gateway_key(simulator)
    subscription = stream(mosquitto, key)
    events = subscription.events()
    try:
        await next_event(events, Connected)
        await publish(mosquitto, f"realtime/{key}", b"<html>oops</html>", b'{"meter_1": {}}')
        bad = await next_event(events, BadMessage)
        assert "not JSON" in str(bad.error)
        await next_event(events, BadMessage)
        simulator.poll()
        await publisher.drain()
        await next_event(events, Message)
    finally:
        await events.aclose()
    assert subscription.stats.parse_errors == 2
    assert subscription.stats.messages == 1


async def test_refused_key_is_its_own_error(mosquitto: Mosquitto) -> None:
    subscription = stream(mosquitto, "UNKNOWN-KEY", broker=parse_broker(mosquitto.refusing_url))
    with pytest.raises(MeterNotAuthorizedError):
        await next_event(subscription.events(), Message)
    assert subscription.stats.connected is False
    assert subscription.stats.last_error == "the broker refused the key"


async def test_broker_restart_reconnects_and_streams_again(
    mosquitto: Mosquitto, cloud: tuple[PushSimulator, MqttPublisher]
) -> None:
    simulator, publisher = cloud
    subscription = stream(mosquitto, gateway_key(simulator))
    events = subscription.events()
    try:
        await next_event(events, Connected)
        await publisher.stop()
        await asyncio.to_thread(mosquitto.restart)
        lost = await next_event(events, Disconnected)
        assert lost.retry_in <= FAST.maximum * (1 + FAST.jitter)
        assert await next_event(events, Connected) == Connected(reconnect=True)
        publisher = MqttPublisher(
            simulator, parse_broker(mosquitto.url), mosquitto.ca.client_context()
        )
        await publisher.start()
        simulator.poll()
        await publisher.drain()
        await next_event(events, Message)
    finally:
        await events.aclose()
        await publisher.stop()
    assert subscription.stats.reconnects == 1
    assert subscription.stats.connected is False  # closed
    assert "key=" not in repr(subscription)


async def test_silent_key_trips_the_watchdog_then_resubscribes(
    mosquitto: Mosquitto, cloud: tuple[PushSimulator, MqttPublisher]
) -> None:
    simulator, publisher = cloud
    # Another gateway's key: the broker grants the subscription and delivers nothing.
    subscription = stream(mosquitto, "SOME-OTHER-GATEWAY", watchdog=0.3)
    events = subscription.events()
    try:
        await next_event(events, Connected)
        simulator.poll()
        await publisher.drain()
        assert await next_event(events, Silent) == Silent(0.3)
        assert await next_event(events, Connected) == Connected(reconnect=True)
    finally:
        await events.aclose()
    assert subscription.stats.silences == 1
    assert subscription.stats.messages == 0


async def test_untrusted_broker_and_closed_port_are_connection_errors(
    mosquitto: Mosquitto,
) -> None:
    untrusted = ssl.create_default_context()  # the system store does not know the test CA
    with pytest.raises(MeterConnectionError, match="TLS verification"):
        await next_event(stream(mosquitto, "KEY", reconnect=False, tls=untrusted).events(), Message)
    mosquitto.stop()
    with pytest.raises(MeterConnectionError):
        await next_event(stream(mosquitto, "KEY", reconnect=False).events(), Message)


async def test_the_key_is_never_logged(
    mosquitto: Mosquitto,
    cloud: tuple[PushSimulator, MqttPublisher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator, publisher = cloud
    key = gateway_key(simulator)
    caplog.set_level(logging.DEBUG)
    events = stream(mosquitto, key).events()
    try:
        await next_event(events, Connected)
        simulator.poll()
        await publisher.drain()
        await next_event(events, Message)
        await publisher.stop()
        await asyncio.to_thread(mosquitto.restart)
        await next_event(events, Connected)
    finally:
        await events.aclose()
    assert "SUBSCRIBE" in caplog.text  # paho's debug lines were there, with the key blanked
    assert key not in caplog.text


async def test_summary_topic_is_subscribed(mosquitto: Mosquitto) -> None:
    key = "GATEWAY-KEY"
    events = stream(mosquitto, key, kind=StreamKind.SUMMARY).events()
    try:
        await next_event(events, Connected)
        payload = b'{"meter_000300001001": {"kWh_Tot_Max": 5.5, "End_Time_Stamp_UTC_ms": 9}}'
        await publish(mosquitto, f"realtime/{key}", b"{}")  # another topic: not delivered
        await publish(mosquitto, f"summary/{key}", payload)
        message = (await next_event(events, Message)).message
    finally:
        await events.aclose()
    assert message.readings.meters["000300001001"].reading.fields["kWh_Tot"] == 5.5


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(initial=5, maximum=600, jitter=0.2)
    assert backoff.delay(1, lambda: 0.5) == 5
    assert backoff.delay(3, lambda: 0.5) == 20
    assert backoff.delay(30, lambda: 0.5) == 600
    assert backoff.delay(30, lambda: 1.0) == pytest.approx(720)
    assert backoff.delay(1, lambda: 0.0) == pytest.approx(4)


def test_client_ids_differ_and_contexts_verify(tmp_path: object) -> None:
    assert client_id() != client_id()
    assert client_id("meterlink-abc").startswith("meterlink-abc-")
    assert tls_context().verify_mode is ssl.CERT_REQUIRED
    assert tls_context(insecure=True).verify_mode is ssl.CERT_NONE
    with pytest.raises(InvalidParameterError):
        tls_context("/nonexistent/ca.pem")
    assert Broker(HOST).port == 8883
