"""What every family's config and options flow shares: one form error, the selectors, one check.

A check of user input raises `FormError` (the field to mark, the error key, placeholders), and
the step puts it on its form; library errors become form errors through `errors.form_error`.
Secrets (keys, tokens, PINs, meter passwords) are typed into `SECRET_SELECTOR`, never sent back
to the browser and never part of an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .const import MAX_SCAN_INTERVAL

SECRET_SELECTOR: Final = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off")
)

# EKM meters take an 8-digit password; a malformed login would only leave the meter silent.
_METER_PASSWORD: Final = re.compile(r"\d{8}")


class FormError(Exception):
    """A check of user input failed: the form field to mark, its error key, its placeholders.

    Never carries a key, token, PIN or password: only which field is wrong and why.
    """

    def __init__(
        self, field: str, reason: str, placeholders: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.placeholders = dict(placeholders or {})

    def apply(
        self,
        errors: dict[str, str],
        placeholders: dict[str, str],
        fields: Mapping[str, str] | None = None,
    ) -> None:
        """Mark the form's field; with `fields`, through the step's own names (else "base")."""
        field = self.field if fields is None else fields.get(self.field, "base")
        errors[field] = self.reason
        placeholders.update(self.placeholders)


def interval_selector(minimum: float, maximum: float = MAX_SCAN_INTERVAL) -> NumberSelector:
    """Seconds between polls, typed as a whole number within what the device allows."""
    return NumberSelector(
        NumberSelectorConfig(
            min=minimum, max=maximum, step=1, unit_of_measurement="s", mode=NumberSelectorMode.BOX
        )
    )


def is_meter_password(text: str) -> bool:
    """Whether `text` has the shape of an EKM meter password (8 digits)."""
    return _METER_PASSWORD.fullmatch(text) is not None
