"""EKM Push3 MQTT streaming for Push entries: readings the moment the gateway has them.

EKM's broker pushes every read a Push3 takes (`meters.push.mqtt_client`), with no history. An
entry streams when it knows a gateway key: a cloud entry made with a gateway key (its one
gateway) or given gateway keys in its options, and a Push3 LAN entry whose streaming option is
on (off by default: its user chose the local network, and the stream comes from EKM's cloud).
Polling stays as the fallback and the gap filler:

* after every (re)connect the coordinator polls once (the broker kept nothing meanwhile);
* while every stream is healthy the poll drops to `SAFETY_INTERVAL`;
* a stream that is silent for the watchdog time (max(3 gateway reads, 5 min)), lost, or whose
  key the broker refused, puts polling back to the entry's interval until messages flow again;
  a refused key also raises a repair issue (and is not retried until the entry reloads).

A message goes through the coordinator's own `_build` (energy guards, staleness, unchanged
readings kept as the same objects) and is published at once; a read not newer than the one
already published for that device is dropped before its fields are parsed. One background task
per stream, created on the entry, so unloading the entry or stopping Home Assistant cancels it.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import CONF_API_KEY, EntityCategory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.util.ssl import client_context

from ..const import (
    CONF_CONNECTION,
    CONNECTION_PUSH3,
    DEV_MQTT_CAFILE,
    DEV_MQTT_URL,
    DOMAIN,
    LOGGER,
)
from ..flow_helpers import FormError
from ..meters.errors import InvalidParameterError, MeterNotAuthorizedError
from ..meters.push import check_key
from ..meters.push.mqtt import Broker, parse_broker
from ..meters.push.mqtt_client import (
    DEFAULT_BROKER,
    Backoff,
    Connected,
    Disconnected,
    Message,
    PushStream,
    Silent,
    StreamEvent,
    client_id,
    tls_context,
)
from ..meters.push.realtime import mac_address
from ..runtime import MeterLinkConfigEntry
from .coordinator import EkmPushCoordinator, Push3Coordinator, PushCoordinator, cloud_gateway_id

CONF_STREAMING: Final = "streaming"  # options: stream (True) or only poll (False)
CONF_GATEWAY_KEYS: Final = "gateway_keys"  # options (cloud): gateway MAC -> gateway key
SAFETY_INTERVAL: Final = timedelta(minutes=15)
"""The cloud poll while every stream is healthy: a safety net, not the data path."""
GATEWAY_READ_INTERVAL: Final = 60.0  # the Push3 reads each device once a minute (seed 001)
MIN_WATCHDOG: Final = 300.0
WATCHDOG_READS: Final = 3
ISSUE_KEY_REFUSED: Final = "mqtt_key_refused"  # a repair issue (translations: issues)

# Where the streams come from and the TLS context they verify it with; tests point both at
# their own broker, a development instance at its mosquitto (const.DEV_MQTT_URL). Contexts are
# built at import (off the event loop), never in the loop.
BROKER: Broker = parse_broker(DEV_MQTT_URL) if DEV_MQTT_URL else DEFAULT_BROKER
_DEV_TLS = tls_context(DEV_MQTT_CAFILE) if DEV_MQTT_CAFILE else None
RECONNECT = Backoff()  # 5 s doubling to 10 min, with jitter


def stream_tls_context() -> ssl.SSLContext:
    """Home Assistant's shared client context (certifi), or only the development broker's CA."""
    return _DEV_TLS or client_context()


def streaming_default(entry: MeterLinkConfigEntry) -> bool:
    """Cloud entries stream unless switched off; a Push3 LAN entry only when switched on."""
    return entry.data.get(CONF_CONNECTION) != CONNECTION_PUSH3


def stream_keys(entry: MeterLinkConfigEntry, coordinator: PushCoordinator) -> dict[str, str]:
    """Gateway device identifier -> gateway key of every stream the entry should run."""
    if not entry.options.get(CONF_STREAMING, streaming_default(entry)):
        return {}
    key: str = entry.data[CONF_API_KEY]
    if isinstance(coordinator, Push3Coordinator):  # a Push3 reads with its own gateway key
        return {coordinator.gateway_id: key}
    if not isinstance(coordinator, EkmPushCoordinator):
        return {}
    given: Mapping[str, str] = entry.options.get(CONF_GATEWAY_KEYS, {})
    keys = {cloud_gateway_id(mac): gateway_key for mac, gateway_key in given.items() if gateway_key}
    gateways = coordinator.inventory.gateways if coordinator.inventory else ()
    if len(gateways) == 1 and cloud_gateway_id(gateways[0].mac) not in keys:
        # A gateway key sees exactly one gateway; an account key that happens to see one is
        # refused by the broker, which the repair issue explains.
        keys[cloud_gateway_id(gateways[0].mac)] = key
    return keys


@dataclass
class _Stream:
    gateway: str
    stream: PushStream
    healthy: bool = False
    refused: bool = False


@dataclass
class PushStreaming:
    """The streams of one entry: feeds its coordinator and sets its poll interval."""

    hass: HomeAssistant
    entry: MeterLinkConfigEntry
    coordinator: PushCoordinator
    streams: list[_Stream] = field(default_factory=list)
    # Run after the poll that follows each (re)connect: the statistics catch-up's hook.
    after_reconnect: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def create(
        cls, hass: HomeAssistant, entry: MeterLinkConfigEntry, coordinator: PushCoordinator
    ) -> PushStreaming:
        """One stream per gateway key the entry knows (none: streaming is off)."""
        streaming = cls(hass, entry, coordinator)
        watchdog = max(MIN_WATCHDOG, WATCHDOG_READS * GATEWAY_READ_INTERVAL)
        for gateway, key in stream_keys(entry, coordinator).items():
            stream = PushStream(
                key,
                stream_tls_context(),
                broker=BROKER,
                identifier=client_id(f"meterlink-{entry.entry_id[:8]}"),
                watchdog=watchdog,
                backoff=RECONNECT,
                newer_than=coordinator.is_newer,
            )
            streaming.streams.append(_Stream(gateway, stream))
        return streaming

    @property
    def active(self) -> bool:
        """Whether the entry streams at all."""
        return bool(self.streams)

    @property
    def healthy(self) -> bool:
        """Every stream connected and delivering: polling may slow down."""
        return self.active and all(s.healthy for s in self.streams)

    @callback
    def async_start(self) -> None:
        """Start one background task per stream (cancelled with the entry)."""
        for stream in self.streams:
            self.entry.async_create_background_task(
                self.hass, self._async_run(stream), f"MeterLink MQTT stream {stream.gateway}"
            )

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `listener` when the streaming state changes (the Streaming binary sensor)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def _async_run(self, state: _Stream) -> None:
        # aclosing: the connection closes with the task, not whenever the generator is collected.
        try:
            async with aclosing(state.stream.events()) as events:
                async for event in events:
                    await self._async_handle(state, event)
        except MeterNotAuthorizedError:
            LOGGER.warning(
                "%s: EKM's MQTT broker refused the key of gateway %s; polling instead",
                self.coordinator.name,
                state.gateway,
            )
            self._issue(state, refused=True)
            self._set_health(state, healthy=False)

    async def _async_handle(self, state: _Stream, event: StreamEvent) -> None:
        if isinstance(event, Connected):
            self._issue(state, refused=False)
            self._set_health(state, healthy=True)
            # The broker keeps nothing: read what happened while disconnected.
            await self.coordinator.async_request_refresh()
            for catch_up in self.after_reconnect:
                await catch_up()
        elif isinstance(event, Message):
            self.coordinator.async_apply_stream(event.message.readings)
            if not state.healthy:
                self._set_health(state, healthy=True)
        elif isinstance(event, Silent | Disconnected):
            self._set_health(state, healthy=False)
        else:
            LOGGER.debug("%s: unreadable message: %s", self.coordinator.name, event.error)

    def _set_health(self, state: _Stream, *, healthy: bool) -> None:
        was_healthy = self.healthy
        state.healthy = healthy
        self.coordinator.set_stream_interval(SAFETY_INTERVAL if self.healthy else None)
        if was_healthy and not self.healthy:  # fill the gap now, then poll at the usual pace
            self.hass.async_create_task(self.coordinator.async_request_refresh())
        for listener in list(self._listeners):
            listener()

    def _issue(self, state: _Stream, *, refused: bool) -> None:
        issue_id = f"{ISSUE_KEY_REFUSED}_{self.entry.entry_id}_{state.gateway}"
        if refused == state.refused:
            return
        state.refused = refused
        if not refused:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_KEY_REFUSED,
            translation_placeholders={"name": self.entry.title, "gateway": state.gateway},
        )

    def diagnostics(self) -> dict[str, Any]:
        """Per stream: gateway, health and counters (never the key, topic or username)."""
        return {
            "healthy": self.healthy,
            "streams": [
                {
                    "gateway": s.gateway,
                    "healthy": s.healthy,
                    "refused": s.refused,
                    **s.stream.stats.as_dict(),
                }
                for s in self.streams
            ],
        }


def gateway_keys_from_form(
    text: str, gateways: Iterable[str], stored: Mapping[str, str]
) -> dict[str, str]:
    """The options' gateway keys after the user's `MAC=KEY` lines (`MAC=` forgets one).

    Lines name gateways the key sees; the stored keys of gateways not named stay.
    """
    known = {mac_address(mac) for mac in gateways}
    keys = dict(stored)
    for line in filter(None, (part.strip() for part in text.splitlines())):
        mac_text, separator, key = line.partition("=")
        mac = mac_address(mac_text.strip())
        if not separator or mac is None or mac not in known:
            raise FormError(CONF_GATEWAY_KEYS, "invalid_gateway_key_line")
        if not key.strip():
            keys.pop(mac, None)
            continue
        try:
            keys[mac] = check_key(key)
        except InvalidParameterError:
            raise FormError(CONF_GATEWAY_KEYS, "invalid_gateway_key_line") from None
    return keys


class StreamingBinarySensor(BinarySensorEntity):
    """On while every MQTT stream of the entry delivers (diagnostic, one per entry).

    It writes state only when that changes; the counters are in diagnostics, not attributes,
    which would be rewritten (and recorded) with every message.
    """

    _attr_has_entity_name = True
    _attr_translation_key = "streaming"
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_should_poll = False

    def __init__(self, streaming: PushStreaming) -> None:
        """Attach to the first streamed gateway's device."""
        self._streaming = streaming
        self._attr_unique_id = f"{streaming.entry.unique_id}_streaming"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, streaming.streams[0].gateway)})

    @property
    def is_on(self) -> bool:
        """Whether the entry is fed by its streams (polls are only a safety net then)."""
        return self._streaming.healthy

    async def async_added_to_hass(self) -> None:
        """Follow the streams' state."""
        self.async_on_remove(self._streaming.async_add_listener(self.async_write_ha_state))
