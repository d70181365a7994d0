"""Config flow steps of an RS-485 bus: the bus entry, its meters as subentries, its options.

A bus entry is reached through a serial port or a serial bridge; the meters on it are config
subentries, so the user can add and remove meters without touching the bus, and each meter gets
its own device. The steps are mixed into `config_flow.MeterLinkConfigFlow`, whose menu offers
``ekm_rs485`` next to the other connection types; USB discovery of an adapter lands here too.

Every form tests what the user typed against the real hardware before anything is stored: the port
is opened, every meter must answer, and a password must be accepted by a login. Passwords never
appear in errors, placeholders or logs.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, override

import probatio
from homeassistant.components import usb
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryData,
    ConfigSubentryFlow,
    OptionsFlowWithReload,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers.selector import (
    SerialPortSelector,
    TextSelector,
    TextSelectorConfig,
)
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from homeassistant.helpers.typing import UNDEFINED, UndefinedType

from ..const import (
    CONF_CONNECTION,
    CONF_MODEL,
    CONF_PASSWORD,
    CONF_SCAN_INTERVAL,
    CONNECTION_EKM_RS485,
    DOMAIN,
)
from ..errors import FormRule, form_error
from ..flow_helpers import SECRET_SELECTOR, FormError, interval_selector, is_meter_password
from ..meters.ekm import EkmBus, EkmReading, MeterVersion, normalize_address
from ..meters.ekm.endpoint import endpoint_ids
from ..meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterConnectionError,
    MeterError,
    MeterFrameError,
    MeterTimeoutError,
)
from . import bus as coordinator
from .bus import ekm_bus_runtime
from .const import (
    CONF_ADDRESS,
    CONF_PORT,
    CONF_SETTINGS_INTERVAL,
    CONF_USB_ID,
    CONF_VERSION,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SETTINGS_INTERVAL,
    MAX_SETTINGS_INTERVAL,
    MIN_SCAN_INTERVAL,
    MIN_SETTINGS_INTERVAL,
    SUBENTRY_METER,
)
from .coordinator import meter_name, meter_subentry_title

CONF_METERS: Final = "meters"  # form field only: the addresses typed in the ekm_rs485 step
# Form field only: a network bridge URL typed beside the serial-port picker (stored as the
# port). The picker lists adapters; a typed URL in it would be flagged "Unknown item".
CONF_BRIDGE_URL: Final = "bridge_url"
CONF_SUBENTRY_ID: Final = "subentry_id"  # reauth data: the meter that refused its password

DEFAULT_OPTIONS: Final = {
    CONF_SCAN_INTERVAL: DEFAULT_SCAN_INTERVAL,
    CONF_SETTINGS_INTERVAL: DEFAULT_SETTINGS_INTERVAL,
}

_ADDRESS_SEPARATORS: Final = re.compile(r"[\s,;]+")
_BY_ID_DIR: Final = "/dev/serial/by-id/"

_PASSWORD_SELECTOR: Final = SECRET_SELECTOR


# Input parsing, error mapping and the bus used to test input -----------------------------------


class Target(StrEnum):
    """What a failed check is about; each step maps it to one of its own fields."""

    PORT = "port"
    METER = "meter"
    PASSWORD = "password"
    BASE = "base"


# What a library error means while testing input (its `address` placeholder names the meter).
FORM_ERRORS: Final = (
    FormRule(
        error=MeterConnectionError,
        field=Target.PORT,
        reason="cannot_connect",
        with_placeholders=False,  # the port failed, not a meter
    ),
    FormRule(error=MeterAuthError, field=Target.PASSWORD, reason="invalid_password"),
    FormRule(error=MeterTimeoutError, field=Target.METER, reason="meter_not_found"),
    FormRule(error=MeterFrameError, field=Target.METER, reason="invalid_response"),
)


BUS_PORT: Final = "bus_port"  # placeholder: the port or bridge URL a form tried


def probe_error(target: Target, reason: str, address: str | None = None) -> FormError:
    """A form error about one meter (its address shown) or the bus."""
    return FormError(target, reason, None if address is None else {CONF_ADDRESS: address})


@dataclass(frozen=True, slots=True)
class FoundMeter:
    """A meter that answered during a flow: what its subentry will hold."""

    address: str
    version: MeterVersion
    model: str

    @classmethod
    def from_reading(cls, address: str, reading: EkmReading) -> FoundMeter:
        """Keep what identifies the meter; the values themselves are the coordinator's job."""
        return cls(address, reading.version, reading.model or "")

    @property
    def title(self) -> str:
        """Model and the number printed on the meter (9 digits when the address allows)."""
        return meter_name(self.model, self.address)

    def data(self, password: str | None) -> dict[str, str]:
        """Subentry data; the password is only stored when the user gave one."""
        data = {CONF_ADDRESS: self.address, CONF_VERSION: str(self.version), CONF_MODEL: self.model}
        if password is not None:
            data[CONF_PASSWORD] = password
        return data

    def subentry(self, password: str | None) -> ConfigSubentryData:
        """The subentry created together with the bus entry."""
        return ConfigSubentryData(
            data=self.data(password),
            subentry_type=SUBENTRY_METER,
            title=meter_subentry_title(self.address),
            unique_id=self.address,
        )


