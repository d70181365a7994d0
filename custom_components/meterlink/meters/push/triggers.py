"""Push3 gateway triggers: models, strict checks before sending, and the Trigger API client.

A trigger is a name, conditions and actions (seed 001, "Trigger API"; seed 003 adds webhooks).
Conditions are data tests on a device field (threshold test, duration, hysteresis, continuous,
tolerance) or RFC 5545 recurrence rules in UTC; actions are Device Settings commands (the same
schemas as `commands.py`), e-mails or webhooks sent by the gateway.

Two directions, two attitudes: what the API returns is parsed leniently (`parse_trigger`:
numbers written as strings, a threshold test or action this library does not know, are kept as
they are, so listing a gateway never fails on a trigger made in the portal), while what is sent
is checked strictly (`validate_trigger`) and never carries the read-only attributes
(trigger_uuid, created_at, updated_at), which are dropped, so an edited `get` result can be
sent back as an update.

Tokens may be READ (GET only) or READ/WRITE; a READ token or another owner's gateway gives
MeterPermissionError, an unknown trigger TriggerNotFoundError.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ..errors import (
    InvalidParameterError,
    MeterApiError,
    MeterConnectionError,
    MeterFrameError,
    MeterPermissionError,
    MeterRateLimitError,
    MeterTimeoutError,
)
from ..http import error_for_status
from ..json import JsonValue, decode, plain
from ..json import number as json_number
from .rrule import parse_rrule
from .settings.client import (
    DEFAULT_API_URL,
    DEFAULT_REQUEST_TIMEOUT,
    check_token,
    request_json,
    validate_api_url,
)
from .settings.commands import (
    CommandSpec,
    Target,
    check_target_id,
    command_spec,
    normalize_gateway,
    plain_json,
)

THRESHOLD_TESTS = ("==", "!=", ">=", "<=", ">", "<", "rise_eq")
"""The documented tests, plus `rise_eq`, which the vendor's own example uses."""

DATA_SOURCES = (Target.METER.value, Target.IOSTACK.value)
READ_ONLY_ATTRIBUTES = ("trigger_uuid", "created_at", "updated_at")
WRITABLE_ATTRIBUTES = ("trigger_name", "conditions", "actions", "enabled", "extras")
GATEWAY_COMMANDS = ("sendEmail", "sendWebhook")
"""Gateway actions: sendEmail is documented; the webhook action's name and `url` parameter are
this library's reading of seed 003, which announces webhooks without showing their JSON."""

MAX_NAME = 200
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_UUID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_DATA_KEYS = (
    "type",
    "source",
    "source_id",
    "field",
    "threshold_test",
    "threshold_value",
    "duration",
    "hysteresis",
    "continuous",
    "tolerance",
)


class TriggerNotFoundError(MeterApiError):
    """No trigger with that uuid (HTTP 404), or not one this key can see."""


def _invalid(message: str) -> InvalidParameterError:
    return InvalidParameterError(f"trigger: {message}")


def check_trigger_uuid(trigger_uuid: str) -> str:
    """A trigger uuid: 32 hex digits (with or without dashes)."""
    if not isinstance(trigger_uuid, str) or _UUID.fullmatch(trigger_uuid.strip()) is None:
        msg = "a trigger uuid is 32 hex digits"
        raise InvalidParameterError(msg)
    return trigger_uuid.strip()


# Models ---------------------------------------------------------------------------------------


def _number(value: object) -> float | None:
    """A number the API may write as a string ("60"); None when it is not one.

    The same rules as a meter reading's values (`meters.json.number`): an integer too large for a
    float, "nan" or non-ASCII digits are no number, so a trigger list never fails on one.
    """
    number = json_number(value)
    return None if number is None else float(number)


@dataclass(frozen=True, slots=True)
class DataCondition:
    """Fires when a device field passes a threshold test (seed 001, "Data Condition")."""

    source: str
    source_id: str
    field: str
    threshold_test: str
    threshold_value: float | None
    duration: float | None = None  # default 0 s
    hysteresis: float | None = None  # default 60 s
    continuous: bool | None = None  # default false
    tolerance: float | None = None  # default 1e-6
    raw: Mapping[str, JsonValue] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    type = "data"

    def as_json(self) -> dict[str, JsonValue]:
        """The condition as the API wrote it (values in their original spelling)."""
        return dict(self.raw) if self.raw else _data_condition_json(self)


