"""Switches of an EKM Push (cloud) entry: meter relays, ioStack outputs and gateway triggers.

All three change something on a device, so they exist only when the entry's API token may
write (no token or a READ token: no switches). Relays and outputs are switched with
sendCommand and show the device's confirmed state: what its answer confirmed, until a newer
reading of the device says otherwise; nothing is assumed before the answer. A trigger's switch
enables or disables it on the gateway and follows the gateway's trigger list, so triggers made,
changed or removed elsewhere appear, change or disappear here too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from ..const import CONF_PASSWORD, DOMAIN, LOGGER
from ..entity import MeterLinkEntity, async_add_new_entities
from ..meters.ekm import MeterVersion
from ..meters.json import JsonValue, plain
from ..meters.push.settings import IOSTACK_PINS, RELAYS, Target
from ..runtime import MeterLinkConfigEntry
from .coordinator import cloud_gateway_id
from .settings import (
    DeviceRead,
    DeviceSettings,
    SentCommand,
    TokenAccess,
    device_addresses,
    device_read,
    device_settings,
    inventory_of,
)
from .triggers import TRIGGER_REFRESH, GatewayTrigger, TriggerCoordinator

IOSTACK_OUTPUTS = range(IOSTACK_PINS[0], IOSTACK_PINS[1] + 1)


def trigger_unique_id(entry: MeterLinkConfigEntry, trigger_uuid: str) -> str:
    """Unique id of a trigger's switch (namespaced by the entry, like every cloud entity)."""
    return f"{entry.unique_id}_trigger_{trigger_uuid}"


def device_info(identifier: str) -> DeviceInfo:
    """The cloud connection's device of a meter, ioStack or gateway (made by that connection)."""
    return DeviceInfo(identifiers={(DOMAIN, identifier)})


