"""The `egauge_command` action: every /cmd operation of an eGauge meter, answer returned.

The operation and its parameters (the vendor's names) are checked by the library before
anything is sent. Operations that change or destroy data (`db-zero`, `db-restore`, `db-split`,
`factory-restore`, `wlan`, `homeplug`) need `confirm: true`. A user without the `save` right
gets an explanation instead of a request the meter would refuse.
"""

from __future__ import annotations

from typing import Any, Final

import probatio
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID
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

from ..const import CONF_CONNECTION, CONNECTION_EGAUGE, DOMAIN
from ..errors import ErrorTable, Reauth, Rule, translate_errors
from ..meters.egauge import commands
from ..meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterCommandError,
    MeterError,
    MissingSaveRightError,
)
from ..runtime import MeterLinkConfigEntry
from .coordinator import egauge_runtime

SERVICE_COMMAND: Final = "egauge_command"
ATTR_OPERATION: Final = "operation"
ATTR_PARAMS: Final = "params"
ATTR_CONFIRM: Final = "confirm"
ATTR_WAIT: Final = "wait"

COMMAND_ERRORS: Final[ErrorTable] = (
    Rule(
        error=InvalidParameterError, key="egauge_invalid_parameter", raises=ServiceValidationError
    ),
    Rule(error=MissingSaveRightError, key="egauge_no_save_right", raises=ServiceValidationError),
    Rule(error=MeterAuthError, key="egauge_invalid_auth", with_error=False, reauth=True),
    Rule(error=MeterCommandError, key="egauge_command_failed"),
    Rule(error=MeterError, key="egauge_unavailable"),
)

COMMAND_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(ATTR_DEVICE_ID): cv.string,
        probatio.Required(ATTR_OPERATION): probatio.In(commands.OPERATIONS),
        probatio.Optional(ATTR_PARAMS): probatio.Any(dict, None),
        probatio.Optional(ATTR_CONFIRM, default=False): cv.boolean,
        probatio.Optional(ATTR_WAIT, default=True): cv.boolean,
    }
)


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def egauge_entry(hass: HomeAssistant, device_id: str) -> MeterLinkConfigEntry:
    """The loaded eGauge entry of a device."""
    device = dr.async_get(hass).async_get(device_id)
    for entry_id in () if device is None else device.config_entries:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is not None and entry.data.get(CONF_CONNECTION) == CONNECTION_EGAUGE:
            if entry.state is not ConfigEntryState.LOADED:
                raise _invalid("egauge_not_loaded", meter=entry.title)
            return entry
    raise _invalid("egauge_device_not_found", device=device_id)


@callback
def async_setup_egauge_services(hass: HomeAssistant) -> None:
    """Register the eGauge command action."""

    async def _command(call: ServiceCall) -> ServiceResponse:
        entry = egauge_entry(hass, call.data[ATTR_DEVICE_ID])
        coordinator = egauge_runtime(entry).coordinator
        operation: str = call.data[ATTR_OPERATION]
        placeholders = coordinator.error_placeholders() | {"operation": operation}
        with translate_errors(COMMAND_ERRORS, placeholders):
            request = commands.build(operation, call.data.get(ATTR_PARAMS) or {})
            if not coordinator.rights.save:
                raise MissingSaveRightError(operation)
        if request.destructive and not call.data[ATTR_CONFIRM]:
            raise _invalid("egauge_confirm_required", operation=operation)
        reauth = Reauth(lambda data: entry.async_start_reauth(hass, data=data))
        with translate_errors(COMMAND_ERRORS, placeholders, reauth=reauth):
            result = await commands.run(
                coordinator.client, request, wait=call.data[ATTR_WAIT], give_up_after=1800
            )
        if operation in ("reboot", "factory-restore"):
            coordinator.expect_outage()
        answer: dict[str, Any] = result.as_json()
        return answer if call.return_response else None

    hass.services.async_register(
        DOMAIN,
        SERVICE_COMMAND,
        _command,
        schema=COMMAND_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