def parse_addresses(text: str) -> list[str]:
    """12-digit addresses from free text (commas, spaces or lines), duplicates dropped.

    The first token that is not an address is reported, so the user sees which one to fix.
    """
    tokens = [token for token in _ADDRESS_SEPARATORS.split(text) if token]
    if not tokens:
        raise probe_error(Target.METER, "no_meters")
    addresses: dict[str, None] = {}
    for token in tokens:
        try:
            addresses[normalize_address(token)] = None
        except InvalidParameterError as err:
            raise probe_error(Target.METER, "invalid_address", token) from err
    return list(addresses)


def parse_address(text: str) -> str:
    """Exactly one address, for the forms that add a single meter."""
    addresses = parse_addresses(text)
    if len(addresses) > 1:
        raise probe_error(Target.METER, "one_meter_only")
    return addresses[0]


def parse_password(password: str | None) -> str | None:
    """An 8-digit meter password, or None when the field was left empty.

    Checked here because the meter would just stay silent on a malformed login.
    """
    if not password:
        return None
    if not is_meter_password(password):
        raise probe_error(Target.PASSWORD, "invalid_password_format")
    return password


def require_password(password: str | None) -> str:
    """Like `parse_password`, for forms whose only purpose is a new password."""
    if (parsed := parse_password(password)) is None:
        raise probe_error(Target.PASSWORD, "invalid_password_format")
    return parsed


def bus_title(port: str) -> str:
    """The default title of a bus entry."""
    return f"EKM RS-485 bus ({port})"


def _resolve_port(port: str) -> str:
    """Blocking part of `stable_port_id` (runs in the executor: it reads the file system)."""
    if not port.startswith("/dev/"):
        return port
    by_id = usb.get_serial_by_id(os.path.realpath(port))
    return by_id if by_id.startswith(_BY_ID_DIR) else port


async def stable_port_id(hass: HomeAssistant, port: str) -> str:
    """The unique id of a bus: a stable identity of the port it is reached through.

    A bus has no hardware id of its own (the meters on it can change, and a bus may have none
    yet), so the bus entry is identified by its port. For a local USB adapter that is the
    ``/dev/serial/by-id/...`` link, which names the adapter (vendor, model, serial) and so
    survives re-plugging and renumbering of ``/dev/ttyUSBn``; typing ``/dev/ttyUSB0`` or the
    by-id path then gives the same id. Anything else (``socket://``, ``rfc2217://``,
    ``esphome-hass://`` URLs, or a device without a by-id link) is taken as given: for network
    bridges the URL is the identity of the bus.
    """
    return await hass.async_add_executor_job(_resolve_port, port)


def _probe_error(err: Exception, address: str | None) -> FormError:
    """Map a library error to a form error (called from an ``except`` block)."""
    placeholders = None if address is None else {CONF_ADDRESS: address}
    return form_error(err, FORM_ERRORS, "testing the connection", placeholders)


@asynccontextmanager
async def open_bus(port: str, owner: ConfigEntry | None = None) -> AsyncIterator[EkmBus]:
    """The bus on `port` to test input on; `owner` is the entry whose bus that is, if any.

    While the owner is loaded its running bus is used: a serial port can only be opened once,
    and the running bus already serialises access with the coordinator's polls. Otherwise a
    temporary bus is opened and closed again.
    """
    if owner is not None and owner.state is ConfigEntryState.LOADED:
        yield ekm_bus_runtime(owner).bus
        return
    bus = coordinator.create_bus(port)
    try:
        await bus.connect()
    except MeterError as err:
        # Named after the port typed: "the port" is unclear with several adapters and bridges.
        raise FormError(Target.PORT, "port_cannot_open", {BUS_PORT: port}) from err
    except Exception as err:
        raise _probe_error(err, None) from err
    try:
        yield bus
    finally:
        with suppress(Exception):  # closing cannot fail the check that already ran
            await bus.close()


