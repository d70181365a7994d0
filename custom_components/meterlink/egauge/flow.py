"""Config, reauth, reconfigure and options steps of an eGauge meter.

Every form proves what was typed with a real digest login and reading before anything is
stored: the serial number the meter reports is the unique id, its hostname the title. The same
reading classifies the power registers from the last hour of the meter's own history: one that
counted both ways is a net register (signed energy plus import and export), one that only
counted down is a load wired negative, whose sign is flipped by default. Both are options the
user can change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import probatio
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlowWithReload
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from ..const import CONF_CONNECTION, CONF_SCAN_INTERVAL, CONNECTION_EGAUGE
from ..errors import FormRule, form_error
from ..flow_helpers import SECRET_SELECTOR, FormError, interval_selector
from ..history_statistics import CONF_HISTORY, HISTORY_CHOICES, HISTORY_YEAR
from ..meters.egauge import DeviceInfo, EgaugeClient, EpochMismatch, History, Reading, Rights
from ..meters.egauge.energy import Direction, direction
from ..meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterConnectionError,
    MeterFrameError,
    MeterPermissionError,
    MeterTimeoutError,
    MeterUnsupportedError,
)
from .const import (
    CONF_FLIPPED,
    CONF_NET,
    CONF_REGISTER_DEVICES,
    CONF_REGISTERS,
    CONF_SERIAL,
    CONF_SSL,
    CONF_VERIFY_SSL,
    DEFAULT_SCAN_INTERVAL,
    DIRECTION_HISTORY,
    MIN_SCAN_INTERVAL,
)
from .coordinator import egauge_runtime

PROBE_RULES: Final = (
    FormRule(error=InvalidParameterError, field=CONF_HOST, reason="egauge_invalid_host"),
    FormRule(error=MeterAuthError, field=CONF_PASSWORD, reason="egauge_invalid_auth"),
    FormRule(error=MeterPermissionError, field=CONF_USERNAME, reason="egauge_permission"),
    FormRule(error=MeterConnectionError, field=CONF_HOST, reason="egauge_cannot_connect"),
    FormRule(error=MeterTimeoutError, field=CONF_HOST, reason="egauge_cannot_connect"),
    FormRule(error=MeterUnsupportedError, field="base", reason="egauge_unsupported"),
    FormRule(error=MeterFrameError, field="base", reason="egauge_invalid_response"),
)


@dataclass(frozen=True, slots=True)
class Probe:
    """What a successful check learned: who the meter is, its registers, the user's rights."""

    info: DeviceInfo
    reading: Reading
    rights: Rights
    history: History | None

    def default_options(self) -> dict[str, Any]:
        """Options of a new entry: net and reversed registers as the last hour showed them."""
        net, flipped = [], []
        for name, value in self.reading.values.items():
            if value.register.type.code != "P" or self.history is None:
                continue
            match direction(self.history.rows, name):
                case Direction.BOTH:
                    net.append(name)
                case Direction.DOWN:
                    flipped.append(name)
                case _:
                    pass
        return {
            CONF_SCAN_INTERVAL: DEFAULT_SCAN_INTERVAL,
            CONF_REGISTERS: [],
            CONF_NET: net,
            CONF_FLIPPED: flipped,
        }


def make_client(hass: HomeAssistant, data: Mapping[str, Any]) -> EgaugeClient:
    """A client for the entry's (or the form's) connection settings on HA's shared session."""
    verify = bool(data.get(CONF_VERIFY_SSL, False))
    return EgaugeClient(
        async_get_clientsession(hass, verify_ssl=verify),
        data[CONF_HOST],
        data[CONF_USERNAME],
        data[CONF_PASSWORD],
        https=bool(data.get(CONF_SSL, True)),
        verify_tls=verify,
    )


