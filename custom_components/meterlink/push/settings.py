"""The write side of an EKM Push entry: Device Settings and Trigger API clients, token rights.

An EKM Push (cloud) entry reads its meters with the account key alone. Changing anything (a
relay, a setting, a trigger) also needs an API bearer token, which the user may not have given,
and which may be READ or READ/WRITE (seed 001, "Token permissions"). `DeviceSettings` holds both
API clients of one entry and what is known about the token; the cloud entry makes it at setup
(`PushRuntimeData.settings`) and closes it when it unloads. `require_write` is the one gate
every write (switch or action) passes.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any, Final

from aiohttp import ClientSession
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_API_TOKEN
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from ..const import CONNECTION_EKM_PUSH, DOMAIN, LOGGER
from ..errors import ErrorTable, Rule, translate_errors
from ..meters.ekm import EkmReading
from ..meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterError,
    MeterPermissionError,
    MeterRateLimitError,
)
from ..meters.http import redact
from ..meters.json import JsonValue, api_error_text
from ..meters.push import (
    IoStackReading,
    PushInventory,
    Trigger,
    TriggerClient,
    TriggerNotFoundError,
)
from ..meters.push.settings import (
    DEFAULT_ANSWER_TIMEOUT,
    AnswerTimeoutError,
    CommandAnswer,
    CommandFailedError,
    DeviceApiClient,
    Target,
    raise_for_failure,
    request_json,
)
from ..runtime import MeterLinkConfigEntry, connection_of
from .coordinator import EkmPushCoordinator, entry_key, push_runtime
from .triggers import TriggerCoordinator

CLIENT_NAME: Final = "meterlink-home-assistant"

# Bad input (a parameter the schema refuses, an unknown trigger) is the caller's to fix; the
# API or the device failing is not.
DEVICE_API_ERRORS: Final[ErrorTable] = (
    Rule(
        error=InvalidParameterError,
        key="device_api_invalid_parameter",
        raises=ServiceValidationError,
    ),
    Rule(
        error=TriggerNotFoundError,
        key="device_api_trigger_not_found",
        raises=ServiceValidationError,
    ),
    Rule(
        error=AnswerTimeoutError,
        key="device_api_answer_timeout",
        details=lambda err: {"msg_id": err.msg_id},
    ),
    Rule(
        error=CommandFailedError,
        key="device_api_command_failed",
        details=lambda err: {"error": err.answer.error or "no reason given"},
    ),
    Rule(error=MeterPermissionError, key="device_api_not_permitted"),
    Rule(error=MeterAuthError, key="device_api_token_rejected"),
    Rule(error=MeterRateLimitError, key="device_api_rate_limited"),
    Rule(error=MeterError, key="device_api_error"),
)


class TokenAccess(StrEnum):
    """What the entry's API token may do, as far as the API has told us."""

    NONE = "none"  # no token configured
    INVALID = "invalid"  # the API refused the token (HTTP 401)
    READ = "read"  # GET only: list and look up triggers
    WRITE = "write"  # READ/WRITE: commands and trigger changes
    UNKNOWN = "unknown"  # not asked yet, or the API could not be reached


# What the cloud entry offers ------------------------------------------------------------------


def token_of(entry: ConfigEntry) -> str | None:
    """The optional API bearer token (given when the account is added, or by reconfiguring)."""
    token = entry.data.get(CONF_API_TOKEN)
    return token if isinstance(token, str) and token.strip() else None


def _cloud(entry: MeterLinkConfigEntry) -> EkmPushCoordinator:
    """The cloud connection's coordinator (it holds the client, inventory and readings)."""
    coordinator = push_runtime(entry).coordinator
    if not isinstance(coordinator, EkmPushCoordinator):  # pragma: no cover - callers check
        msg = f"{entry.title} is not an EKM Push cloud entry"
        raise TypeError(msg)
    return coordinator


def inventory_of(entry: MeterLinkConfigEntry) -> PushInventory:
    """The gateways, meters and ioStacks the entry's key sees."""
    return _cloud(entry).inventory or PushInventory()


@dataclass(frozen=True, slots=True)
class DeviceRead:
    """A device's latest cloud reading for the switches: its fields and when it was taken."""

    meter: EkmReading | None = None
    iostack: IoStackReading | None = None
    timestamp_ms: int | None = None


def device_read(entry: MeterLinkConfigEntry, address: str) -> DeviceRead | None:
    """The latest reading of one meter or ioStack, or None while there is none."""
    data = _cloud(entry).data
    stamp = data.timestamps.get(address)
    if (meter := data.meters.get(address)) is not None:
        return DeviceRead(meter=meter, timestamp_ms=stamp)
    if (iostack := data.iostacks.get(address)) is not None:
        return DeviceRead(iostack=iostack, timestamp_ms=stamp or iostack.timestamp_ms)
    return None


