"""Config, reauth, reconfigure and options steps of a smart-MAC Wi-Fi meter.

Every form proves what was typed with a real getdata read before anything is stored; the entry's
unique id is the device ID the device itself reports. The device's request budget applies to the
flow too: the read goes through the device's shared link (`smartmac.link`), so the entry's first
refresh reuses it instead of earning a 429, and a form submitted while the budget is used up says
how long to wait rather than hammering the device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import probatio
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlowWithReload
from homeassistant.const import CONF_DEVICE_ID, CONF_HOST, CONF_PIN
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from ..const import CONF_CONNECTION, CONF_MODEL, CONF_SCAN_INTERVAL, CONNECTION_SMARTMAC
from ..errors import FormRule, form_error
from ..flow_helpers import SECRET_SELECTOR, FormError, interval_selector
from ..meters.errors import (
    InvalidParameterError,
    MeterAddressError,
    MeterAuthError,
    MeterConnectionError,
    MeterFrameError,
    MeterRateLimitError,
    MeterTimeoutError,
)
from ..meters.http import normalize_host
from ..meters.smartmac import (
    RelayPolarity,
    SmartMacModel,
    SmartMacReading,
    check_device_id,
    check_pin,
)
from .descriptions import PULSE_CHANNELS
from .link import async_get_link
from .options import (
    CONF_EXTENDED,
    CONF_RELAY_POLARITY,
    PulseKind,
    SmartMacOptions,
    clamp_scan_interval,
    conf_pulse_kind,
    conf_pulse_weight,
    default_options,
    min_scan_interval,
    model_of,
)

# Selector option labels live in translations under selector.<key>.
POLARITY_SELECTOR: Final = "smartmac_relay_polarity"
PULSE_KIND_SELECTOR: Final = "smartmac_pulse_kind"
FLOW_MAX_WAIT: Final = 10.0  # a form waits this long for the device's budget, then says so
BASE: Final = "base"


# What a failed read means on the form (the device ID mismatch is a frame error: first).
FORM_ERRORS: Final = (
    FormRule(error=MeterAuthError, field=CONF_PIN, reason="smartmac_invalid_auth"),
    FormRule(error=MeterAddressError, field=CONF_DEVICE_ID, reason="smartmac_wrong_device"),
    FormRule(error=MeterConnectionError, field=CONF_HOST, reason="smartmac_cannot_connect"),
    FormRule(error=MeterTimeoutError, field=CONF_HOST, reason="smartmac_cannot_connect"),
    FormRule(error=MeterFrameError, field=BASE, reason="smartmac_invalid_response"),
)


def smartmac_title(reading: SmartMacReading) -> str:
    """The default title: vendor, model as detected, device ID."""
    model = "" if reading.model is SmartMacModel.UNKNOWN else f" {reading.model.value}"
    return f"smart-MAC{model} {reading.devid}"


def _check_input(host: str, device_id: str, pin: str) -> tuple[str, str, str]:
    """The input as it will be sent, or the field that cannot be sent as typed."""
    checks = ((CONF_HOST, normalize_host, host), (CONF_DEVICE_ID, check_device_id, device_id))
    checked: list[str] = []
    for field, check, value in (*checks, (CONF_PIN, check_pin, pin)):
        try:
            checked.append(check(value))
        except InvalidParameterError as err:
            raise FormError(field, f"smartmac_invalid_{field}") from err
    return checked[0], checked[1], checked[2]


async def async_probe(hass: HomeAssistant, host: str, device_id: str, pin: str) -> SmartMacReading:
    """A reading proving host, device ID and PIN (a recent one of the same link will do)."""
    host, device_id, pin = _check_input(host, device_id, pin)
    link = async_get_link(hass, host, device_id, pin)
    if (recent := link.recent_reading()) is not None:
        return recent
    try:
        reading = await link.read(max_wait=FLOW_MAX_WAIT)
    except MeterRateLimitError as err:
        seconds = str(math.ceil(err.retry_after or link.client.interval))
        raise FormError(BASE, "smartmac_rate_limited", {"seconds": seconds}) from err
    except Exception as err:
        raise form_error(err, FORM_ERRORS, "reading the smart-MAC device") from err
    return reading


def _entry_data(host: str, device_id: str, pin: str, reading: SmartMacReading) -> dict[str, Any]:
    return {
        CONF_CONNECTION: CONNECTION_SMARTMAC,
        CONF_HOST: normalize_host(host),
        CONF_DEVICE_ID: reading.devid,
        CONF_PIN: pin,
        CONF_MODEL: reading.model.value,
        CONF_EXTENDED: reading.extended,
    }


class SmartMacConfigFlowMixin(ConfigFlow):
    """The smart-MAC steps of MeterLink's config flow (menu option `smartmac`)."""

    async def async_step_smartmac(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Host, device ID and PIN, proven by a read; the device ID is the unique id."""
        errors: dict[str, str] = {}
        # The error texts name what was typed (host, Device ID), never the PIN.
        placeholders: dict[str, str] = {CONF_HOST: "-", CONF_DEVICE_ID: "-"}
        if user_input is not None:
            host, pin = user_input[CONF_HOST], user_input[CONF_PIN]
            placeholders[CONF_HOST] = str(host).strip()
            placeholders[CONF_DEVICE_ID] = str(user_input[CONF_DEVICE_ID]).strip()
            try:
                typed_id = _check_input(host, user_input[CONF_DEVICE_ID], pin)[1]
                # A device already configured is not read again (its budget is the entry's);
                # the form stays, so a mistyped Device ID is corrected there.
                self._raise_if_configured(typed_id)
                reading = await async_probe(self.hass, host, typed_id, pin)
                self._raise_if_configured(reading.devid)
            except FormError as err:
                err.apply(errors, placeholders)
            else:
                await self.async_set_unique_id(reading.devid, raise_on_progress=False)
                self._abort_if_unique_id_configured(error="smartmac_already_configured")
                return self.async_create_entry(
                    title=smartmac_title(reading),
                    data=_entry_data(host, typed_id, pin, reading),
                    options=default_options(reading.model, reading.extended),
                )
        # Keep what was typed after an error (the PIN stays masked in the browser).
        return self.async_show_form(
            step_id="smartmac",
            data_schema=self.add_suggested_values_to_schema(_USER_SCHEMA, user_input or {}),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _raise_if_configured(self, device_id: str) -> None:
        """A field error (not an abort) when an entry already has this device."""
        if device_id in self._async_current_ids(include_ignore=False):
            raise FormError(
                CONF_DEVICE_ID, "smartmac_already_configured", {CONF_DEVICE_ID: device_id}
            )

    async def async_step_smartmac_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The device refused the PIN (it was changed on the device)."""
        return await self.async_step_smartmac_reauth_confirm()

    async def async_step_smartmac_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the new PIN and prove it with a read."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {
            CONF_DEVICE_ID: entry.data[CONF_DEVICE_ID],
            CONF_HOST: entry.data[CONF_HOST],
        }
        if user_input is not None:
            pin = user_input[CONF_PIN]
            try:
                await async_probe(self.hass, entry.data[CONF_HOST], entry.data[CONF_DEVICE_ID], pin)
            except FormError as err:
                err.apply(errors, placeholders, {CONF_PIN: CONF_PIN})
            else:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_PIN: pin}, reason="smartmac_reauth_successful"
                )
        return self.async_show_form(
            step_id="smartmac_reauth_confirm",
            data_schema=_PIN_SCHEMA,
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_smartmac_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A new IP address (or PIN); the device found there must be the same device."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {
            CONF_DEVICE_ID: entry.data[CONF_DEVICE_ID],
            CONF_HOST: entry.data[CONF_HOST],
        }
        if user_input is not None:
            host = user_input[CONF_HOST]
            pin = user_input.get(CONF_PIN) or entry.data[CONF_PIN]
            try:
                reading = await async_probe(self.hass, host, user_input[CONF_DEVICE_ID], pin)
            except FormError as err:
                err.apply(errors, placeholders)
            else:
                await self.async_set_unique_id(reading.devid, raise_on_progress=False)
                self._abort_if_unique_id_mismatch(
                    reason="smartmac_another_device", description_placeholders=placeholders
                )
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates=_entry_data(host, reading.devid, pin, reading),
                    reason="smartmac_reconfigure_successful",
                )
        suggested = user_input or {
            CONF_HOST: entry.data[CONF_HOST],
            CONF_DEVICE_ID: entry.data[CONF_DEVICE_ID],
        }
        return self.async_show_form(
            step_id="smartmac_reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _RECONFIGURE_SCHEMA,
                suggested,  # what was typed, a PIN too (shown masked)
            ),
            errors=errors,
            description_placeholders=placeholders,
        )