async def async_probe(hass: HomeAssistant, data: Mapping[str, Any]) -> Probe:
    """Log in and read: who the meter is, every register, the rights and an hour of history."""
    try:
        client = make_client(hass, data)
        info = await client.device_info()
        reading = await client.read()
        rights = await client.rights()
        if isinstance(reading, EpochMismatch):  # pragma: no cover - no condition was sent
            raise MeterFrameError("unexpected condition")
        now = reading.ts
        history = await client.history([(now - DIRECTION_HISTORY, 60, now)])
    except Exception as err:
        raise form_error(err, PROBE_RULES, "checking the eGauge meter") from err
    return Probe(info, reading, rights, None if isinstance(history, EpochMismatch) else history)


def _entry_data(user_input: Mapping[str, Any], info: DeviceInfo) -> dict[str, Any]:
    return {
        CONF_CONNECTION: CONNECTION_EGAUGE,
        CONF_HOST: user_input[CONF_HOST].strip(),
        CONF_USERNAME: user_input[CONF_USERNAME],
        CONF_PASSWORD: user_input[CONF_PASSWORD],
        CONF_SSL: bool(user_input.get(CONF_SSL, True)),
        CONF_VERIFY_SSL: bool(user_input.get(CONF_VERIFY_SSL, False)),
        CONF_SERIAL: info.serial,
    }


