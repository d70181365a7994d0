"""Config flow steps of EKM Push (cloud key) and Push3 (gateway on the LAN) entries.

Mixed into `config_flow.MeterLinkConfigFlow`. Every key is proven by a real request before it
is stored, and keys never appear in errors, placeholders, titles or unique ids: a cloud entry is
identified by what its key sees (its lowest gateway MAC, else its lowest device address), a
Push3 by its devices (`gateway_unique_id`). A new key for reauth or reconfigure must see the
same account or gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import probatio
from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_API_KEY, CONF_API_TOKEN, CONF_HOST
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
    TextSelectorConfig,
)

from ..const import (
    CONF_CONNECTION,
    CONF_PASSWORD,
    CONF_SCAN_INTERVAL,
    CONNECTION_EKM_PUSH,
    CONNECTION_PUSH3,
)
from ..errors import FormRule, form_error
from ..flow_helpers import SECRET_SELECTOR, FormError, interval_selector, is_meter_password
from ..history_statistics import CONF_HISTORY, HISTORY_CHOICES, HISTORY_YEAR
from ..meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterConnectionError,
    MeterError,
    MeterRateLimitError,
    MeterTimeoutError,
)
from ..meters.push import PushInventory, PushReadings, check_key, gateway_unique_id
from . import coordinator as push_coordinator
from .coordinator import (
    CONF_EXCLUDED,
    DEFAULT_PUSH3_SCAN_INTERVAL,
    DEFAULT_PUSH_SCAN_INTERVAL,
    MAX_PUSH_SCAN_INTERVAL,
    MIN_PUSH3_SCAN_INTERVAL,
    MIN_PUSH_SCAN_INTERVAL,
    EkmPushCoordinator,
    push_runtime,
)
from .history import CONF_FILL_GAPS
from .streaming import CONF_GATEWAY_KEYS, CONF_STREAMING, gateway_keys_from_form

CONF_DEVICES: Final = "devices"  # form field only: the meters and ioStacks to add


# What a failed request means on each form: the cloud's words name the cloud and the key, the
# Push3's name the gateway at the host typed (the `host` placeholder); no RS-485 wording.
_PUSH_RULES: Final = (
    FormRule(error=MeterAuthError, field=CONF_API_KEY, reason="push_invalid_key"),
    FormRule(error=MeterRateLimitError, field="base", reason="rate_limited"),
    FormRule(error=MeterConnectionError, field="base", reason="push_cannot_connect"),
    FormRule(error=MeterTimeoutError, field="base", reason="push_timeout"),
    FormRule(error=MeterError, field="base", reason="push_invalid_response"),
)
_PUSH3_RULES: Final = (
    FormRule(error=MeterAuthError, field=CONF_API_KEY, reason="push3_invalid_key"),
    FormRule(error=MeterRateLimitError, field="base", reason="rate_limited"),
    FormRule(error=MeterConnectionError, field=CONF_HOST, reason="push3_cannot_connect"),
    FormRule(error=MeterTimeoutError, field=CONF_HOST, reason="push3_timeout"),
    FormRule(error=MeterError, field="base", reason="push3_invalid_response"),
)


def _key(user_input: Mapping[str, Any]) -> str:
    """The key typed, checked for shape before any request carries it."""
    try:
        return check_key(str(user_input[CONF_API_KEY]).strip())
    except InvalidParameterError as err:
        raise FormError(CONF_API_KEY, "invalid_key_format") from err


def push_unique_id(inventory: PushInventory) -> str | None:
    """What identifies a key's account without the key: its lowest gateway MAC or device."""
    if inventory.gateways:
        return f"ekmpush-{min(gateway.mac for gateway in inventory.gateways)}"
    devices = sorted(inventory.devices)
    return f"ekmpush-{devices[0]}" if devices else None


def push_title(inventory: PushInventory) -> str:
    """The default title: the gateway's name when the key sees one gateway."""
    if len(inventory.gateways) == 1:
        gateway = inventory.gateways[0]
        return f"EKM Push {gateway.name or gateway.mac}"
    return "EKM Push account"


def _device_options(inventory: PushInventory) -> list[SelectOptionDict]:
    return [
        SelectOptionDict(
            value=address,
            label=f"{'ioStack' if address in inventory.iostacks else 'Meter'} {address}",
        )
        for address in inventory.devices
    ]


def _interval_selector(minimum: int) -> NumberSelector:
    return interval_selector(minimum, MAX_PUSH_SCAN_INTERVAL)


