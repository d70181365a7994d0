"""What a meter's entities need from a coordinator, whichever transport fills it.

The entity classes of the EKM tables (`ekm.entities`) work on any coordinator
that can say whether a meter is available and what its latest `EkmReading` is: the RS-485 bus
coordinator and the EKM Push / Push3 coordinators all derive from `EkmCoordinator`.
"""

from __future__ import annotations

from typing import Protocol

from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from ..const import DOMAIN
from ..meters.ekm import Command, EkmReading, MeterVersion, model_name
from .const import MANUFACTURER_EKM


class MeterIdentity(Protocol):
    """What identifies a meter to its entities: a subentry's meter, or one the cloud listed."""

    @property
    def address(self) -> str:
        """The 12-digit meter address."""
        ...

    @property
    def version(self) -> MeterVersion:
        """Protocol version, which gates the entities the meter has."""
        ...

    @property
    def title(self) -> str:
        """The device name."""
        ...

    @property
    def model(self) -> str | None:
        """Model code as hex ("1024"), when known."""
        ...


def printed_number(address: str) -> str:
    """The number printed on an EKM device: its 12-digit address without the leading "000"."""
    return address[3:] if address.startswith("000") else address


def meter_name(model_code: str | None, address: str) -> str:
    """A meter's device name: its model and the number printed on it."""
    model = model_name(model_code) if model_code else "EKM meter"
    return f"{model} {printed_number(address)}"


def meter_subentry_title(address: str) -> str:
    """The title of a new meter subentry (issue 13 #11).

    Home Assistant shows a subentry's devices under its title, so a title equal to the device
    name printed it twice; the subentry is the meter's place on the bus, named by its number.
    Subentries created before keep their model-and-number titles.
    """
    return f"Meter {printed_number(address)}"


def meter_device_info(
    meter: MeterIdentity,
    reading: EkmReading | None,
    *,
    via_device_id: str | None = None,
) -> DeviceInfo:
    """The device of one meter; model and firmware as the meter reports them when known.

    Model and firmware are shown as a user knows them (issue 13 #8): the marketing name
    without EKM's model code (which Home Assistant would print beside it as "(1024)"), and the
    firmware byte in EKM's 0x notation.
    """
    info = DeviceInfo(
        identifiers={(DOMAIN, meter.address)},
        manufacturer=MANUFACTURER_EKM,
        name=meter.title,
        serial_number=meter.address,
    )
    info.update(device_identity(reading, meter.model))
    if via_device_id is not None:
        info["via_device_id"] = via_device_id
    return info


def device_identity(reading: EkmReading | None, stored_model: str | None = None) -> DeviceInfo:
    """The device registry's model and firmware for a meter, from its reading when known."""
    info = DeviceInfo()
    if model_code := (reading.model if reading else None) or stored_model:
        info["model"] = model_name(model_code)
    if reading is not None and (firmware := reading.firmware_version):
        info["sw_version"] = firmware
    return info


class EkmCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """A coordinator whose data holds `EkmReading`s by meter address."""

    def is_available(self, address: str) -> bool:
        """Whether the meter's latest reading is current enough to show."""
        raise NotImplementedError

    def latest(self, address: str) -> EkmReading | None:
        """The meter's latest published reading, or None."""
        raise NotImplementedError

    def entity_unique_id(self, address: str, key: str) -> str:
        """The unique id of a meter's entity (a transport may namespace it)."""
        return f"{address}_{key}"

    def device_info(self, meter: MeterIdentity) -> DeviceInfo:
        """The device a meter's entities belong to."""
        return meter_device_info(meter, self.latest(meter.address))

    def update_token(self, address: str) -> object | None:
        """What a meter entity's state depends on; None: write state on every update.

        A coordinator that returns the same (or an equal) token while a meter's reading did
        not change lets that meter's entities skip writing state (see `MeterLinkEntity`).
        """
        return None

    async def async_execute(self, address: str, command: Command) -> EkmReading:
        """Send a command to a meter; transports without commands refuse it."""
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="command_not_available",
            translation_placeholders={"address": address, "command": command.description},
        )