async def identify(bus: EkmBus, address: str, password: str | None) -> FoundMeter:
    """Find the meter (v3 or v4) and, when a password is given, log in with it."""
    try:
        reading = await bus.identify(address)
        if password is not None:
            await bus.check_password(address, password, reading.version)
    except Exception as err:
        raise _probe_error(err, address) from err
    return FoundMeter.from_reading(address, reading)


async def login(bus: EkmBus, meter: Mapping[str, Any], password: str) -> None:
    """Check a new password for a configured meter."""
    address = meter[CONF_ADDRESS]
    try:
        await bus.check_password(address, password, MeterVersion(meter[CONF_VERSION]))
    except Exception as err:
        raise _probe_error(err, address) from err


async def check_new_password(
    entry: ConfigEntry,
    subentry: ConfigSubentry,
    user_input: Mapping[str, Any],
    errors: dict[str, str],
    placeholders: dict[str, str],
) -> str | None:
    """The password the user typed for one meter once a login proves it, else None.

    Reauth (a meter refused its password) and a meter's reconfigure ask the same question;
    failures are written into the form's `errors` and `placeholders`.
    """
    try:
        password = require_password(user_input[CONF_PASSWORD])
        async with open_bus(entry.data[CONF_PORT], entry) as bus:
            await login(bus, subentry.data, password)
    except FormError as err:
        err.apply(errors, placeholders, _SINGLE_METER_FIELDS)
        return None
    return password


