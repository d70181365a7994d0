"""Actions on EKM Push3 gateways through the cloud: device commands and gateway triggers.

`send_command` queues a Device Settings command and returns the device's answer; the trigger
actions list, look up, create, change and delete a gateway's triggers. Each resolves its target
from a device (a cloud meter, an ioStack or a gateway) or from a config entry plus an explicit
target. Parameters are checked with the library's schemas before anything is sent, so invalid
input never reaches the API and the error names the parameter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import probatio
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID, ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from ..const import DOMAIN
from ..meters.errors import InvalidParameterError
from ..meters.json import plain_object
from ..meters.push import PushInventory, Trigger, check_trigger_uuid, validate_trigger
from ..meters.push.settings import Target, check_target_id, normalize_gateway, validate_command
from ..runtime import MeterLinkConfigEntry
from .coordinator import cloud_gateway_id
from .settings import (
    DeviceSettings,
    device_settings,
    invalid,
    is_cloud_entry,
)

SERVICE_SEND_COMMAND: Final = "send_command"
SERVICE_LIST_TRIGGERS: Final = "list_triggers"
SERVICE_GET_TRIGGER: Final = "get_trigger"
SERVICE_CREATE_TRIGGER: Final = "create_trigger"
SERVICE_UPDATE_TRIGGER: Final = "update_trigger"
SERVICE_DELETE_TRIGGER: Final = "delete_trigger"

ATTR_TARGET: Final = "target"
ATTR_TARGET_ID: Final = "target_id"
ATTR_GATEWAY: Final = "gateway"
ATTR_COMMAND: Final = "command"
ATTR_PARAMS: Final = "params"
ATTR_TIMEOUT: Final = "timeout"
ATTR_TRIGGER_UUID: Final = "trigger_uuid"
TRIGGER_FIELDS: Final = ("trigger_name", "conditions", "actions", "enabled", "extras")
MAX_TIMEOUT: Final = 300

_TARGETING: Final = {
    probatio.Optional(ATTR_DEVICE_ID): cv.string,
    probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
}
_TRIGGER_BODY: Final = {
    probatio.Optional("trigger_name"): cv.string,
    probatio.Optional("conditions"): [dict],
    probatio.Optional("actions"): [dict],
    probatio.Optional("enabled"): cv.boolean,
    probatio.Optional("extras"): dict,
}

SEND_COMMAND_SCHEMA: Final = probatio.Schema(
    {
        **_TARGETING,
        probatio.Optional(ATTR_TARGET): probatio.In([target.value for target in Target]),
        probatio.Optional(ATTR_TARGET_ID): cv.string,
        probatio.Required(ATTR_COMMAND): cv.string,
        probatio.Optional(ATTR_PARAMS): probatio.Any(dict, None),
        probatio.Optional(ATTR_TIMEOUT): probatio.All(
            probatio.Coerce(float), probatio.Range(min=0.1, max=MAX_TIMEOUT)
        ),
    }
)
LIST_TRIGGERS_SCHEMA: Final = probatio.Schema(
    {**_TARGETING, probatio.Optional(ATTR_GATEWAY): cv.string}
)
GET_TRIGGER_SCHEMA: Final = probatio.Schema(
    {**_TARGETING, probatio.Required(ATTR_TRIGGER_UUID): cv.string}
)
CREATE_TRIGGER_SCHEMA: Final = probatio.Schema(
    {**_TARGETING, probatio.Optional(ATTR_GATEWAY): cv.string, **_TRIGGER_BODY}
)
UPDATE_TRIGGER_SCHEMA: Final = GET_TRIGGER_SCHEMA.extend(_TRIGGER_BODY)
DELETE_TRIGGER_SCHEMA: Final = GET_TRIGGER_SCHEMA


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where an action goes: the cloud entry, and the device the call named (if any)."""

    entry: MeterLinkConfigEntry
    settings: DeviceSettings
    target: Target | None = None  # a meter or ioStack device
    target_id: str | None = None
    gateway: str | None = None  # a gateway device, or the gateway of the device


def _not_found(what: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="device_api_target_not_found",
        translation_placeholders={"target": what},
    )


def _device_role(
    identifiers: set[tuple[str, str]], inventory: PushInventory
) -> tuple[Target | None, str | None, str | None]:
    """(target, target_id, gateway) of a device by its identifiers and the entry's inventory."""
    for domain, ident in identifiers:
        if domain != DOMAIN:
            continue
        for target, addresses in (
            (Target.METER, inventory.meters),
            (Target.IOSTACK, inventory.iostacks),
        ):
            if ident in addresses:
                gateway = inventory.gateway_of(ident)
                return target, ident, gateway.mac if gateway else None
        for gateway in inventory.gateways:
            if ident == cloud_gateway_id(gateway.mac):
                return None, None, gateway.mac
    return None, None, None