def _data_condition_json(condition: DataCondition) -> dict[str, JsonValue]:
    result: dict[str, JsonValue] = {
        "type": "data",
        "source": condition.source,
        "source_id": condition.source_id,
        "field": condition.field,
        "threshold_test": condition.threshold_test,
        "threshold_value": condition.threshold_value,
    }
    for name in ("duration", "hysteresis", "continuous", "tolerance"):
        value = getattr(condition, name)
        if value is not None:
            result[name] = value
    return result


@dataclass(frozen=True, slots=True)
class RRuleCondition:
    """Fires at the times of an RFC 5545 recurrence rule, in UTC."""

    rrule: str

    type = "rrule"

    def as_json(self) -> dict[str, JsonValue]:
        """The condition as the API writes it."""
        return {"type": "rrule", "rrule": self.rrule}


@dataclass(frozen=True, slots=True)
class OtherCondition:
    """A condition type this library does not know; kept verbatim."""

    raw: Mapping[str, JsonValue]

    @property
    def type(self) -> str:
        """The condition's own type name."""
        return str(self.raw.get("type"))

    def as_json(self) -> dict[str, JsonValue]:
        """The condition as the API wrote it."""
        return dict(self.raw)


type Condition = DataCondition | RRuleCondition | OtherCondition


@dataclass(frozen=True, slots=True)
class TriggerAction:
    """What the gateway does when a trigger fires: a device command, an e-mail, a webhook."""

    target: str
    command: str
    target_id: str | None = None
    params: Mapping[str, JsonValue] = field(default_factory=dict)

    def as_json(self) -> dict[str, JsonValue]:
        """The action as the API writes it."""
        result: dict[str, JsonValue] = {"target": self.target, "command": self.command}
        if self.target_id is not None:
            result["target_id"] = self.target_id
        if self.params:
            result["params"] = dict(self.params)
        return result


@dataclass(frozen=True, slots=True)
class Trigger:
    """One trigger as the API returns it; the read-only attributes are None before creation."""

    trigger_name: str
    conditions: tuple[Condition, ...]
    actions: tuple[TriggerAction, ...]
    enabled: bool = True
    extras: Mapping[str, JsonValue] = field(default_factory=dict)
    trigger_uuid: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    def writable_json(self) -> dict[str, JsonValue]:
        """The attributes a create or modify request may carry (never the read-only ones)."""
        return {
            "trigger_name": self.trigger_name,
            "conditions": [condition.as_json() for condition in self.conditions],
            "actions": [action.as_json() for action in self.actions],
            "enabled": self.enabled,
            "extras": dict(self.extras),
        }

    def as_json(self) -> dict[str, JsonValue]:
        """Every attribute, read-only ones included (for printing)."""
        result = self.writable_json()
        for name in READ_ONLY_ATTRIBUTES:
            value = getattr(self, name)
            if value is not None:
                result[name] = value
        return result


# Parsing what the API returns (lenient) -----------------------------------------------------


def _frame(message: str) -> MeterFrameError:
    return MeterFrameError(f"trigger: {message}")


def _decode(body: bytes | str) -> Any:
    try:
        return decode(body)
    except MeterFrameError as err:
        raise _frame(str(err)) from None


def _plain(value: object) -> JsonValue:
    return plain(value, max_depth=32, error=_frame)


def _parse_condition(value: object) -> Condition:
    if not isinstance(value, dict):
        raise _frame("a condition is not an object")
    raw = _plain(value)
    assert isinstance(raw, dict)
    kind = raw.get("type")
    if kind == "rrule":
        if not isinstance(raw.get("rrule"), str):
            raise _frame("an rrule condition has no rrule text")
        return RRuleCondition(str(raw["rrule"]))
    if kind != "data":
        return OtherCondition(MappingProxyType(raw))
    for key in ("source", "source_id", "field", "threshold_test"):
        if not isinstance(raw.get(key), str):
            raise _frame(f"a data condition has no {key}")
    continuous = raw.get("continuous")
    return DataCondition(
        source=str(raw["source"]),
        source_id=str(raw["source_id"]),
        field=str(raw["field"]),
        threshold_test=str(raw["threshold_test"]),
        threshold_value=_number(raw.get("threshold_value")),
        duration=_number(raw.get("duration")),
        hysteresis=_number(raw.get("hysteresis")),
        continuous=continuous if isinstance(continuous, bool) else None,
        tolerance=_number(raw.get("tolerance")),
        raw=MappingProxyType(raw),
    )


