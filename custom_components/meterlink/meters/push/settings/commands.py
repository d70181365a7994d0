"""Parameter schemas of every Device Settings API command, so bad input never leaves the host.

The table follows the vendor document (seed 000, "Meter Commands" and "IOStack Commands"):
command names, parameter names and JSON types are the document's. Ranges come from what the
meter itself accepts (ekm.md §1.11, the same constants the RS-485 path uses), so a value the
meter would refuse is refused here before a request is made. The table is data, not code, so
the Home Assistant layer can build service schemas and selectors from it (`ParamSpec.kind`,
`choices`, `minimum`/`maximum`, `required`, `secret`).

Where the document names a command but lists no parameters, it either takes none (GetStatus,
GetSchedules, ...) or the parameters are undocumented (SetSchedule, SetHolidayDates): those are
marked `free_form` and accept any JSON object, unchecked, because guessing names would refuse
valid input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ...ekm.commands import (
    CT_RATIOS,
    LCD_ITEM_CODES,
    MAX_RELAY_SECONDS,
    PULSE_OUTPUT_RATIOS,
)
from ...ekm.reading import DEMAND_PERIOD_MINUTES
from ...errors import InvalidParameterError
from ...json import JsonValue, plain

METER_PASSWORD = "meter_password"  # the parameter name of every meter write
RELAYS = ("Relay_1", "Relay_2")
RELAY_STATES = ("open", "close")
MAX_LCD_ITEMS = 40
IOSTACK_PINS = (1, 4)  # the ioStack has four digital inputs and four outputs (ekm.md §2.6)


class Target(StrEnum):
    """The device type a command goes to (`target` in the request)."""

    METER = "meter"
    IOSTACK = "iostack"


class ParamKind(StrEnum):
    """The JSON type of a parameter, as the vendor document states it."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    LIST = "list"


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter: JSON type, allowed values and whether it may be left out.

    `choices` lists every allowed value (a select in a UI); otherwise `minimum`/`maximum` bound
    integers (and list items when `kind` is LIST) and `pattern` is a full-match regex for
    strings. `secret` marks passwords, which are never logged or echoed in errors.
    """

    name: str
    kind: ParamKind
    description: str
    required: bool = True
    choices: tuple[str | int, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    secret: bool = False
    case_insensitive: bool = False  # string choices compared case-insensitively

    def check(self, value: object) -> JsonValue:
        """The value as it will be sent, or InvalidParameterError naming what is wrong."""
        match self.kind:
            case ParamKind.STRING:
                return self._check_string(value)
            case ParamKind.INTEGER:
                return self._check_int(value, self.name)
            case ParamKind.BOOLEAN:
                if not isinstance(value, bool):
                    raise _invalid(f"{self.name} must be true or false")
                return value
            case ParamKind.LIST:
                if not isinstance(value, list):
                    raise _invalid(f"{self.name} must be a list")
                if self.min_items is not None and len(value) < self.min_items:
                    raise _invalid(f"{self.name} needs at least {self.min_items} items")
                if self.max_items is not None and len(value) > self.max_items:
                    raise _invalid(f"{self.name} holds at most {self.max_items} items")
                return [self._check_int(item, f"each of {self.name}") for item in value]
        raise AssertionError(self.kind)  # pragma: no cover - exhaustive match

    def _check_string(self, value: object) -> str:
        shown = self.name
        if not isinstance(value, str):
            raise _invalid(f"{self.name} must be a string")
        if self.choices is not None:
            for choice in self.choices:
                same = (
                    str(choice).casefold() == value.casefold()
                    if self.case_insensitive
                    else str(choice) == value
                )
                if same:
                    return str(choice)
            allowed = ", ".join(str(choice) for choice in self.choices)
            raise _invalid(f"{shown} must be one of {allowed}")
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise _invalid(f"{self.name} {self.description.split(':')[0]}")
        return value

    def _check_int(self, value: object, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(f"{name} must be a whole number")
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(choice) for choice in self.choices)
            raise _invalid(f"{name} must be one of {allowed}")
        low, high = self.minimum, self.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise _invalid(f"{name} must be from {low} to {high}")
        return value


type CrossCheck = Callable[[Mapping[str, JsonValue]], None]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command of one target: its parameters and a check across them."""

    target: Target
    name: str
    description: str
    params: tuple[ParamSpec, ...] = ()
    free_form: bool = False  # parameters exist but are undocumented: any JSON object passes
    cross_check: CrossCheck | None = field(default=None, compare=False, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The parameters that are passwords (never logged, echoed or taken from logged data)."""
        return tuple(param.name for param in self.params if param.secret)

    def with_meter_password(
        self, params: Mapping[str, object] | None, password: str | None
    ) -> dict[str, object]:
        """`params` plus a stored meter password where the command takes one and none is given.

        Lets a caller keep the password out of data someone else logs (Home Assistant's event
        bus prints action data at debug level) by storing it once instead.
        """
        given = dict(params or {})
        wanted = any(param.name == METER_PASSWORD for param in self.params)
        if wanted and password and given.get(METER_PASSWORD) is None:
            given[METER_PASSWORD] = password
        return given

    def validate(self, params: Mapping[str, object] | None) -> dict[str, JsonValue]:
        """The parameters as they will be sent; refuses unknown, missing or bad ones."""
        given: Mapping[str, object] = {} if params is None else params
        if not isinstance(given, Mapping):
            raise _invalid(f"{self.name} parameters must be a JSON object")
        if self.free_form:
            return {str(key): plain_json(value, str(key)) for key, value in given.items()}
        known = {param.name: param for param in self.params}
        unknown = sorted(str(key) for key in given if key not in known)
        if unknown:
            if not known:
                raise _invalid(f"{self.name} takes no parameters (got {', '.join(unknown)})")
            raise _invalid(
                f"{self.name} has no parameter {', '.join(unknown)} (it takes {', '.join(known)})"
            )
        result: dict[str, JsonValue] = {}
        for param in self.params:
            if param.name not in given or given[param.name] is None:
                if param.required:
                    raise _invalid(f"{self.name} needs {param.name}")
                continue
            result[param.name] = param.check(given[param.name])
        if self.cross_check is not None:
            self.cross_check(result)
        return result


def _invalid(message: str) -> InvalidParameterError:
    return InvalidParameterError(message)


def plain_json(value: object, name: str) -> JsonValue:
    """Check that a free-form value is plain, finite JSON (it is sent as is)."""
    return plain(
        value, max_depth=16, finite=True, error=lambda reason: _invalid(f"{name} {reason}")
    )


# Building blocks -----------------------------------------------------------------------------

_DIGITS8 = r"[0-9]{8}"


def _meter_password(required: bool = False) -> ParamSpec:
    return ParamSpec(
        METER_PASSWORD,
        ParamKind.STRING,
        "is 8 digits: the meter password (default 00000000)",
        required=required,
        pattern=_DIGITS8,
        secret=True,
    )


def _int(name: str, description: str, low: int, high: int, **kwargs: Any) -> ParamSpec:
    return ParamSpec(name, ParamKind.INTEGER, description, minimum=low, maximum=high, **kwargs)


def _digits(name: str, width: int, description: str) -> ParamSpec:
    return ParamSpec(
        name, ParamKind.STRING, f"is {width} digits: {description}", pattern=f"[0-9]{{{width}}}"
    )


def _check_date(params: Mapping[str, JsonValue]) -> None:
    """SetTime: the six strings must name a real moment the meter clock can hold."""
    try:
        when = datetime(
            int(str(params["year"])),
            int(str(params["month"])),
            int(str(params["day"])),
            int(str(params["hour"])),
            int(str(params["minutes"])),
            int(str(params["seconds"])),
        )
    except ValueError:
        msg = "SetTime: year, month, day, hour, minutes, seconds are no valid time"
        raise _invalid(msg) from None
    if not 2000 <= when.year <= 2099:
        raise _invalid("SetTime: the meter clock holds the years 2000 to 2099")


_M = Target.METER
_IO = Target.IOSTACK

_SPECS: tuple[CommandSpec, ...] = (
    CommandSpec(
        _M,
        "SetMeterPassword",
        "change the meter password",
        (
            ParamSpec(
                "new_password",
                ParamKind.STRING,
                "is 8 digits: the new meter password",
                pattern=_DIGITS8,
                secret=True,
            ),
            _meter_password(),
        ),
    ),
    CommandSpec(
        _M,
        "SetCTRatio",
        "set the current-transformer ratio (amps)",
        (
            ParamSpec(
                "ct_ratio",
                ParamKind.STRING,
                "the new CT ratio value",
                choices=tuple(str(ratio) for ratio in CT_RATIOS),
            ),
            _meter_password(),
        ),
    ),
    CommandSpec(
        _M,
        "SetTime",
        "set the meter clock",
        (
            _digits("year", 4, "YYYY"),
            _digits("month", 2, "MM"),
            _digits("day", 2, "DD"),
            _digits("hour", 2, "HH"),
            _digits("minutes", 2, "mm"),
            _digits("seconds", 2, "ss"),
            _meter_password(),
        ),
        cross_check=_check_date,
    ),
    CommandSpec(
        _M,
        "SetMaxDemandResetInterval",
        "automatic max-demand reset: 0 off, 1 monthly, 2 weekly, 3 daily, 4 hourly",
        (
            _int("interval", "0 off, 1 monthly, 2 weekly, 3 daily, 4 hourly", 0, 4),
            _meter_password(),
        ),
    ),
    CommandSpec(_M, "SetMaxDemandResetNow", "reset max demand now", (_meter_password(),)),
    CommandSpec(
        _M,
        "SetMaxDemandPeriod",
        "max-demand averaging period: 1 = 15, 2 = 30, 3 = 60 minutes",
        (
            ParamSpec(
                "max_demand_period",
                ParamKind.INTEGER,
                "1 = 15, 2 = 30, 3 = 60 minutes",
                choices=tuple(DEMAND_PERIOD_MINUTES),  # the codes (ekm.md §1.11, W1 "50")
            ),
            _meter_password(),
        ),
    ),
    CommandSpec(
        _M,
        "SetLCD",
        "choose the items the meter display cycles through",
        (
            ParamSpec(
                "display_fields",
                ParamKind.LIST,
                "EKM LCD item codes",
                minimum=LCD_ITEM_CODES.start,
                maximum=LCD_ITEM_CODES.stop - 1,
                min_items=1,
                max_items=MAX_LCD_ITEMS,
            ),
            _meter_password(),
        ),
    ),
    CommandSpec(
        _M,
        "SetPulseInputRatio",
        "set a pulse input's ratio",
        (
            _int("pulse_line", "pulse input 1 to 3", 1, 3),
            _int("pulse_input_ratio", "pulses per unit", 1, 9999),
            _meter_password(),
        ),
    ),
    CommandSpec(
        _M,
        "SetPulseOutputRatio",
        "set the pulse output constant (impulses per kWh)",
        (
            _int("pulse_line", "pulse line 1 to 3", 1, 3),
            ParamSpec(
                "pulse_output_ratio",
                ParamKind.INTEGER,
                "impulses per kWh",
                choices=PULSE_OUTPUT_RATIOS,
            ),
            _meter_password(),
        ),
    ),
    CommandSpec(
        _M, "SetZeroResettableKWH", "zero the resettable kWh registers", (_meter_password(),)
    ),
    CommandSpec(
        _M,
        "SetRelay",
        "open or close a relay, for a time or held (duration 0)",
        (
            ParamSpec(
                "relay", ParamKind.STRING, "relay name", choices=RELAYS, case_insensitive=True
            ),
            ParamSpec(
                "status",
                ParamKind.STRING,
                "open or close",
                choices=RELAY_STATES,
                case_insensitive=True,
            ),
            _int("duration", "seconds; 0 holds indefinitely", 0, MAX_RELAY_SECONDS),
            _meter_password(),
        ),
    ),
    CommandSpec(_M, "SetHolidayDates", "set the holiday dates (parameters undocumented)", (), True),
    CommandSpec(_M, "SetSchedule", "set a tariff schedule (parameters undocumented)", (), True),
    CommandSpec(
        _M,
        "SetWeekendHolidaySchedules",
        "choose the schedules used on weekends and holidays",
        (
            _int("weekend_schedule", "schedule 1 to 6", 1, 6),
            _int("holiday_schedule", "schedule 1 to 6", 1, 6),
            _meter_password(),
        ),
    ),
    CommandSpec(_M, "GetSchedules", "read the tariff schedules"),
    CommandSpec(_M, "GetTariffData", "read the tariff registers"),
    CommandSpec(
        _IO,
        "SetPassword",
        "change the ioStack password",
        (
            ParamSpec(
                "new_password",
                ParamKind.STRING,
                "is 1 to 32 printable characters: the new password",
                pattern=r"[!-~]{1,32}",
                secret=True,
            ),
            ParamSpec(
                "password",
                ParamKind.STRING,
                "is 1 to 32 printable characters: the current password",
                pattern=r"[!-~]{1,32}",
                secret=True,
            ),
        ),
    ),
    CommandSpec(_IO, "ScanOneWire", "scan the 1-wire bus for devices"),
    CommandSpec(_IO, "GetStatus", "read the ioStack status"),
    CommandSpec(_IO, "SetDateTime", "set the ioStack clock"),
    CommandSpec(
        _IO,
        "ResetDICount",
        "reset a digital input's pulse count",
        (_int("pin", "digital input pin", *IOSTACK_PINS),),
    ),
    CommandSpec(
        _IO,
        "SetDOLevel",
        "set a digital output",
        (
            _int("pin", "digital output pin", *IOSTACK_PINS),
            ParamSpec("level", ParamKind.INTEGER, "0 or 1", choices=(0, 1)),
            ParamSpec("clear_watch", ParamKind.BOOLEAN, "clear the watch", required=False),
            ParamSpec(
                "password",
                ParamKind.STRING,
                "is 1 to 32 printable characters: the ioStack password",
                required=False,
                pattern=r"[!-~]{1,32}",
                secret=True,
            ),
        ),
    ),
)

COMMANDS: Mapping[tuple[Target, str], CommandSpec] = {
    (spec.target, spec.name): spec for spec in _SPECS
}
"""Every documented command, by (target, name as the vendor document spells it)."""

_BY_FOLDED = {(spec.target, spec.name.casefold()): spec for spec in _SPECS}


def command_spec(target: Target | str, command: str) -> CommandSpec:
    """The schema of one command; names match case-insensitively ("setRelay" in triggers)."""
    try:
        kind = Target(target)
    except ValueError:
        allowed = ", ".join(member.value for member in Target)
        raise _invalid(f"target must be one of {allowed}") from None
    if not isinstance(command, str) or (spec := _BY_FOLDED.get((kind, command.casefold()))) is None:
        names = ", ".join(spec.name for spec in _SPECS if spec.target is kind)
        raise _invalid(f"{kind.value} has no command {command!r} (known: {names})")
    return spec


def validate_command(
    target: Target | str, command: str, params: Mapping[str, object] | None
) -> tuple[CommandSpec, dict[str, JsonValue]]:
    """The command's schema and its parameters as they will be sent, or InvalidParameterError."""
    spec = command_spec(target, command)
    return spec, spec.validate(params)


def check_target_id(target: Target | str, target_id: object) -> str:
    """A meter address is 12 digits; an ioStack id is a non-empty token without spaces."""
    kind = Target(target)
    if not isinstance(target_id, str):
        raise _invalid("target_id must be a string")
    if kind is Target.METER:
        if re.fullmatch(r"[0-9]{12}", target_id) is None:
            raise _invalid("a meter target_id is its 12-digit address")
    elif re.fullmatch(r"[!-~]{1,64}", target_id) is None:
        raise _invalid("an ioStack target_id is 1 to 64 printable characters")
    return target_id


_MAC = re.compile(r"[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}")


def normalize_gateway(mac: str) -> str:
    """A Push3 gateway MAC as the API writes it: 12 lower-case hex digits."""
    if not isinstance(mac, str) or _MAC.fullmatch(mac.strip()) is None:
        msg = "the gateway is its MAC address: 12 hex digits (e.g. 4016fa0500cd)"
        raise InvalidParameterError(msg)
    return re.sub(r"[:-]", "", mac.strip()).lower()