class SmartMacOptionsFlow(OptionsFlowWithReload):
    """Poll interval (never below what the model allows), relay polarity, pulse channels."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The options of a smart-MAC entry have a step of their own (`init` is the bus's)."""
        return await self.async_step_smartmac()

    async def async_step_smartmac(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and store the options; the interval is clamped to the model's budget."""
        data = self.config_entry.data
        extended = bool(data.get(CONF_EXTENDED, False))
        if user_input is not None:
            options = dict(user_input)
            options[CONF_SCAN_INTERVAL] = clamp_scan_interval(
                float(user_input[CONF_SCAN_INTERVAL]), extended
            )
            for channel in PULSE_CHANNELS:
                if (key := conf_pulse_weight(channel)) in options:
                    options[key] = float(options[key])
            return self.async_create_entry(data=options)
        current = SmartMacOptions.from_entry(data, self.config_entry.options)
        values: dict[str, Any] = {
            CONF_SCAN_INTERVAL: current.scan_interval,
            CONF_RELAY_POLARITY: current.relay_polarity.value,
        }
        pulses = model_of(data) is SmartMacModel.D105
        if pulses:
            for channel, setting in current.pulse.items():
                values[conf_pulse_kind(channel)] = setting.kind.value
                values[conf_pulse_weight(channel)] = setting.weight
        return self.async_show_form(
            step_id="smartmac",
            data_schema=self.add_suggested_values_to_schema(
                _options_schema(extended, pulses=pulses), values
            ),
            description_placeholders={"minimum": str(min_scan_interval(extended))},
        )


# Schemas -------------------------------------------------------------------------------------

_PIN_SELECTOR: Final = SECRET_SELECTOR
_USER_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_HOST): TextSelector(),
        probatio.Required(CONF_DEVICE_ID): TextSelector(),
        probatio.Required(CONF_PIN): _PIN_SELECTOR,
    }
)
_PIN_SCHEMA: Final = probatio.Schema({probatio.Required(CONF_PIN): _PIN_SELECTOR})
_RECONFIGURE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_HOST): TextSelector(),
        probatio.Required(CONF_DEVICE_ID): TextSelector(),
        probatio.Optional(CONF_PIN): _PIN_SELECTOR,
    }
)


def _options_schema(extended: bool, *, pulses: bool) -> probatio.Schema:
    fields: dict[Any, Any] = {
        probatio.Required(CONF_SCAN_INTERVAL): interval_selector(min_scan_interval(extended)),
        probatio.Required(CONF_RELAY_POLARITY): SelectSelector(
            SelectSelectorConfig(
                options=[polarity.value for polarity in RelayPolarity],
                translation_key=POLARITY_SELECTOR,
                mode=SelectSelectorMode.LIST,
            )
        ),
    }
    if pulses:
        for channel in PULSE_CHANNELS:
            fields[probatio.Required(conf_pulse_kind(channel))] = SelectSelector(
                SelectSelectorConfig(
                    options=[kind.value for kind in PulseKind],
                    translation_key=PULSE_KIND_SELECTOR,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            )
            fields[probatio.Required(conf_pulse_weight(channel))] = NumberSelector(
                NumberSelectorConfig(min=0.000001, step="any", mode=NumberSelectorMode.BOX)
            )
    return probatio.Schema(fields)
