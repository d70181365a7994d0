"""Library errors as Home Assistant errors: one table shape, one place that raises them.

The device library raises only `MeterError` subclasses (`meters/errors.py`), whatever the
transport. Each family says once, in an `ErrorTable`, what every library error means where it
happened: which translation key, which Home Assistant error (bad input is the caller's to fix:
`ServiceValidationError`; a refused key or password during a poll: `ConfigEntryAuthFailed`,
which starts a reauth; anything else during a poll: `UpdateFailed`), and whether a refused
password in an action starts a reauth. Rules are tried in order, so a subclass goes before its
base. `update_errors` wraps a coordinator's update, `translate_errors` an entity's or an
action's call (the peblar/reolink shape), and `form_error` does the same for config-flow forms.

Messages come from the library, which never puts keys, tokens, PINs or passwords in them; a
family that holds secrets passes its `redact` all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, Concatenate, Protocol

from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.update_coordinator import UpdateFailed

from .const import DOMAIN, LOGGER
from .flow_helpers import FormError
from .meters.errors import MeterAuthError, MeterError


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """What one library error class means in one place."""

    error: type[MeterError]
    key: str
    raises: type[HomeAssistantError] = HomeAssistantError
    # Whether the message gets the library's text as {error}.
    with_error: bool = True
    # Extra placeholders taken from the error itself (a message id, the device's answer).
    details: Callable[[Any], Mapping[str, str]] | None = None
    # The entry's credentials were refused during an action: ask the user again.
    reauth: bool = False


type ErrorTable = tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Reauth:
    """How to start a reauth for an action's entry (`data` tells the flow what was refused)."""

    start: Callable[[dict[str, Any] | None], None]
    data: dict[str, Any] | None = None


def translated(
    err: MeterError,
    table: ErrorTable,
    placeholders: Mapping[str, str],
    *,
    redact: Callable[[str], str] = str,
    reauth: Reauth | None = None,
) -> HomeAssistantError:
    """The Home Assistant error `err` stands for under `table` (its first matching rule)."""
    rule = next((rule for rule in table if isinstance(err, rule.error)), None)
    if rule is None:  # pragma: no cover - every table ends with MeterError
        msg = f"no rule for {type(err).__name__}"
        raise TypeError(msg) from err
    values = dict(placeholders)
    if rule.with_error:
        values["error"] = redact(str(err))
    if rule.details is not None:
        values |= {key: redact(value) for key, value in rule.details(err).items()}
    if rule.reauth and reauth is not None:
        reauth.start(reauth.data)
    return rule.raises(
        translation_domain=DOMAIN, translation_key=rule.key, translation_placeholders=values
    )


@contextmanager
def translate_errors(
    table: ErrorTable,
    placeholders: Mapping[str, str],
    *,
    redact: Callable[[str], str] = str,
    reauth: Reauth | None = None,
) -> Iterator[None]:
    """Run a library call of an entity or action; its errors leave as translated HA errors."""
    try:
        yield
    except MeterError as err:
        raise translated(err, table, placeholders, redact=redact, reauth=reauth) from err


def poll_errors(*, refused: str, unavailable: str) -> ErrorTable:
    """A coordinator's table: credentials refused -> reauth; any other failure -> retry later."""
    return (
        Rule(error=MeterAuthError, key=refused, raises=ConfigEntryAuthFailed, with_error=False),
        Rule(error=MeterError, key=unavailable, raises=UpdateFailed),
    )


class ExplainsErrors(Protocol):
    """A coordinator that names itself in its error messages."""

    def error_placeholders(self) -> dict[str, str]:
        """Placeholders every message of this coordinator has (its name, its device)."""
        ...


type Method[SelfT, **P, T] = Callable[Concatenate[SelfT, P], Coroutine[Any, Any, T]]


def update_errors[SelfT: ExplainsErrors, **P, T](
    table: ErrorTable,
) -> Callable[[Method[SelfT, P, T]], Method[SelfT, P, T]]:
    """Decorate a coordinator's `_async_update_data`: library errors become `table`'s errors."""

    def decorator(func: Method[SelfT, P, T]) -> Method[SelfT, P, T]:
        @wraps(func)
        async def wrapper(self: SelfT, /, *args: P.args, **kwargs: P.kwargs) -> T:
            with translate_errors(table, self.error_placeholders()):
                return await func(self, *args, **kwargs)

        return wrapper

    return decorator


@dataclass(frozen=True, slots=True, kw_only=True)
class FormRule:
    """What one library error class means on a config-flow form: a field and an error key."""

    error: type[MeterError]
    field: str
    reason: str
    # Whether the form's placeholders (a meter's address) say what the error is about.
    with_placeholders: bool = True


def form_error(
    err: Exception,
    rules: tuple[FormRule, ...],
    what: str,
    placeholders: Mapping[str, str] | None = None,
) -> FormError:
    """The form error `err` stands for; an unexpected one is logged and shown as "unknown"."""
    for rule in rules:
        if isinstance(err, rule.error):
            return FormError(
                rule.field, rule.reason, placeholders if rule.with_placeholders else None
            )
    LOGGER.exception("Unexpected error while %s", what)
    return FormError("base", "unknown")