def _loaded(entry: MeterLinkConfigEntry) -> MeterLinkConfigEntry:
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="device_api_entry_not_loaded",
            translation_placeholders={"entry": entry.title},
        )
    return entry


def resolve(hass: HomeAssistant, data: Mapping[str, Any]) -> Resolved:
    """The cloud entry and device an action addresses (device_id wins over config_entry_id)."""
    if (device_id := data.get(ATTR_DEVICE_ID)) is not None:
        device = dr.async_get(hass).async_get(device_id)
        if device is None:
            raise _not_found(device_id)
        entries = [
            entry
            for entry_id in device.config_entries
            if (entry := hass.config_entries.async_get_entry(entry_id)) is not None
            and is_cloud_entry(entry)
        ]
        if not entries:
            raise _not_found(device.name_by_user or device.name or device_id)
        entry = _loaded(entries[0])
        settings = device_settings(entry)
        target, target_id, gateway = _device_role(device.identifiers, settings.inventory)
        if target is None and gateway is None:
            raise _not_found(device.name_by_user or device.name or device_id)
        return Resolved(entry, settings, target, target_id, gateway)
    if (entry_id := data.get(ATTR_CONFIG_ENTRY_ID)) is not None:
        found = hass.config_entries.async_get_entry(entry_id)
        if found is None or not is_cloud_entry(found):
            raise _not_found(entry_id)
        entry = _loaded(found)
        return Resolved(entry, device_settings(entry))
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="device_api_no_target",
        translation_placeholders={"fields": f"{ATTR_DEVICE_ID}, {ATTR_CONFIG_ENTRY_ID}"},
    )


async def _writable(resolved: Resolved) -> DeviceSettings:
    await resolved.settings.require_write()
    return resolved.settings


def _readable(resolved: Resolved) -> DeviceSettings:
    resolved.settings.require_read()
    return resolved.settings


def _gateways(resolved: Resolved, data: Mapping[str, Any], *, one: bool) -> list[str]:
    """The gateway(s) a trigger action is about: named, the device's, or the entry's only one."""
    if (named := data.get(ATTR_GATEWAY)) is not None:
        try:
            return [normalize_gateway(named)]
        except InvalidParameterError as err:
            raise invalid(str(err)) from err
    if resolved.gateway is not None:
        return [resolved.gateway]
    gateways = [gateway.mac for gateway in resolved.settings.inventory.gateways]
    if not gateways or (one and len(gateways) > 1):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="device_api_gateway_required",
            translation_placeholders={
                "entry": resolved.entry.title,
                "gateways": ", ".join(gateways) or "-",
            },
        )
    return gateways[:1] if one else gateways


def _trigger_json(trigger: Trigger, gateway: str | None) -> dict[str, Any]:
    result: dict[str, Any] = plain_object(trigger.as_json())
    if gateway is not None:
        result[ATTR_GATEWAY] = gateway
    return result


def _command_target(resolved: Resolved, data: Mapping[str, Any]) -> tuple[Target, str]:
    """The device a command goes to: the call's device, or the explicit target and id."""
    try:
        target = Target(data[ATTR_TARGET]) if ATTR_TARGET in data else resolved.target
        target_id = data.get(ATTR_TARGET_ID)
        if target_id is None and target is resolved.target:
            target_id = resolved.target_id  # the device's own address
        if target is None or target_id is None:
            raise InvalidParameterError(
                "name a meter or ioStack device, or give target and target_id"
            )
        return target, check_target_id(target, target_id)
    except InvalidParameterError as err:
        raise invalid(str(err)) from err


async def _guarded[ResultT](
    resolved: Resolved, what: str, call: Callable[[], Awaitable[ResultT]]
) -> ResultT:
    """Run an API call; library errors become translated Home Assistant errors."""
    with resolved.settings.api_errors(what):
        return await call()