def configured_meter_entry(hass: HomeAssistant, address: str) -> ConfigEntry | None:
    """The entry (bus) that already has this meter, if any: a meter is polled by one bus only."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        for subentry in entry.get_subentries_of_type(SUBENTRY_METER):
            if subentry.unique_id == address:
                return entry
    return None


def configured_meters(
    hass: HomeAssistant, addresses: Iterable[str]
) -> tuple[str, ConfigEntry] | None:
    """The first of `addresses` some bus already has, with that bus; None when all are new."""
    for address in addresses:
        if (entry := configured_meter_entry(hass, address)) is not None:
            return address, entry
    return None


def bus_label(entry: ConfigEntry) -> str:
    """Which bus a form is about (issue 13 #11): its title, and its port if the title hides it."""
    port = entry.data[CONF_PORT]
    return entry.title if entry.title == bus_title(port) else f"{entry.title} ({port})"


def _retitle(entry: ConfigEntry, port: str) -> str | UndefinedType:
    """A new default title for a new port, unless the user renamed the entry."""
    return bus_title(port) if entry.title == bus_title(entry.data[CONF_PORT]) else UNDEFINED


# Config flow steps ------------------------------------------------------------------------------


class EkmRs485ConfigFlowMixin(ConfigFlow):
    """Steps of an RS-485 bus: port and meters, USB discovery, reauth of a meter, a new port."""

    _port: str | None = None  # the port the flow proposes (USB discovery)
    _usb_id: str | None = None  # "VID:PID:serial" of that discovered adapter
    _entry_data: dict[str, Any]
    _password: str | None = None
    _found: list[FoundMeter]
    _reauth_subentry_id: str | None = None

    # --- EKM Omnimeters on an RS-485 bus ---------------------------------------------------------

    async def async_step_ekm_rs485(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Port, meter addresses and an optional password; every meter must answer."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        fields = _EKM_RS485_FIELDS
        if user_input is not None:
            bridge = str(user_input.get(CONF_BRIDGE_URL) or "").strip()
            port = bridge or str(user_input.get(CONF_PORT) or "").strip()
            if bridge:  # port errors belong to the field the port was typed into
                fields = {**_EKM_RS485_FIELDS, Target.PORT: CONF_BRIDGE_URL}
            try:
                if not port:
                    raise FormError(Target.PORT, "no_port")
                addresses = parse_addresses(user_input[CONF_METERS])
                password = parse_password(user_input.get(CONF_PASSWORD))
                # Cheap checks first: never open a port another entry is using. A duplicate is
                # a field error, so the form stays to correct it.
                port_id = await stable_port_id(self.hass, port)
                await self.async_set_unique_id(port_id, raise_on_progress=False)
                # The same bridge by another URL is the same wire (issue 11).
                if (
                    port_id in self._async_current_ids(include_ignore=False)
                    or await self._bridge_entry(port) is not None
                ):
                    raise FormError(Target.PORT, "bus_already_configured", {BUS_PORT: port})
                if configured := configured_meters(self.hass, addresses):
                    address, entry = configured
                    raise FormError(
                        Target.METER,
                        "meter_already_configured",
                        {CONF_ADDRESS: address, "entry": entry.title},
                    )
                async with open_bus(port) as bus:
                    found = [await identify(bus, address, password) for address in addresses]
            except FormError as err:
                err.apply(errors, placeholders, fields)
            else:
                self._entry_data = {CONF_CONNECTION: CONNECTION_EKM_RS485, CONF_PORT: port}
                if self._usb_id is not None and port == self._port:
                    self._entry_data[CONF_USB_ID] = self._usb_id
                self._password = password
                self._found = found
                return await self.async_step_ekm_rs485_confirm()
            # Keep what was typed, the password too (the browser shows it masked); a URL goes
            # back into the bridge field, where it is no unknown adapter.
            suggested = dict(user_input)
            if "://" in port:
                suggested.pop(CONF_PORT, None)
                suggested[CONF_BRIDGE_URL] = port
        else:
            suggested = {CONF_PORT: self._port} if self._port else {}
        return self.async_show_form(
            step_id=CONNECTION_EKM_RS485,
            data_schema=self.add_suggested_values_to_schema(_EKM_RS485_SCHEMA, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_ekm_rs485_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what answered on the bus; confirming creates the bus with one subentry per meter."""
        if user_input is not None:
            # Another flow may have finished while this one waited for the confirmation.
            self._abort_if_unique_id_configured()
            self._abort_if_meters_configured(meter.address for meter in self._found)
            return self.async_create_entry(
                title=bus_title(self._entry_data[CONF_PORT]),
                data=self._entry_data,
                options=DEFAULT_OPTIONS,
                subentries=[meter.subentry(self._password) for meter in self._found],
            )
        meters = "\n".join(
            f"- {meter.title} ({meter.version}, address {meter.address})" for meter in self._found
        )
        return self.async_show_form(
            step_id="ekm_rs485_confirm",
            description_placeholders={CONF_PORT: self._entry_data[CONF_PORT], CONF_METERS: meters},
        )

    async def _bridge_entry(
        self, port: str, *, besides: ConfigEntry | None = None
    ) -> ConfigEntry | None:
        """The bus entry that reaches the same bridge or adapter as `port`, by whatever URL.

        `socket://bridge.lan:4001` and `socket://192.168.1.20:4001` are one wire: two bus
        entries there would interleave their frames (issue 11), so the second is refused.
        The library refuses a second open bus too (MeterBusInUseError); this says it first.
        """
        wanted = await endpoint_ids(port)
        for other in self._async_current_entries(include_ignore=False):
            if other.data.get(CONF_CONNECTION) != CONNECTION_EKM_RS485:
                continue
            if besides is not None and other.entry_id == besides.entry_id:
                continue
            other_port = other.data.get(CONF_PORT)
            if isinstance(other_port, str) and wanted & await endpoint_ids(other_port):
                return other
        return None

    def _abort_if_meters_configured(self, addresses: Iterable[str]) -> None:
        """A meter answers on one bus only; a second entry polling it would be a duplicate."""
        if configured := configured_meters(self.hass, addresses):
            address, entry = configured
            raise AbortFlow(
                "meter_already_configured",
                description_placeholders={CONF_ADDRESS: address, "entry": entry.title},
            )

    # --- USB discovery of an RS-485 adapter --------------------------------------------------

    @override
    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """An RS-485 adapter was plugged in: follow a known bus to it, or offer a new one."""
        port = await stable_port_id(self.hass, discovery_info.device)
        usb_id = (
            f"{discovery_info.vid}:{discovery_info.pid}:{discovery_info.serial_number}"
            if discovery_info.serial_number
            else None  # without a serial number VID:PID names a chip model, not this adapter
        )
        updates = {CONF_PORT: port} | ({CONF_USB_ID: usb_id} if usb_id else {})
        await self.async_set_unique_id(port)
        self._abort_if_unique_id_configured(updates=updates)
        # A bus set up on /dev/ttyUSBn (no by-id link then) or known by its adapter's serial
        # number: move it to the stable path so it survives renumbering.
        known_ports = {discovery_info.device, port}
        for entry in self._async_current_entries(include_ignore=False):
            same_adapter = usb_id is not None and entry.data.get(CONF_USB_ID) == usb_id
            if same_adapter or entry.data.get(CONF_PORT) in known_ports:
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=port,
                    title=_retitle(entry, port),
                    data_updates=updates,
                    reason="already_configured",
                    reload_even_if_entry_is_unchanged=False,
                )
        self._port = port
        self._usb_id = usb_id
        self.context["title_placeholders"] = {
            "name": discovery_info.description or discovery_info.manufacturer or port
        }
        return await self.async_step_usb_confirm()

    async def async_step_usb_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm the discovered adapter, then ask for the meters on it."""
        if user_input is not None:
            return await self.async_step_ekm_rs485()
        return self.async_show_form(
            step_id="usb_confirm", description_placeholders={CONF_PORT: str(self._port)}
        )

    # --- Reconfigure: move a bus to another port ---------------------------------------------

    async def async_step_ekm_rs485_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the port of a bus; the meters configured on it must answer there.

        The unique id is the port's identity, so it changes with the port on purpose: there is
        no hardware id that `_abort_if_unique_id_mismatch` could compare. Instead the meters
        prove it is the same bus (at least one must answer; the others may be switched off).
        """
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {CONF_PORT: entry.data[CONF_PORT]}
        if user_input is not None:
            port = user_input[CONF_PORT].strip()
            unique_id = await stable_port_id(self.hass, port)
            for other in self._async_current_entries(include_ignore=False):
                if other.entry_id != entry.entry_id and other.unique_id == unique_id:
                    return self.async_abort(reason="already_configured")
            if await self._bridge_entry(port, besides=entry) is not None:
                return self.async_abort(reason="already_configured")
            try:
                # The same bus by another name (tty or by-id) is the running one.
                same_bus = unique_id == entry.unique_id
                await self._async_check_meters_answer(entry, port, same_bus=same_bus)
            except FormError as err:
                err.apply(errors, placeholders, _RECONFIGURE_FIELDS)
            else:
                data = {**entry.data, CONF_PORT: port}
                if not same_bus:
                    data.pop(CONF_USB_ID, None)  # the adapter's id belonged to the old port
                return self.async_update_reload_and_abort(
                    entry, unique_id=unique_id, title=_retitle(entry, port), data=data
                )
        return self.async_show_form(
            step_id="reconfigure",  # the form is the reconfigure step's (its translations)
            data_schema=self.add_suggested_values_to_schema(
                _RECONFIGURE_SCHEMA, user_input or {CONF_PORT: entry.data[CONF_PORT]}
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    @staticmethod
    async def _async_check_meters_answer(entry: ConfigEntry, port: str, *, same_bus: bool) -> None:
        """At least one configured meter answers on `port` (or the port opens, with no meters)."""
        addresses = [
            subentry.data[CONF_ADDRESS] for subentry in entry.get_subentries_of_type(SUBENTRY_METER)
        ]
        async with open_bus(port, entry if same_bus else None) as bus:
            for address in addresses:
                try:
                    await identify(bus, address, None)
                except FormError as err:
                    if err.reason not in ("meter_not_found", "invalid_response"):
                        raise
                else:
                    return
        if addresses:
            raise probe_error(Target.PORT, "no_meter_answered")

    # --- Reauth: a meter refused its password ------------------------------------------------

    async def async_step_ekm_rs485_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """A meter refused its password: the data names the meter (subentry) whose login failed."""
        self._reauth_subentry_id = entry_data.get(CONF_SUBENTRY_ID)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for that meter's password and prove it with a login."""
        entry = self._get_reauth_entry()
        subentry = entry.subentries.get(self._reauth_subentry_id or "")
        if subentry is None:  # the meter was deleted meanwhile, or an unknown trigger
            return self.async_abort(reason="meter_not_configured")
        errors: dict[str, str] = {}
        placeholders = {"meter": subentry.title, CONF_ADDRESS: subentry.data[CONF_ADDRESS]}
        if user_input is not None:
            password = await check_new_password(entry, subentry, user_input, errors, placeholders)
            if password is not None:
                self.hass.config_entries.async_update_subentry(
                    entry, subentry, data={**subentry.data, CONF_PASSWORD: password}
                )
                return self.async_update_reload_and_abort(entry)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=_PASSWORD_SCHEMA,
            errors=errors,
            description_placeholders=placeholders,
        )


# Subentry flow: add a meter to a bus, change a meter's password --------------------------------


class MeterSubentryFlow(ConfigSubentryFlow):
    """Add a meter to an existing bus, or change its password."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Address and optional password; the meter must answer on the bus."""
        entry = self._get_entry()
        errors: dict[str, str] = {}
        placeholders = {"bus": bus_label(entry)}
        if user_input is not None:
            try:
                address = parse_address(user_input[CONF_ADDRESS])
                password = parse_password(user_input.get(CONF_PASSWORD))
                if (owner := configured_meter_entry(self.hass, address)) is not None:
                    return self.async_abort(
                        reason="already_configured"
                        if owner.entry_id == entry.entry_id
                        else "meter_already_configured",
                        description_placeholders={CONF_ADDRESS: address, "entry": owner.title},
                    )
                async with open_bus(entry.data[CONF_PORT], entry) as bus:
                    found = await identify(bus, address, password)
            except FormError as err:
                err.apply(errors, placeholders, _SINGLE_METER_FIELDS)
            else:
                return self.async_create_entry(
                    title=meter_subentry_title(address),
                    data=found.data(password),
                    unique_id=address,
                )
        suggested = {k: v for k, v in (user_input or {}).items() if k != CONF_PASSWORD}
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_METER_SCHEMA, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change the meter's password (after it was changed on the meter); checked by a login."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        placeholders = {"meter": subentry.title, CONF_ADDRESS: subentry.data[CONF_ADDRESS]}
        if user_input is not None:
            password = await check_new_password(entry, subentry, user_input, errors, placeholders)
            if password is not None:
                return self.async_update_reload_and_abort(
                    entry, subentry, data={**subentry.data, CONF_PASSWORD: password}
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_PASSWORD_SCHEMA,
            errors=errors,
            description_placeholders=placeholders,
        )


# Options flow ----------------------------------------------------------------------------------


class EkmBusOptionsFlow(OptionsFlowWithReload):
    """Poll intervals of a bus; the entry reloads with them when they change."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """How often to read the meters' values and their settings."""
        if user_input is not None:
            return self.async_create_entry(
                data={key: int(value) for key, value in user_input.items()}
            )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                _OPTIONS_SCHEMA, {**DEFAULT_OPTIONS, **self.config_entry.options}
            ),
        )


# Schemas and field maps ------------------------------------------------------------------------

_EKM_RS485_SCHEMA: Final = probatio.Schema(
    {
        # One of the two: an adapter from the picker, or a typed network bridge URL.
        probatio.Optional(CONF_PORT): SerialPortSelector(),
        probatio.Optional(CONF_BRIDGE_URL): TextSelector(),
        probatio.Required(CONF_METERS): TextSelector(TextSelectorConfig(multiline=True)),
        probatio.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
    }
)
_EKM_RS485_FIELDS: Final[dict[str, str]] = {
    Target.PORT: CONF_PORT,
    Target.METER: CONF_METERS,
    Target.PASSWORD: CONF_PASSWORD,
}

_RECONFIGURE_SCHEMA: Final = probatio.Schema({probatio.Required(CONF_PORT): SerialPortSelector()})
_RECONFIGURE_FIELDS: Final[dict[str, str]] = {Target.PORT: CONF_PORT}

_METER_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_ADDRESS): TextSelector(),
        probatio.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
    }
)
_PASSWORD_SCHEMA: Final = probatio.Schema({probatio.Required(CONF_PASSWORD): _PASSWORD_SELECTOR})
_SINGLE_METER_FIELDS: Final[dict[str, str]] = {
    Target.METER: CONF_ADDRESS,
    Target.PASSWORD: CONF_PASSWORD,
}

_OPTIONS_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_SCAN_INTERVAL): interval_selector(MIN_SCAN_INTERVAL),
        probatio.Required(CONF_SETTINGS_INTERVAL): interval_selector(
            MIN_SETTINGS_INTERVAL, MAX_SETTINGS_INTERVAL
        ),
    }
)