def device_addresses(entry: MeterLinkConfigEntry) -> tuple[list[str], list[str]]:
    """(meters, ioStacks) with a reading now."""
    data = _cloud(entry).data
    return list(data.meters), list(data.iostacks)


def is_cloud_entry(entry: ConfigEntry) -> bool:
    """Whether the entry is an EKM Push (cloud) connection, the only one with these APIs."""
    return entry.domain == DOMAIN and connection_of(entry) == CONNECTION_EKM_PUSH


def token_error(access: TokenAccess, title: str) -> ServiceValidationError:
    """Why this entry cannot write (or read triggers), and how to add a token that can."""
    key = {
        TokenAccess.NONE: "device_api_token_missing",
        TokenAccess.READ: "device_api_token_read_only",
        TokenAccess.INVALID: "device_api_token_rejected",
    }.get(access, "device_api_token_rejected")
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"entry": title},
    )


def invalid(error: str) -> ServiceValidationError:
    """Input the schemas refuse, with the library's text (it names the parameter)."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="device_api_invalid_parameter",
        translation_placeholders={"error": error},
    )


# The entry's clients --------------------------------------------------------------------------


@dataclass
class DeviceSettings:
    """Both API clients of one cloud entry and what its token may do."""

    entry: MeterLinkConfigEntry
    commands: DeviceApiClient | None
    triggers: TriggerClient | None
    access: TokenAccess
    answer_timeout: float = DEFAULT_ANSWER_TIMEOUT
    trigger_coordinator: TriggerCoordinator | None = None
    _probe: Callable[[], Awaitable[TokenAccess]] | None = None
    _probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _command_listeners: list[CommandListener] = field(default_factory=list)

    @property
    def inventory(self) -> PushInventory:
        """The entry's gateways and devices, as the cloud connection last discovered them."""
        return inventory_of(self.entry)

    async def async_access(self) -> TokenAccess:
        """What the token may do; asks the API once (and again while the answer is unclear)."""
        async with self._probe_lock:
            if self.access is TokenAccess.UNKNOWN and self._probe is not None:
                self.access = await self._probe()
            return self.access

    async def require_write(self) -> None:
        """The one gate of every write: the token must be known to be READ/WRITE."""
        access = await self.async_access()
        if access in (TokenAccess.NONE, TokenAccess.READ, TokenAccess.INVALID):
            raise token_error(access, self.entry.title)

    def require_read(self) -> None:
        """Reading triggers needs a token the API accepted (READ is enough)."""
        if self.access in (TokenAccess.NONE, TokenAccess.INVALID):
            raise token_error(self.access, self.entry.title)

    def api_errors(self, what: str) -> AbstractContextManager[None]:
        """Library errors of an API call about `what` leave as translated HA errors, redacted."""
        return translate_errors(
            DEVICE_API_ERRORS,
            {"entry": self.entry.title, "what": what},
            redact=partial(redacted, self.entry),
        )

    def diagnostics(self) -> dict[str, Any]:
        """What the token may do and how many triggers it sees (never the token)."""
        coordinator = self.trigger_coordinator
        return {
            "token_access": self.access.value,
            "triggers": None if coordinator is None else len(coordinator.data or {}),
            "trigger_list_ok": None if coordinator is None else coordinator.last_update_success,
        }

    # Commands ------------------------------------------------------------------------------

    @callback
    def async_add_command_listener(self, listener: CommandListener) -> Callable[[], None]:
        """Be told of every command the device confirmed; returns the unsubscribe callback."""
        self._command_listeners.append(listener)
        return lambda: self._command_listeners.remove(listener)

    async def async_send(
        self,
        target: Target,
        target_id: str,
        command: str,
        params: Mapping[str, JsonValue] | None = None,
        answer_timeout: float | None = None,
    ) -> CommandAnswer:
        """Send a command and return the device's answer; a reported failure raises."""
        client = self._require(self.commands)
        answer = raise_for_failure(
            await client.send(
                target,
                target_id,
                command,
                params,
                answer_timeout=answer_timeout or self.answer_timeout,
            )
        )
        sent = SentCommand(target, target_id, command, dict(params or {}), answer)
        for listener in list(self._command_listeners):
            listener(sent)
        return answer

    # Triggers ------------------------------------------------------------------------------

    def gateway_of_trigger(self, trigger_uuid: str) -> str | None:
        """The gateway a trigger lives on, when the trigger list has seen it."""
        coordinator = self.trigger_coordinator
        return coordinator.gateway_of(trigger_uuid) if coordinator else None

    async def list_triggers(self, gateway: str) -> list[Trigger]:
        """Every trigger of one gateway."""
        return await self._require(self.triggers).list(gateway)

    async def get_trigger(self, trigger_uuid: str) -> Trigger:
        """One trigger by uuid."""
        return await self._require(self.triggers).get(trigger_uuid)

    async def create_trigger(self, gateway: str, body: Mapping[str, Any]) -> Trigger:
        """Create a trigger; its switch appears at once."""
        trigger = await self._require(self.triggers).create(gateway, body)
        if self.trigger_coordinator is not None:
            self.trigger_coordinator.async_set_trigger(gateway, trigger)
        return trigger

    async def update_trigger(self, trigger_uuid: str, changes: Mapping[str, Any]) -> Trigger:
        """Change a trigger; its switch follows at once."""
        trigger = await self._require(self.triggers).update(trigger_uuid, changes)
        coordinator = self.trigger_coordinator
        if coordinator is not None and (gateway := coordinator.gateway_of(trigger_uuid)):
            coordinator.async_set_trigger(gateway, trigger)
        return trigger

    async def delete_trigger(self, trigger_uuid: str) -> None:
        """Delete a trigger; its switch goes at once."""
        await self._require(self.triggers).delete(trigger_uuid)
        if self.trigger_coordinator is not None:
            self.trigger_coordinator.async_drop_trigger(trigger_uuid)

    @staticmethod
    def _require[ClientT](client: ClientT | None) -> ClientT:
        if client is None:  # pragma: no cover - callers check the token first
            msg = "no API token"
            raise MeterAuthError(msg)
        return client

    async def async_close(self) -> None:
        """Stop the answer streams of commands still waiting."""
        if self.commands is not None:
            await self.commands.close()