def _parse_action(value: object) -> TriggerAction:
    if not isinstance(value, dict):
        raise _frame("an action is not an object")
    raw = _plain(value)
    assert isinstance(raw, dict)
    target, command = raw.get("target"), raw.get("command")
    if not isinstance(target, str) or not isinstance(command, str):
        raise _frame("an action has no target or command")
    target_id = raw.get("target_id")
    params = raw.get("params")
    return TriggerAction(
        target=target,
        command=command,
        target_id=target_id if isinstance(target_id, str) else None,
        params=MappingProxyType(params if isinstance(params, dict) else {}),
    )


def parse_trigger(value: object) -> Trigger:
    """One trigger object from the API; MeterFrameError when it is not one."""
    if not isinstance(value, dict):
        raise _frame("not a JSON object")
    name = value.get("trigger_name")
    conditions, actions = value.get("conditions", []), value.get("actions", [])
    if not isinstance(name, str):
        raise _frame("no trigger_name")
    if not isinstance(conditions, list) or not isinstance(actions, list):
        raise _frame("conditions and actions must be lists")
    extras = value.get("extras")
    enabled = value.get("enabled", True)
    read_only = {key: value.get(key) for key in READ_ONLY_ATTRIBUTES}
    plain_extras = _plain(extras) if isinstance(extras, dict) else {}
    assert isinstance(plain_extras, dict)
    return Trigger(
        trigger_name=name,
        conditions=tuple(_parse_condition(item) for item in conditions),
        actions=tuple(_parse_action(item) for item in actions),
        enabled=enabled if isinstance(enabled, bool) else bool(enabled),
        extras=MappingProxyType(plain_extras),
        **{key: item if isinstance(item, str) else None for key, item in read_only.items()},
    )


def parse_triggers(body: bytes | str | object) -> list[Trigger]:
    """A lookup answer: {"triggers": [...]} or {"trigger": {...}} (raw bytes or parsed)."""
    data: Any = body
    if isinstance(body, bytes | str):
        data = _decode(body)
    if isinstance(data, dict) and isinstance(data.get("triggers"), list):
        return [parse_trigger(item) for item in data["triggers"]]
    if isinstance(data, dict) and isinstance(data.get("trigger"), dict):
        return [parse_trigger(data["trigger"])]
    raise _frame("the answer holds neither triggers nor a trigger")


# Checking what is sent (strict) --------------------------------------------------------------


def _check_number(value: object, name: str, *, minimum: float | None = None) -> JsonValue:
    number = _number(value)
    if number is None:
        raise _invalid(f"{name} must be a number (or a numeric string)")
    if minimum is not None and number < minimum:
        raise _invalid(f"{name} must be at least {minimum:g}")
    assert isinstance(value, int | float | str)
    return value


def validate_condition(value: object) -> dict[str, JsonValue]:
    """One condition as it will be sent; RRULEs are parsed and written in canonical form."""
    if not isinstance(value, Mapping):
        raise _invalid("each condition is an object")
    kind = value.get("type")
    if kind == "rrule":
        unknown = sorted(set(value) - {"type", "rrule"})
        if unknown:
            raise _invalid(f"an rrule condition has no attribute {unknown[0]}")
        text = value.get("rrule")
        if not isinstance(text, str):
            raise _invalid("an rrule condition needs its rrule text")
        return {"type": "rrule", "rrule": parse_rrule(text).format()}
    if kind != "data":
        raise _invalid("a condition's type is data or rrule")
    unknown = sorted(set(value) - set(_DATA_KEYS))
    if unknown:
        raise _invalid(f"a data condition has no attribute {unknown[0]}")
    for key in ("source", "source_id", "field", "threshold_test", "threshold_value"):
        if key not in value:
            raise _invalid(f"a data condition needs {key}")
    source = value["source"]
    if source not in DATA_SOURCES:
        raise _invalid(f"source must be one of {', '.join(DATA_SOURCES)}")
    result: dict[str, JsonValue] = {
        "type": "data",
        "source": source,
        "source_id": check_target_id(source, value["source_id"]),
    }
    if not isinstance(value["field"], str) or _FIELD.fullmatch(value["field"]) is None:
        raise _invalid("field is a field name such as kWh_Tot")
    result["field"] = value["field"]
    if value["threshold_test"] not in THRESHOLD_TESTS:
        raise _invalid(f"threshold_test must be one of {' '.join(THRESHOLD_TESTS)}")
    result["threshold_test"] = value["threshold_test"]
    result["threshold_value"] = _check_number(value["threshold_value"], "threshold_value")
    for key in ("duration", "hysteresis", "tolerance"):
        if value.get(key) is not None:
            result[key] = _check_number(value[key], key, minimum=0)
    if value.get("continuous") is not None:
        if not isinstance(value["continuous"], bool):
            raise _invalid("continuous must be true or false")
        result["continuous"] = value["continuous"]
    return result