@callback
def async_setup_push_switches(
    entry: MeterLinkConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the write switches once the API has said the token may write."""
    hass = entry.runtime_data.coordinator.hass
    settings = device_settings(entry)
    entry.async_create_task(
        hass, _async_add_switches(hass, entry, settings, async_add_entities), "push switches"
    )


async def _async_add_switches(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    settings: DeviceSettings,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    access = await settings.async_access()
    if access is TokenAccess.UNKNOWN:
        # The API could not say (unreachable): ask again every trigger refresh interval.
        cancel: Callable[[], None] | None = None

        async def _retry(_now: datetime) -> None:
            if await settings.async_access() is TokenAccess.UNKNOWN or cancel is None:
                return
            cancel()
            await _async_offer(hass, entry, settings, async_add_entities)

        cancel = async_track_time_interval(hass, _retry, TRIGGER_REFRESH)
        entry.async_on_unload(cancel)
        return
    await _async_offer(hass, entry, settings, async_add_entities)


async def _async_offer(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    settings: DeviceSettings,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switches when the token may write; say why not otherwise."""
    if settings.access is not TokenAccess.WRITE:
        LOGGER.info(
            "%s: no relay, output or trigger switches (API token: %s)",
            entry.title,
            settings.access,
        )
        return
    _follow_devices(entry, settings, async_add_entities)
    if settings.triggers is None:  # pragma: no cover - a token implies the trigger client
        return
    coordinator = TriggerCoordinator(
        hass,
        entry,
        settings.triggers,
        lambda: [gateway.mac for gateway in inventory_of(entry).gateways],
    )
    settings.trigger_coordinator = coordinator
    await coordinator.async_refresh()
    _follow_triggers(hass, entry, settings, coordinator, async_add_entities)


def _follow_devices(
    entry: MeterLinkConfigEntry,
    settings: DeviceSettings,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add relay and output switches for every device the readings show, now and later."""
    cloud = entry.runtime_data.coordinator

    def keys() -> dict[str, None]:
        meters, iostacks = device_addresses(entry)
        read = {address: device_read(entry, address) for address in meters}
        return dict.fromkeys(
            [a for a, found in read.items() if found is not None and found.meter is not None]
            + list(iostacks)
        )

    def factory(address: str) -> list[SwitchEntity]:
        read = device_read(entry, address)
        if read is None or read.meter is None:
            return [PushOutputSwitch(cloud, settings, address, pin) for pin in IOSTACK_OUTPUTS]
        if read.meter.version is MeterVersion.V3:
            return []
        return [
            PushRelaySwitch(cloud, settings, address, number)
            for number in range(1, len(RELAYS) + 1)
        ]

    async_add_new_entities(entry, cloud, async_add_entities, keys, factory)


def _follow_triggers(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    settings: DeviceSettings,
    coordinator: TriggerCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch per trigger; remove the switch of a trigger the gateway no longer has.

    Removal goes by the entity registry, so a trigger deleted while Home Assistant was not
    running loses its switch too. A failed refresh says nothing about which triggers exist.
    """
    prefix = trigger_unique_id(entry, "")

    def current() -> dict[str, GatewayTrigger] | None:
        return (coordinator.data or {}) if coordinator.last_update_success else None

    @callback
    def _remove_gone() -> None:
        if (triggers := current()) is None:
            return
        registry = er.async_get(hass)
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
            unique_id = entity.unique_id
            if (
                entity.domain == "switch"
                and unique_id.startswith(prefix)
                and unique_id.removeprefix(prefix) not in triggers
            ):
                registry.async_remove(entity.entity_id)

    async_add_new_entities(
        entry,
        coordinator,
        async_add_entities,
        lambda: None if (triggers := current()) is None else dict.fromkeys(triggers),
        lambda trigger_uuid: [
            PushTriggerSwitch(coordinator, settings, coordinator.data[trigger_uuid])
        ],
        forget_missing=True,
    )
    _remove_gone()
    entry.async_on_unload(coordinator.async_add_listener(_remove_gone))


class _CommandSwitch(MeterLinkEntity[DataUpdateCoordinator[Any]], SwitchEntity):
    """A relay or output switched through sendCommand; its state is the device's word."""

    target: Target
    kind: str  # in the unique id: "<entry>_<address>_<kind>_<number>"

    def __init__(
        self,
        coordinator: DataUpdateCoordinator[Any],
        settings: DeviceSettings,
        address: str,
        number: int,
    ) -> None:
        """Attach switch `number` to the cloud connection's device of the meter or ioStack."""
        super().__init__(coordinator)
        self.settings = settings
        self.address = address
        self.number = number
        self._attr_device_info = device_info(address)
        self._attr_unique_id = f"{settings.entry.unique_id}_{address}_{self.kind}_{number}"
        self._attr_translation_placeholders = self.name_placeholders()
        self._confirmed: tuple[bool, float] | None = None  # (on, when the answer came)

    async def async_added_to_hass(self) -> None:
        """Also follow commands confirmed by the device (this switch's or an action's)."""
        await super().async_added_to_hass()
        self.async_on_remove(self.settings.async_add_command_listener(self._on_command))

    def name_placeholders(self) -> dict[str, str]:
        """What the translated name needs besides its key."""
        return {}

    def confirms(self, sent: SentCommand) -> bool | None:
        """The state a confirmed command put this switch in, or None if it is not about it."""
        raise NotImplementedError

    @callback
    def _on_command(self, sent: SentCommand) -> None:
        if sent.target is not self.target or sent.target_id != self.address:
            return
        state = self.confirms(sent)
        if state is not None:
            self._confirmed = (state, time.time())
            self.async_write_ha_state()

    def read_state(self, read: DeviceRead) -> bool | None:
        """The state the device's latest reading shows."""
        raise NotImplementedError

    def _read(self) -> tuple[bool | None, int | None]:
        read = device_read(self.settings.entry, self.address)
        return (None, None) if read is None else (self.read_state(read), read.timestamp_ms)

    @property
    def available(self) -> bool:
        """Available while the device has a reading (its state may still be unknown)."""
        read = device_read(self.settings.entry, self.address)
        return super().available and (read is not None or self._confirmed is not None)

    @property
    def is_on(self) -> bool | None:
        """The confirmed state, until a reading taken after the confirmation replaces it."""
        state, stamp = self._read()
        if self._confirmed is not None:
            confirmed, when = self._confirmed
            if stamp is None or stamp / 1000 < when:
                return confirmed
        return state

    async def _async_switch(self, command: str, params: dict[str, JsonValue]) -> None:
        settings = self.settings
        await settings.require_write()
        what = f"{command} on {self.target.value} {self.address}"
        with settings.api_errors(what):
            await settings.async_send(self.target, self.address, command, params)


class PushRelaySwitch(_CommandSwitch):
    """Output relay 1 or 2 of a v4 (or newer) Omnimeter, switched through its gateway."""

    target = Target.METER
    kind = "relay"

    @property
    def relay(self) -> str:
        """The relay's name in SetRelay (number 1 or 2)."""
        return RELAYS[self.number - 1]

    @property
    def translation_key(self) -> str:
        """Relay 1 and relay 2 have names of their own."""
        return f"relay_{self.number}"

    def confirms(self, sent: SentCommand) -> bool | None:
        """SetRelay of this relay: closed means on (held or timed alike)."""
        if sent.command != "SetRelay":
            return None
        if str(sent.params.get("relay", "")).casefold() != self.relay.casefold():
            return None
        return str(sent.params.get("status", "")).casefold() == "close"

    def read_state(self, read: DeviceRead) -> bool | None:
        """The relay bit of the meter's State_Out."""
        return None if read.meter is None else read.meter.relay_closed(self.number)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the relay until told otherwise."""
        await self._async_switch("SetRelay", self._params("close"))

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Open the relay until told otherwise."""
        await self._async_switch("SetRelay", self._params("open"))

    def _params(self, status: str) -> dict[str, Any]:
        """SetRelay held until told otherwise, with the meters' password when one is set."""
        params: dict[str, Any] = {"relay": self.relay, "status": status, "duration": 0}
        if password := self.settings.entry.options.get(CONF_PASSWORD):
            params["meter_password"] = password
        return params


class PushOutputSwitch(_CommandSwitch):
    """A digital output of an ioStack, switched through its gateway."""

    target = Target.IOSTACK
    kind = "output"
    _attr_translation_key = "iostack_output"

    def name_placeholders(self) -> dict[str, str]:
        """The output's pin (1 to 4) in its name."""
        return {"pin": str(self.number)}

    def confirms(self, sent: SentCommand) -> bool | None:
        """SetDOLevel of this pin: level 1 means on."""
        if sent.command != "SetDOLevel" or sent.params.get("pin") != self.number:
            return None
        return sent.params.get("level") == 1

    def read_state(self, read: DeviceRead) -> bool | None:
        """The output's State_Out_<pin> field (the name the cloud uses for ioStack outputs)."""
        level = None if read.iostack is None else read.iostack.number(f"State_Out_{self.number}")
        return None if level is None else level != 0

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Raise the output."""
        await self._async_switch("SetDOLevel", {"pin": self.number, "level": 1})

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Lower the output."""
        await self._async_switch("SetDOLevel", {"pin": self.number, "level": 0})


class PushTriggerSwitch(MeterLinkEntity[TriggerCoordinator], SwitchEntity):
    """One gateway trigger: on while enabled; its conditions and actions as attributes."""

    _attr_translation_key = "push_trigger"  # the icons; the name is the trigger's own

    def __init__(
        self, coordinator: TriggerCoordinator, settings: DeviceSettings, found: GatewayTrigger
    ) -> None:
        """The switch of trigger `found`, on its gateway's device."""
        super().__init__(coordinator)
        self.settings = settings
        self.trigger_uuid = found.uuid
        self.gateway = found.gateway
        self._attr_unique_id = trigger_unique_id(settings.entry, found.uuid)
        self._attr_device_info = device_info(cloud_gateway_id(found.gateway))
        self._trigger = found.trigger
        self._attr_name = found.trigger.trigger_name

    @callback
    def _handle_coordinator_update(self) -> None:
        found = (self.coordinator.data or {}).get(self.trigger_uuid)
        if found is not None:
            self._trigger = found.trigger
            self._attr_name = found.trigger.trigger_name
        super()._handle_coordinator_update()

    @property
    def available(self) -> bool:
        """Available while the gateway's trigger list could be read and still has it."""
        return super().available and self.trigger_uuid in (self.coordinator.data or {})

    @property
    def is_on(self) -> bool:
        """Whether the trigger is enabled on the gateway."""
        return self._trigger.enabled

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """What the trigger watches and does, as the Trigger API describes it."""
        trigger = self._trigger
        return {
            "trigger_uuid": self.trigger_uuid,
            "gateway": self.gateway,
            "trigger_name": trigger.trigger_name,
            "conditions": plain([condition.as_json() for condition in trigger.conditions]),
            "actions": plain([action.as_json() for action in trigger.actions]),
            "created_at": trigger.created_at,
            "updated_at": trigger.updated_at,
        }

    async def _async_enable(self, enabled: bool) -> None:
        settings = self.settings
        await settings.require_write()
        what = f"{'enable' if enabled else 'disable'} trigger {self.trigger_uuid}"
        with settings.api_errors(what):
            await settings.update_trigger(self.trigger_uuid, {"enabled": enabled})

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Enable the trigger on its gateway."""
        await self._async_enable(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disable the trigger on its gateway."""
        await self._async_enable(False)