@dataclass(frozen=True, slots=True)
class SentCommand:
    """A command the device confirmed: what was sent and its answer."""

    target: Target
    target_id: str
    command: str
    params: Mapping[str, JsonValue]
    answer: CommandAnswer


type CommandListener = Callable[[SentCommand], None]


async def probe_access(session: ClientSession, api_url: str, token: str, key: str) -> TokenAccess:
    """Whether the token may write, without changing anything.

    Deleting a trigger that cannot exist (a fresh random uuid) is refused with 403 for a READ
    token, which may only GET, and answered 404 with the API's "not found" for a READ/WRITE
    one; 401 means the API does not know the token. Anything else (no answer, a 404 page that
    is not the Trigger API's) leaves it unknown, to be asked again later.
    """
    try:
        answer = await request_json(
            session,
            "DELETE",
            f"{api_url}/api/trigger",
            {"key": key},
            {"trigger_uuid": secrets.token_hex(16)},
            token=token,
            secrets_=(key,),
        )
    except MeterError as err:
        LOGGER.debug("cannot tell what the API token may do yet: %s", err)
        return TokenAccess.UNKNOWN
    status = answer.status
    if status == 404 and api_error_text(answer.body) is not None:
        return TokenAccess.WRITE
    return {401: TokenAccess.INVALID, 403: TokenAccess.READ}.get(status, TokenAccess.UNKNOWN)


@callback
def create_device_settings(
    hass: HomeAssistant, entry: MeterLinkConfigEntry, api_url: str
) -> DeviceSettings:
    """The entry's DeviceSettings on the API the cloud client reads from (tests: the simulator)."""
    token = token_of(entry)
    if token is None:
        return DeviceSettings(entry, None, None, TokenAccess.NONE)
    session = async_get_clientsession(hass)
    key = entry_key(entry)
    return DeviceSettings(
        entry,
        DeviceApiClient(session, token, key, api_url=api_url, client_name=CLIENT_NAME),
        TriggerClient(session, token, key, api_url=api_url),
        TokenAccess.UNKNOWN,
        _probe=partial(probe_access, session, api_url, token, key),
    )


def device_settings(entry: MeterLinkConfigEntry) -> DeviceSettings:
    """The loaded cloud entry's DeviceSettings."""
    settings = push_runtime(entry).settings
    if settings is None:  # pragma: no cover - only cloud entries get here
        msg = f"{entry.title} is not an EKM Push cloud entry"
        raise TypeError(msg)
    return settings


def redacted(entry: MeterLinkConfigEntry, text: str) -> str:
    """`text` without the entry's key or token (for messages built from library errors)."""
    return redact(text, entry_key(entry), token_of(entry))