def validate_action(value: object) -> dict[str, JsonValue]:
    """One action as it will be sent: a device command checked by its schema, or a gateway one."""
    if not isinstance(value, Mapping):
        raise _invalid("each action is an object")
    unknown = sorted(set(value) - {"target", "target_id", "command", "params"})
    if unknown:
        raise _invalid(f"an action has no attribute {unknown[0]}")
    target, command = value.get("target"), value.get("command")
    params = value.get("params")
    if params is not None and not isinstance(params, Mapping):
        raise _invalid("an action's params are an object")
    if not isinstance(command, str):
        raise _invalid("an action needs a command")
    if target == "gateway":
        return _gateway_action(command, value.get("target_id"), params)
    if target not in DATA_SOURCES:
        raise _invalid("an action's target is meter, iostack or gateway")
    spec = command_spec(str(target), command)
    result: dict[str, JsonValue] = {
        "target": spec.target.value,
        "target_id": check_target_id(spec.target, value.get("target_id")),
        "command": command,
    }
    checked = _as_given(spec, params or {}, spec.validate(params))
    if checked:
        result["params"] = checked
    return result


def _as_given(
    spec: CommandSpec, given: Mapping[str, Any], checked: dict[str, JsonValue]
) -> dict[str, JsonValue]:
    """The checked parameters with the user's own spelling of case-insensitive choices.

    The Trigger API documents `"relay": "relay_1"` where sendCommand documents `Relay_1`; the
    schema accepts either, and a trigger action is sent exactly as given, never rewritten.
    """
    for param in spec.params:
        original = given.get(param.name)
        if param.case_insensitive and param.name in checked and isinstance(original, str):
            checked[param.name] = original
    return checked


def _gateway_action(
    command: str, target_id: object, params: Mapping[str, Any] | None
) -> dict[str, JsonValue]:
    if command not in GATEWAY_COMMANDS:
        raise _invalid(f"a gateway action is one of {', '.join(GATEWAY_COMMANDS)}")
    result: dict[str, JsonValue] = {"target": "gateway", "command": command}
    if target_id is not None:
        result["target_id"] = normalize_gateway(str(target_id))
    if command == "sendWebhook" and not _is_web_url((params or {}).get("url")):
        raise _invalid("sendWebhook needs params.url, an http(s) URL")
    if params:
        checked = command_free_form(params)
        result["params"] = checked
    return result