async def _async_discover(flow: ConfigFlow, key: str) -> tuple[PushInventory, str]:
    """The key's inventory and unique id; FormError when the key or the account fails."""
    client = push_coordinator.create_push_client(flow.hass, key)
    try:
        inventory = await client.discover()
    except Exception as err:
        raise form_error(err, _PUSH_RULES, "testing an EKM Push key") from err
    unique_id = push_unique_id(inventory)
    if unique_id is None:
        raise FormError("base", "no_devices")
    return inventory, unique_id


async def _async_read_push3(flow: ConfigFlow, host: str, key: str) -> tuple[PushReadings, str]:
    """The gateway's readings and unique id; FormError when it cannot be read."""
    try:
        client = push_coordinator.create_push3_client(flow.hass, host, key)
    except InvalidParameterError as err:
        raise FormError(CONF_HOST, "invalid_host") from err
    try:
        readings = await client.read()
    except Exception as err:
        raise form_error(err, _PUSH3_RULES, "reading a Push3 gateway", {CONF_HOST: host}) from err
    unique_id = gateway_unique_id(readings)
    if unique_id is None:
        raise FormError("base", "no_devices")
    return readings, unique_id


class EkmPushConfigFlowMixin(ConfigFlow):
    """Steps of an EKM Push key: key (and token), then which devices to add."""

    _push_data: dict[str, Any]
    _push_inventory: PushInventory

    async def async_step_ekm_push(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Account (or gateway) key and an optional API token; the key must be accepted."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                key = _key(user_input)
                inventory, unique_id = await _async_discover(self, key)
            except FormError as err:
                errors[err.field] = err.reason
            else:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_configured(error="push_already_configured")
                self._push_data = {CONF_CONNECTION: CONNECTION_EKM_PUSH, CONF_API_KEY: key}
                if token := str(user_input.get(CONF_API_TOKEN) or "").strip():
                    self._push_data[CONF_API_TOKEN] = token
                self._push_inventory = inventory
                return await self.async_step_ekm_push_devices()
        # Keep what was typed after an error (secret fields stay masked in the browser).
        return self.async_show_form(
            step_id="ekm_push",
            data_schema=self.add_suggested_values_to_schema(_PUSH_SCHEMA, user_input or {}),
            errors=errors,
        )

    async def async_step_ekm_push_devices(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Which meters and ioStacks to add (all by default; new ones are added later too)."""
        inventory = self._push_inventory
        errors: dict[str, str] = {}
        if user_input is not None:
            chosen = set(user_input.get(CONF_DEVICES) or ())
            if chosen:
                return self.async_create_entry(
                    title=push_title(inventory),
                    data=self._push_data,
                    options={
                        CONF_SCAN_INTERVAL: DEFAULT_PUSH_SCAN_INTERVAL,
                        CONF_EXCLUDED: [a for a in inventory.devices if a not in chosen],
                    },
                )
            errors[CONF_DEVICES] = "no_devices_selected"
        schema = probatio.Schema(
            {
                probatio.Required(CONF_DEVICES, default=list(inventory.devices)): SelectSelector(
                    SelectSelectorConfig(options=_device_options(inventory), multiple=True)
                )
            }
        )
        return self.async_show_form(
            step_id="ekm_push_devices",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "meters": str(len(inventory.meters)),
                "iostacks": str(len(inventory.iostacks)),
            },
        )

    async def _async_same_account_key(
        self, user_input: Mapping[str, Any], errors: dict[str, str]
    ) -> str | None:
        """The typed key once a request shows it sees this entry's account (else abort).

        None, with the reason in `errors`, when the key is malformed or refused.
        """
        try:
            key = _key(user_input)
            _inventory, unique_id = await _async_discover(self, key)
        except FormError as err:
            errors[err.field] = err.reason
            return None
        await self.async_set_unique_id(unique_id)
        self._abort_if_unique_id_mismatch(reason="wrong_account")
        return key

    async def async_step_ekm_push_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The key was refused: ask for the account's key again."""
        return await self.async_step_ekm_push_reauth_confirm()

    async def async_step_ekm_push_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A new key of the same account, proven by a request."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            key = await self._async_same_account_key(user_input, errors)
            if key is not None:
                return self.async_update_reload_and_abort(entry, data_updates={CONF_API_KEY: key})
        return self.async_show_form(
            step_id="ekm_push_reauth_confirm",
            data_schema=_KEY_SCHEMA,
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    async def async_step_ekm_push_reconfigure(
        self, user_input: Mapping[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Replace the key or the API token; the key must still see the same account."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            key = await self._async_same_account_key(user_input, errors)
            if key is not None:
                data = {**entry.data, CONF_API_KEY: key}
                data.pop(CONF_API_TOKEN, None)
                if token := str(user_input.get(CONF_API_TOKEN) or "").strip():
                    data[CONF_API_TOKEN] = token
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="ekm_push_reconfigure",
            data_schema=_PUSH_SCHEMA,
            errors=errors,
            description_placeholders={"name": entry.title},
        )


class EkmPush3ConfigFlowMixin(ConfigFlow):
    """Steps of a Push3 gateway on the LAN: host and gateway key."""

    async def async_step_ekm_push3(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Host and gateway key; the gateway must answer with its devices."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {CONF_HOST: "-"}
        if user_input is not None:
            host = str(user_input[CONF_HOST]).strip()
            placeholders[CONF_HOST] = host
            try:
                key = _key(user_input)
                _readings, unique_id = await _async_read_push3(self, host, key)
            except FormError as err:
                err.apply(errors, placeholders)
            else:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_configured(
                    updates={CONF_HOST: host}, error="push3_already_configured"
                )
                return self.async_create_entry(
                    title=f"Push3 gateway ({host})",
                    data={CONF_CONNECTION: CONNECTION_PUSH3, CONF_HOST: host, CONF_API_KEY: key},
                    options={CONF_SCAN_INTERVAL: DEFAULT_PUSH3_SCAN_INTERVAL},
                )
        # Keep what was typed after an error (the key stays masked in the browser).
        return self.async_show_form(
            step_id="ekm_push3",
            data_schema=self.add_suggested_values_to_schema(_PUSH3_SCHEMA, user_input or {}),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_same_gateway_key(
        self, host: str, user_input: Mapping[str, Any], errors: dict[str, str]
    ) -> str | None:
        """The typed key once `host` answers with it as this entry's gateway (else abort).

        None, with the reason in `errors`, when the key is malformed or refused.
        """
        try:
            key = _key(user_input)
            _readings, unique_id = await _async_read_push3(self, host, key)
        except FormError as err:
            errors[err.field] = err.reason
            return None
        await self.async_set_unique_id(unique_id)
        self._abort_if_unique_id_mismatch(reason="wrong_gateway")
        return key

    async def async_step_ekm_push3_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The gateway refused its key: ask for it again."""
        return await self.async_step_ekm_push3_reauth_confirm()

    async def async_step_ekm_push3_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The gateway's new key, proven by a read of the same gateway."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            key = await self._async_same_gateway_key(entry.data[CONF_HOST], user_input, errors)
            if key is not None:
                return self.async_update_reload_and_abort(entry, data_updates={CONF_API_KEY: key})
        return self.async_show_form(
            step_id="ekm_push3_reauth_confirm",
            data_schema=_KEY_SCHEMA,
            errors=errors,
            description_placeholders={"name": entry.title, CONF_HOST: entry.data[CONF_HOST]},
        )

    async def async_step_ekm_push3_reconfigure(
        self, user_input: Mapping[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A new address or key for the same gateway."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        host = entry.data[CONF_HOST]
        if user_input is not None:
            host = str(user_input[CONF_HOST]).strip()
            key = await self._async_same_gateway_key(host, user_input, errors)
            if key is not None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_HOST: host, CONF_API_KEY: key}
                )
        return self.async_show_form(
            step_id="ekm_push3_reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _PUSH3_SCHEMA, {CONF_HOST: entry.data[CONF_HOST]}
            ),
            errors=errors,
            description_placeholders={"name": entry.title, CONF_HOST: host},
        )


class EkmPushOptionsFlow(OptionsFlowWithReload):
    """Poll interval and, while the entry is loaded, which devices to show."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Hand over to this connection's own step (the step ids are shared per domain)."""
        return await self.async_step_ekm_push_options()

    async def async_step_ekm_push_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The interval; the device choice when the key's devices are known."""
        entry = self.config_entry
        inventory = None  # the device choice needs the key's devices: only while loaded
        if entry.state is ConfigEntryState.LOADED:
            coordinator = push_runtime(entry).coordinator
            if isinstance(coordinator, EkmPushCoordinator):
                inventory = coordinator.inventory
        errors: dict[str, str] = {}
        if user_input is not None:
            options: dict[str, Any] = {
                **entry.options,
                CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                # Left out (not a form), the stored choice stays.
                CONF_HISTORY: user_input.get(
                    CONF_HISTORY, entry.options.get(CONF_HISTORY, HISTORY_YEAR)
                ),
                CONF_FILL_GAPS: bool(
                    user_input.get(CONF_FILL_GAPS, entry.options.get(CONF_FILL_GAPS, True))
                ),
            }
            if inventory is not None:
                chosen = set(user_input.get(CONF_DEVICES) or ())
                options[CONF_EXCLUDED] = [a for a in inventory.devices if a not in chosen]
            # Left empty, the stored password stays (a password is never shown again).
            if password := (user_input.get(CONF_PASSWORD) or "").strip():
                if is_meter_password(password):
                    options[CONF_PASSWORD] = password
                else:
                    errors[CONF_PASSWORD] = "invalid_password_format"
            if CONF_STREAMING in user_input:
                options[CONF_STREAMING] = bool(user_input[CONF_STREAMING])
            # Keys are never shown again: lines given change or forget one, the rest stay.
            if inventory is not None and (lines := user_input.get(CONF_GATEWAY_KEYS)):
                try:
                    options[CONF_GATEWAY_KEYS] = gateway_keys_from_form(
                        str(lines),
                        (gateway.mac for gateway in inventory.gateways),
                        entry.options.get(CONF_GATEWAY_KEYS, {}),
                    )
                except FormError as err:
                    errors[err.field] = err.reason
            if not errors:
                return self.async_create_entry(data=options)
        fields: dict[Any, Any] = {
            probatio.Required(CONF_SCAN_INTERVAL): _interval_selector(MIN_PUSH_SCAN_INTERVAL),
            # Sent with relay commands; meters still on the factory password need none.
            probatio.Optional(CONF_PASSWORD): SECRET_SELECTOR,
            probatio.Optional(CONF_STREAMING): BooleanSelector(),
            # EKM history into long-term statistics (push/history.py).
            probatio.Optional(CONF_HISTORY): SelectSelector(
                SelectSelectorConfig(options=list(HISTORY_CHOICES), translation_key=CONF_HISTORY)
            ),
            probatio.Optional(CONF_FILL_GAPS): BooleanSelector(),
        }
        suggested: dict[str, Any] = {
            CONF_SCAN_INTERVAL: entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_PUSH_SCAN_INTERVAL),
            CONF_STREAMING: entry.options.get(CONF_STREAMING, True),
            CONF_HISTORY: entry.options.get(CONF_HISTORY, HISTORY_YEAR),
            CONF_FILL_GAPS: entry.options.get(CONF_FILL_GAPS, True),
        }
        placeholders = {"gateways": "-"}
        if inventory is not None and inventory.gateways:
            fields[probatio.Optional(CONF_GATEWAY_KEYS)] = TextSelector(
                TextSelectorConfig(multiline=True)
            )
            placeholders["gateways"] = ", ".join(gateway.mac for gateway in inventory.gateways)
        if inventory is not None:
            excluded = set(entry.options.get(CONF_EXCLUDED, ()))
            fields[probatio.Optional(CONF_DEVICES)] = SelectSelector(
                SelectSelectorConfig(options=_device_options(inventory), multiple=True)
            )
            suggested[CONF_DEVICES] = [a for a in inventory.devices if a not in excluded]
        return self.async_show_form(
            step_id="ekm_push_options",
            data_schema=self.add_suggested_values_to_schema(probatio.Schema(fields), suggested),
            errors=errors,
            description_placeholders=placeholders,
        )


class EkmPush3OptionsFlow(OptionsFlowWithReload):
    """Poll interval of a Push3 gateway."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Hand over to this connection's own step (the step ids are shared per domain)."""
        return await self.async_step_ekm_push3_options()

    async def async_step_ekm_push3_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """How often the gateway is read, and whether EKM's cloud stream adds its reads."""
        if user_input is not None:
            options = {
                **self.config_entry.options,
                CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
            }
            if CONF_STREAMING in user_input:
                options[CONF_STREAMING] = bool(user_input[CONF_STREAMING])
            return self.async_create_entry(data=options)
        stored = self.config_entry.options
        return self.async_show_form(
            step_id="ekm_push3_options",
            data_schema=self.add_suggested_values_to_schema(
                _PUSH3_OPTIONS_SCHEMA,
                {
                    CONF_SCAN_INTERVAL: stored.get(CONF_SCAN_INTERVAL, DEFAULT_PUSH3_SCAN_INTERVAL),
                    CONF_STREAMING: stored.get(CONF_STREAMING, False),
                },
            ),
        )


_PUSH_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_API_KEY): SECRET_SELECTOR,
        probatio.Optional(CONF_API_TOKEN): SECRET_SELECTOR,
    }
)
_KEY_SCHEMA: Final = probatio.Schema({probatio.Required(CONF_API_KEY): SECRET_SELECTOR})
_PUSH3_SCHEMA: Final = probatio.Schema(
    {probatio.Required(CONF_HOST): TextSelector(), probatio.Required(CONF_API_KEY): SECRET_SELECTOR}
)
_PUSH3_OPTIONS_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_SCAN_INTERVAL): _interval_selector(MIN_PUSH3_SCAN_INTERVAL),
        # Off by default: the stream comes from EKM's cloud, not the local network.
        probatio.Optional(CONF_STREAMING): BooleanSelector(),
    }
)
