"""Library errors of the Device Settings and Trigger APIs as translated Home Assistant errors.

Bad input (a parameter the schema refuses, an unknown trigger) is the caller's to fix and
becomes ServiceValidationError; the API or the device failing becomes HomeAssistantError.
Messages come from the library, which never puts keys or tokens in them; they are redacted
once more all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN
from .meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterError,
    MeterPermissionError,
    MeterRateLimitError,
)
from .meters.push.device_api import AnswerTimeoutError, CommandFailedError
from .meters.push.triggers import TriggerNotFoundError
from .push.settings import TokenAccess


def invalid(error: str) -> ServiceValidationError:
    """Input the schemas refuse, with the library's text (it names the parameter)."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="device_api_invalid_parameter",
        translation_placeholders={"error": error},
    )


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


def raise_translated(
    err: MeterError, *, title: str, what: str, redact: Callable[[str], str] = str
) -> NoReturn:
    """Raise the Home Assistant error a library error stands for.

    `what` names the attempted operation ("SetRelay on meter 000300001001") for the message;
    `redact` removes the entry's secrets from any text that goes into it.
    """
    placeholders = {"entry": title, "what": what, "error": redact(str(err))}
    if isinstance(err, InvalidParameterError):
        raise invalid(redact(str(err))) from err
    if isinstance(err, TriggerNotFoundError):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="device_api_trigger_not_found",
            translation_placeholders=placeholders,
        ) from err
    if isinstance(err, AnswerTimeoutError):
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="device_api_answer_timeout",
            translation_placeholders={**placeholders, "msg_id": err.msg_id},
        ) from err
    key = "device_api_error"
    if isinstance(err, CommandFailedError):
        key = "device_api_command_failed"
        placeholders["error"] = redact(err.answer.error or "no reason given")
    elif isinstance(err, MeterPermissionError):
        key = "device_api_not_permitted"
    elif isinstance(err, MeterAuthError):
        key = "device_api_token_rejected"
    elif isinstance(err, MeterRateLimitError):
        key = "device_api_rate_limited"
    raise HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    ) from err