def _is_web_url(url: object) -> bool:
    """An absolute http(s) URL; urlsplit raises ValueError on some (`http://[x`)."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def command_free_form(params: Mapping[str, Any]) -> dict[str, JsonValue]:
    """Parameters passed on unchecked, as long as they are plain, finite JSON."""
    return {str(key): plain_json(value, str(key)) for key, value in params.items()}


def validate_trigger(
    value: Trigger | Mapping[str, Any], *, partial: bool = False
) -> dict[str, JsonValue]:
    """The trigger attributes to send: checked, read-only attributes dropped.

    `partial` is for a modify request, which may carry only the attributes that change.
    """
    if isinstance(value, Trigger):
        value = value.writable_json()
    if not isinstance(value, Mapping):
        raise _invalid("a trigger is a JSON object")
    if "trigger" in value and isinstance(value["trigger"], Mapping) and len(value) == 1:
        value = value["trigger"]  # the request envelope, as printed by `triggers get`
    unknown = sorted(set(value) - set(WRITABLE_ATTRIBUTES) - set(READ_ONLY_ATTRIBUTES))
    if unknown:
        raise _invalid(f"there is no attribute {unknown[0]}")
    result: dict[str, JsonValue] = {}
    required = () if partial else ("trigger_name", "conditions", "actions")
    for name in required:
        if name not in value:
            raise _invalid(f"{name} is required")
    if "trigger_name" in value:
        name_value = value["trigger_name"]
        if not isinstance(name_value, str) or not name_value.strip():
            raise _invalid("trigger_name is a non-empty string")
        if len(name_value) > MAX_NAME or not name_value.isprintable():
            raise _invalid(f"trigger_name is at most {MAX_NAME} printable characters")
        result["trigger_name"] = name_value
    for name, check in (("conditions", validate_condition), ("actions", validate_action)):
        if name in value:
            items = value[name]
            if not isinstance(items, list) or not items:
                raise _invalid(f"{name} is a non-empty list")
            result[name] = [check(item) for item in items]
    if "enabled" in value:
        if not isinstance(value["enabled"], bool):
            raise _invalid("enabled is true or false")
        result["enabled"] = value["enabled"]
    if "extras" in value:
        if not isinstance(value["extras"], Mapping):
            raise _invalid("extras is an object")
        result["extras"] = command_free_form(value["extras"])
    if partial and not result:
        raise _invalid("nothing to change")
    return result


# Client -----------------------------------------------------------------------------------


class TriggerClient:
    """The Trigger API (`/api/trigger`) with a bearer token and an account or gateway key."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token: str,
        key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self._session = session
        self._token = check_token(token)
        self._key = check_token(key, "gateway or account key")
        self._api_url = validate_api_url(api_url)
        self._timeout = request_timeout

    async def list(self, gateway: str) -> list[Trigger]:
        """Every trigger of one gateway (lookup by gateway)."""
        data = await self._call("GET", {"gateway": normalize_gateway(gateway)}, None)
        return parse_triggers(data)

    async def get(self, trigger_uuid: str) -> Trigger:
        """One trigger by uuid; TriggerNotFoundError when there is none."""
        data = await self._call("GET", {"trigger": check_trigger_uuid(trigger_uuid)}, None)
        found = parse_triggers(data)
        if len(found) != 1:
            msg = f"trigger {trigger_uuid} not found"
            raise TriggerNotFoundError(msg, status=200)
        return found[0]

    async def create(self, gateway: str, trigger: Trigger | Mapping[str, Any]) -> Trigger:
        """Create a trigger on a gateway; the answer carries its uuid and time stamps."""
        mac = normalize_gateway(gateway)
        body = {"trigger": validate_trigger(trigger)}
        return self._single(await self._call("POST", {"gateway": mac}, body))

    async def update(self, trigger_uuid: str, changes: Trigger | Mapping[str, Any]) -> Trigger:
        """Modify a trigger: only the given writable attributes change."""
        checked_uuid = check_trigger_uuid(trigger_uuid)
        attributes = validate_trigger(changes, partial=True)
        body = {"trigger": {**attributes, "trigger_uuid": checked_uuid}}
        return self._single(await self._call("PUT", {}, body))

    async def delete(self, trigger_uuid: str) -> dict[str, JsonValue]:
        """Delete a trigger; returns the API's answer (an object, possibly empty)."""
        body = {"trigger_uuid": check_trigger_uuid(trigger_uuid)}
        data = await self._call("DELETE", {}, body)
        return data if isinstance(data, dict) else {}

    async def may_write(self, gateway: str) -> bool | None:
        """Whether the token is READ/WRITE, found without changing anything; None: unknown.

        An empty trigger is created on the key's own gateway. READ permission "allows only GET
        requests" (seed 001), so a READ token is refused with 403 whatever the body; a
        READ/WRITE one gets past the permission and its empty trigger is refused as invalid
        (400), so nothing is created. Unlike deleting a made-up trigger, the object is the
        account's own: an OWNER token cannot be refused for ownership and be taken for a READ
        one. MeterAuthError when the API does not know the token.
        """
        mac = normalize_gateway(gateway)
        try:
            await self._call("POST", {"gateway": mac}, {"trigger": {}})
        except MeterPermissionError:
            return False
        except MeterApiError as err:
            return True if err.status == 400 else None
        except MeterConnectionError, MeterTimeoutError, MeterFrameError, MeterRateLimitError:
            return None
        return None  # created?! an API that accepts an empty trigger tells nothing

    @staticmethod
    def _single(data: JsonValue) -> Trigger:
        found = parse_triggers(data)
        if len(found) != 1:
            msg = "the API answered with no trigger"
            raise _frame(msg)
        return found[0]

    async def _call(
        self, method: str, query: Mapping[str, str], body: Mapping[str, Any] | None
    ) -> JsonValue:
        answer = await request_json(
            self._session,
            method,
            f"{self._api_url}/api/trigger",
            {"key": self._key, **query},
            body,
            token=self._token,
            secrets_=(self._key,),
            request_timeout=self._timeout,
        )
        status, raw = answer.status, answer.body
        error = error_for_status(status, raw, retry_after=answer.retry_after, now=time.time())
        if status == 404:
            raise TriggerNotFoundError(str(error), status=404)
        if error is not None:
            raise error
        if not raw.strip():
            return {}
        return _plain(_decode(raw))