class EgaugeConfigFlowMixin(ConfigFlow):
    """The eGauge steps of MeterLink's config flow (menu option `egauge`)."""

    async def async_step_egauge(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Host, user, password, HTTPS and certificate check, proven by a login and a read."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            try:
                probe = await async_probe(self.hass, user_input)
            except FormError as err:
                err.apply(errors, placeholders)
            else:
                await self.async_set_unique_id(probe.info.serial, raise_on_progress=False)
                self._abort_if_unique_id_configured(error="egauge_already_configured")
                return self.async_create_entry(
                    title=probe.info.hostname,
                    data=_entry_data(user_input, probe.info),
                    options=probe.default_options(),
                )
        suggested = {k: v for k, v in (user_input or {}).items() if k != CONF_PASSWORD}
        return self.async_show_form(
            step_id="egauge",
            data_schema=self.add_suggested_values_to_schema(_USER_SCHEMA, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_egauge_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The meter refused the stored user or password."""
        return await self.async_step_egauge_reauth_confirm()

    async def async_step_egauge_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the user and password again and prove them with a login."""
        entry = self._get_reauth_entry()
        suggested = {CONF_USERNAME: entry.data[CONF_USERNAME]}
        return await self._async_same_meter_step(
            "egauge_reauth_confirm", _REAUTH_SCHEMA, user_input, suggested, reauth=True
        )

    async def async_step_egauge_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A new address or TLS setting; the meter found there must be the same meter."""
        entry = self._get_reconfigure_entry()
        suggested = {key: entry.data[key] for key in (CONF_HOST, CONF_SSL, CONF_VERIFY_SSL)}
        return await self._async_same_meter_step(
            "egauge_reconfigure", _RECONFIGURE_SCHEMA, user_input, suggested, reauth=False
        )

    async def _async_same_meter_step(
        self,
        step_id: str,
        schema: probatio.Schema,
        user_input: dict[str, Any] | None,
        suggested: dict[str, Any],
        *,
        reauth: bool,
    ) -> ConfigFlowResult:
        """Change part of an entry's connection, proven by a reading of the same meter."""
        entry = self._get_reauth_entry() if reauth else self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders = {CONF_HOST: entry.data[CONF_HOST]}
        if user_input is not None:
            data = {**entry.data, **user_input}
            try:
                probe = await async_probe(self.hass, data)
            except FormError as err:
                err.apply(errors, placeholders)
            else:
                await self.async_set_unique_id(probe.info.serial, raise_on_progress=False)
                self._abort_if_unique_id_mismatch(reason="egauge_another_meter")
                if reauth:
                    return self.async_update_reload_and_abort(
                        entry, data_updates=user_input, reason="egauge_reauth_successful"
                    )
                return self.async_update_reload_and_abort(
                    entry,
                    title=probe.info.hostname,
                    data_updates=_entry_data(data, probe.info),
                    reason="egauge_reconfigure_successful",
                )
        values = suggested if user_input is None else user_input
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                schema, {k: v for k, v in values.items() if k != CONF_PASSWORD}
            ),
            errors=errors,
            description_placeholders=placeholders,
        )


class EgaugeOptionsFlow(OptionsFlowWithReload):
    """Reading interval, which registers get entities, net and sign-flipped registers."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The options of an eGauge entry have a step of their own (`init` is the bus's)."""
        return await self.async_step_egauge()

    async def async_step_egauge(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and store the options."""
        if user_input is not None:
            options = dict(user_input)
            options[CONF_SCAN_INTERVAL] = max(
                int(user_input[CONF_SCAN_INTERVAL]), MIN_SCAN_INTERVAL
            )
            return self.async_create_entry(data=options)
        names: list[str] = []
        power: list[str] = []
        runtime = getattr(self.config_entry, "runtime_data", None)
        if runtime is not None:
            data = egauge_runtime(self.config_entry).coordinator.data
            if data is not None:
                names = list(data.reading.values)
                power = [n for n, v in data.reading.values.items() if v.register.type.code == "P"]
        stored = self.config_entry.options
        values: dict[str, Any] = {
            CONF_SCAN_INTERVAL: stored.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL),
            CONF_REGISTERS: list(stored.get(CONF_REGISTERS, [])),
            CONF_NET: list(stored.get(CONF_NET, [])),
            CONF_FLIPPED: list(stored.get(CONF_FLIPPED, [])),
            CONF_REGISTER_DEVICES: bool(stored.get(CONF_REGISTER_DEVICES, False)),
            CONF_HISTORY: stored.get(CONF_HISTORY, HISTORY_YEAR),
        }
        return self.async_show_form(
            step_id="egauge",
            data_schema=self.add_suggested_values_to_schema(_options_schema(names, power), values),
            description_placeholders={"minimum": str(MIN_SCAN_INTERVAL)},
        )


# Schemas -------------------------------------------------------------------------------------

HISTORY_SELECTOR: Final = "egauge_history"
"""The translation key of the history choices (the EKM ones name EKM)."""

_PASSWORD_SELECTOR: Final = SECRET_SELECTOR
_USER_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_HOST): TextSelector(),
        probatio.Required(CONF_USERNAME): TextSelector(),
        probatio.Required(CONF_PASSWORD): _PASSWORD_SELECTOR,
        probatio.Optional(CONF_SSL, default=True): BooleanSelector(),
        probatio.Optional(CONF_VERIFY_SSL, default=False): BooleanSelector(),
    }
)
_REAUTH_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_USERNAME): TextSelector(),
        probatio.Required(CONF_PASSWORD): _PASSWORD_SELECTOR,
    }
)
_RECONFIGURE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_HOST): TextSelector(),
        probatio.Optional(CONF_SSL, default=True): BooleanSelector(),
        probatio.Optional(CONF_VERIFY_SSL, default=False): BooleanSelector(),
    }
)


def _register_selector(names: list[str]) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=names, multiple=True, custom_value=True, mode=SelectSelectorMode.DROPDOWN
        )
    )


def _options_schema(names: list[str], power: list[str]) -> probatio.Schema:
    return probatio.Schema(
        {
            probatio.Required(CONF_SCAN_INTERVAL): interval_selector(MIN_SCAN_INTERVAL),
            probatio.Optional(CONF_REGISTERS): _register_selector(names),
            probatio.Optional(CONF_NET): _register_selector(power),
            probatio.Optional(CONF_FLIPPED): _register_selector(power),
            probatio.Optional(CONF_REGISTER_DEVICES): BooleanSelector(),
            # The meter's history into long-term statistics (egauge/history.py).
            probatio.Optional(CONF_HISTORY): SelectSelector(
                SelectSelectorConfig(
                    options=list(HISTORY_CHOICES), translation_key=HISTORY_SELECTOR
                )
            ),
        }
    )
