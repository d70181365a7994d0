"""Entities of an eGauge meter: register sensors, /local sensors, reboot and resync, firmware.

One device for the meter. Which sensors exist follows the meter's registers (physical and
virtual) and the user's choice of them; the commands (buttons, the update entity) exist only for
a user with the `save` right, since the meter would refuse them for anyone else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from homeassistant.components.button import ButtonEntity
from homeassistant.components.sensor import SensorEntity, SensorStateClass
from homeassistant.components.update import (
    UpdateDeviceClass,
    UpdateEntity,
    UpdateEntityFeature,
)
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..const import DOMAIN
from ..entity import MeterLinkEntity, async_add_new_entities
from ..errors import translate_errors
from ..meters.egauge import OperationStatus, commands
from ..runtime import MeterLinkConfigEntry
from .actions import COMMAND_ERRORS
from .coordinator import EgaugeCoordinator, egauge_runtime
from .descriptions import (
    BUTTONS,
    UPDATE,
    EgaugeLocalDescription,
    EgaugeSensorDescription,
    local_descriptions,
    register_descriptions,
)

MANUFACTURER = "eGauge Systems"


def egauge_device_info(coordinator: EgaugeCoordinator) -> DeviceInfo:
    """The meter: model from /sys/model, serial number, firmware, its own web page."""
    info = coordinator.info
    scheme = "https" if coordinator.client.https else "http"
    return DeviceInfo(
        identifiers={(DOMAIN, f"egauge_{info.serial}")},
        manufacturer=MANUFACTURER,
        model=info.model,
        name=info.hostname,
        serial_number=info.serial,
        sw_version=coordinator.firmware,
        configuration_url=f"{scheme}://{coordinator.client.host}/",
    )


class EgaugeEntity(MeterLinkEntity[EgaugeCoordinator]):
    """An entity of the meter; unavailable while it does not answer or reboots."""

    def __init__(self, coordinator: EgaugeCoordinator, description: EntityDescription) -> None:
        """Attach the entity to the meter's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"egauge_{coordinator.info.serial}_{description.key}"
        self._attr_device_info = egauge_device_info(coordinator)

    @property
    def available(self) -> bool:
        """Available while the last poll succeeded and the meter is not rebooting."""
        return (
            super().available
            and self.coordinator.data is not None
            and not self.coordinator.rebooting
        )


class EgaugeRegisterSensor(EgaugeEntity, SensorEntity):
    """A rate, total, import or export of one register (on the meter or the register's device)."""

    entity_description: EgaugeSensorDescription

    def __init__(
        self, coordinator: EgaugeCoordinator, description: EgaugeSensorDescription
    ) -> None:
        """Attach the sensor to the meter, or to its register's own device if asked for."""
        super().__init__(coordinator, description)
        if coordinator.options.register_devices:
            meter = coordinator.info
            self._attr_device_info = DeviceInfo(
                identifiers={(DOMAIN, f"egauge_{meter.serial}_{description.register}")},
                manufacturer=MANUFACTURER,
                model=meter.model,
                name=f"{meter.hostname} {description.register}",
                via_device_id=coordinator.meter_device_id,
            )

    @property
    def available(self) -> bool:
        """Also unavailable while the register is missing from the answer."""
        data = self.coordinator.data
        return super().available and self.entity_description.register in data.reading.values

    def _shown_value(self) -> object:
        """The value, and when a net total last restarted (epoch moved, database zeroed)."""
        self._attr_native_value = self._value()
        last_reset = None
        if self.entity_description.state_class is SensorStateClass.TOTAL:
            last_reset = self.coordinator.data.last_reset
        self._attr_last_reset = last_reset
        return (self._attr_native_value, last_reset)

    def _value(self) -> float | None:
        """The value in the entity's unit, signed as the meter (or the flip option) says."""
        data = self.coordinator.data
        description = self.entity_description
        name = description.register
        value = data.reading.values.get(name)
        if value is None:
            return None
        sign = self.coordinator.options.sign(name)
        kind = value.register.type
        match description.part:
            case "rate":
                return None if value.rate is None else value.rate * sign * description.scale
            case "total" if name in self.coordinator.options.net:
                return None if value.total is None else value.total * sign
            case "total":
                return data.totals.get(name)
        energy = data.split.totals.get(name)
        if energy is None:
            return 0.0 if name in data.split.counters else None
        imported, exported = (
            (energy.imported, energy.exported) if sign > 0 else (energy.exported, energy.imported)
        )
        amount = imported if description.part == "import" else exported
        return kind.total(amount)