@callback
def async_setup_push_services(hass: HomeAssistant) -> None:
    """Register the Device Settings and Trigger actions."""

    async def _send_command(call: ServiceCall) -> ServiceResponse:
        resolved = resolve(hass, call.data)
        target, target_id = _command_target(resolved, call.data)
        try:
            spec, params = validate_command(
                target, call.data[ATTR_COMMAND], call.data.get(ATTR_PARAMS)
            )
        except InvalidParameterError as err:
            raise invalid(str(err)) from err
        settings = await _writable(resolved)
        what = f"{spec.name} on {target.value} {target_id}"
        answer = await _guarded(
            resolved,
            what,
            lambda: settings.async_send(
                target, target_id, spec.name, params, call.data.get(ATTR_TIMEOUT)
            ),
        )
        if not call.return_response:
            return None
        return {
            ATTR_TARGET: target.value,
            ATTR_TARGET_ID: target_id,
            ATTR_COMMAND: spec.name,
            **plain_object(answer.as_json()),
        }

    async def _list_triggers(call: ServiceCall) -> ServiceResponse:
        resolved = resolve(hass, call.data)
        settings = _readable(resolved)
        found: list[Any] = []
        for gateway in _gateways(resolved, call.data, one=False):
            triggers = await _guarded(
                resolved,
                f"list the triggers of {gateway}",
                partial(settings.list_triggers, gateway),
            )
            found.extend(_trigger_json(trigger, gateway) for trigger in triggers)
        return {"triggers": found}

    async def _get_trigger(call: ServiceCall) -> ServiceResponse:
        resolved = resolve(hass, call.data)
        settings = _readable(resolved)
        trigger_uuid = _uuid(call.data)
        trigger = await _guarded(
            resolved, f"look up trigger {trigger_uuid}", lambda: settings.get_trigger(trigger_uuid)
        )
        return _trigger_json(trigger, settings.gateway_of_trigger(trigger_uuid))

    async def _create_trigger(call: ServiceCall) -> ServiceResponse:
        resolved = resolve(hass, call.data)
        (gateway,) = _gateways(resolved, call.data, one=True)
        body = _trigger_body(call.data, partial=False)
        settings = await _writable(resolved)
        trigger = await _guarded(
            resolved,
            f"create a trigger on {gateway}",
            lambda: settings.create_trigger(gateway, body),
        )
        return _trigger_json(trigger, gateway) if call.return_response else None

    async def _update_trigger(call: ServiceCall) -> ServiceResponse:
        resolved = resolve(hass, call.data)
        trigger_uuid = _uuid(call.data)
        body = _trigger_body(call.data, partial=True)
        settings = await _writable(resolved)
        trigger = await _guarded(
            resolved,
            f"change trigger {trigger_uuid}",
            lambda: settings.update_trigger(trigger_uuid, body),
        )
        if not call.return_response:
            return None
        return _trigger_json(trigger, settings.gateway_of_trigger(trigger_uuid))

    async def _delete_trigger(call: ServiceCall) -> ServiceResponse:
        resolved = resolve(hass, call.data)
        trigger_uuid = _uuid(call.data)
        settings = await _writable(resolved)
        await _guarded(
            resolved,
            f"delete trigger {trigger_uuid}",
            lambda: settings.delete_trigger(trigger_uuid),
        )
        return {ATTR_TRIGGER_UUID: trigger_uuid, "deleted": True} if call.return_response else None

    for name, handler, schema, response in (
        (SERVICE_SEND_COMMAND, _send_command, SEND_COMMAND_SCHEMA, SupportsResponse.OPTIONAL),
        (SERVICE_LIST_TRIGGERS, _list_triggers, LIST_TRIGGERS_SCHEMA, SupportsResponse.ONLY),
        (SERVICE_GET_TRIGGER, _get_trigger, GET_TRIGGER_SCHEMA, SupportsResponse.ONLY),
        (SERVICE_CREATE_TRIGGER, _create_trigger, CREATE_TRIGGER_SCHEMA, SupportsResponse.OPTIONAL),
        (SERVICE_UPDATE_TRIGGER, _update_trigger, UPDATE_TRIGGER_SCHEMA, SupportsResponse.OPTIONAL),
        (SERVICE_DELETE_TRIGGER, _delete_trigger, DELETE_TRIGGER_SCHEMA, SupportsResponse.OPTIONAL),
    ):
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=response
        )


def _uuid(data: Mapping[str, Any]) -> str:
    try:
        return check_trigger_uuid(data[ATTR_TRIGGER_UUID])
    except InvalidParameterError as err:
        raise invalid(str(err)) from err


def _trigger_body(data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """The trigger attributes of the call, checked by the library's strict trigger schema."""
    body = {name: data[name] for name in TRIGGER_FIELDS if name in data}
    try:
        return validate_trigger(body, partial=partial)
    except InvalidParameterError as err:
        raise invalid(str(err)) from err