class EgaugeLocalSensor(EgaugeEntity, SensorEntity):
    """A sensor-level value of /local; /local is read only while one of these is enabled."""

    entity_description: EgaugeLocalDescription

    async def async_added_to_hass(self) -> None:
        """Ask the coordinator to read /local from now on."""
        await super().async_added_to_hass()
        self.coordinator.local_wanted += 1
        self.async_on_remove(self._not_wanted)
        await self.coordinator.async_request_refresh()

    @callback
    def _not_wanted(self) -> None:
        self.coordinator.local_wanted -= 1

    def _shown_value(self) -> object:
        """The sensor's RMS value (or its line frequency)."""
        local = self.coordinator.data.local
        value = None if local is None else local.values.get(self.entity_description.sensor)
        if value is None:
            self._attr_native_value = None
        elif self.entity_description.measure == "frequency":
            self._attr_native_value = value.frequency
        else:
            self._attr_native_value = value.normal
        return self._attr_native_value


class EgaugeButton(EgaugeEntity, ButtonEntity):
    """Reboot the meter, or restart its clock synchronisation (NTP)."""

    def _shown_value(self) -> object:
        """Nothing: a poll changes only the button's availability."""
        return None

    async def async_press(self) -> None:
        """Send the command; a reboot's outage is announced so it is not logged as an error."""
        coordinator = self.coordinator
        reboot = self.entity_description.key == "reboot"
        request = commands.reboot() if reboot else commands.set_time(None)
        with translate_errors(COMMAND_ERRORS, coordinator.error_placeholders()):
            await commands.run(coordinator.client, request)
        if reboot:
            coordinator.expect_outage()


class EgaugeUpdate(EgaugeEntity, UpdateEntity):
    """The meter's firmware: `update list` says what is available, `install` follows the token."""

    _attr_device_class = UpdateDeviceClass.FIRMWARE
    _attr_supported_features = UpdateEntityFeature.INSTALL | UpdateEntityFeature.PROGRESS

    @property
    def available(self) -> bool:
        """An installation in progress keeps the entity available through the reboot."""
        return self._attr_in_progress is True or super().available

    @property
    def installed_version(self) -> str | None:
        """The firmware the meter reports."""
        return self.coordinator.firmware

    @property
    def latest_version(self) -> str | None:
        """The newest firmware available (the installed one when no newer is known)."""
        offer = self.coordinator.offer
        return self.coordinator.firmware if offer is None else offer.version

    async def async_install(self, version: str | None, backup: bool, **kwargs: Any) -> None:
        """Install, with the progress of the meter's status token; the meter reboots after."""
        coordinator = self.coordinator
        target = version or self.latest_version

        def progress(status: OperationStatus) -> None:
            self._attr_in_progress = True
            self._attr_update_percentage = (
                None if status.progress is None else round(status.progress * 100)
            )
            self.async_write_ha_state()

        self._attr_in_progress = True
        self.async_write_ha_state()
        try:
            with translate_errors(COMMAND_ERRORS, coordinator.error_placeholders()):
                await commands.run(
                    coordinator.client,
                    commands.update_install(target),
                    on_progress=progress,
                    give_up_after=1800,
                )
            coordinator.firmware = target
            coordinator.offer = None
            coordinator.expect_outage()
        finally:
            self._attr_in_progress = False
            self._attr_update_percentage = None
            self.async_write_ha_state()


def _async_add_registers(
    entry: MeterLinkConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    coordinator = egauge_runtime(entry).coordinator
    wanted: dict[str, Entity] = {}

    def keys() -> dict[str, None] | None:
        data = coordinator.data
        if data is None or not coordinator.last_update_success:
            return None
        options = coordinator.options
        for name, value in data.reading.values.items():
            if not options.wanted(name):
                continue
            net = name in options.net
            for description in register_descriptions(
                name, value.register.type, net=net, own_device=options.register_devices
            ):
                if description.key not in wanted:
                    wanted[description.key] = EgaugeRegisterSensor(coordinator, description)
        return dict.fromkeys(wanted)

    async_add_new_entities(entry, coordinator, async_add_entities, keys, lambda key: [wanted[key]])


@callback
def async_add_egauge_sensors(
    entry: MeterLinkConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """The sensor platform's setup: register sensors, and /local sensors (disabled)."""
    _async_add_registers(entry, async_add_entities)
    runtime = egauge_runtime(entry)
    async_add_entities(
        EgaugeLocalSensor(runtime.coordinator, description)
        for sensor, code in runtime.local_sensors
        for description in local_descriptions(sensor, code)
    )


def _commands_only(
    factory: Callable[[EgaugeCoordinator], Iterable[Entity]],
) -> Callable[[MeterLinkConfigEntry, AddConfigEntryEntitiesCallback], None]:
    """A platform setup that adds its entities only for a user with the save right."""

    @callback
    def setup(
        entry: MeterLinkConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
    ) -> None:
        coordinator = egauge_runtime(entry).coordinator
        if coordinator.rights.save:
            async_add_entities(factory(coordinator))

    return setup


async_add_egauge_buttons = _commands_only(
    lambda coordinator: [EgaugeButton(coordinator, description) for description in BUTTONS]
)
async_add_egauge_updates = _commands_only(lambda coordinator: [EgaugeUpdate(coordinator, UPDATE)])
