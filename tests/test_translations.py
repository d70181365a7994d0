"""Every name, state, action and error the user can see has English text and an icon entry."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from custom_components.meterlink.egauge import descriptions as egauge
from custom_components.meterlink.ekm import descriptions as ekm
from custom_components.meterlink.push import descriptions as iostack
from custom_components.meterlink.push import descriptions as push
from custom_components.meterlink.smartmac import descriptions as smartmac

ROOT = Path(__file__).parent.parent / "custom_components" / "meterlink"
TRANSLATIONS = json.loads((ROOT / "translations" / "en.json").read_text())
ICONS = json.loads((ROOT / "icons.json").read_text())
SERVICES = yaml.safe_load((ROOT / "services.yaml").read_text())

PLATFORMS: dict[str, tuple[Any, ...]] = {
    "sensor": (
        *ekm.SENSORS,
        *iostack.SENSORS,
        iostack.generic_sensor("Any_Field"),
        push.LAST_READING,
        push.GATEWAY_LAST_POLL,
    ),
    "binary_sensor": (
        *ekm.BINARY_SENSORS,
        *iostack.BINARY_SENSORS,
        push.REPORTING,
        push.GATEWAY_CONNECTED,
    ),
    "switch": ekm.SWITCHES,
    "select": ekm.SELECTS,
    "number": ekm.NUMBERS,
    "button": ekm.BUTTONS,
}
# Entities outside the EKM table: EKM Push ioStack outputs and gateway triggers (push.switches),
# and the MQTT stream's state (push.streaming).
OWN_KEYS: dict[str, set[str]] = {
    "switch": {"iostack_output", "push_trigger"},
    "binary_sensor": {"streaming"},
    "sensor": {"history_import"},
}


# Other data families' tables; a translation key may be shared by families (same meaning).
FAMILY_TABLES: dict[str, tuple[tuple[Any, ...], ...]] = {
    "sensor": ((*smartmac.SENSORS, smartmac.RAW_SENSOR), egauge.SENSOR_EXAMPLES),
    "button": (egauge.BUTTONS,),
    "switch": (smartmac.SWITCHES,),
}


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_every_entity_has_a_name(platform: str) -> None:
    names = TRANSLATIONS["entity"][platform]
    keys = [description.translation_key for description in PLATFORMS[platform]]
    assert None not in keys
    assert len(set(keys)) == len(keys)
    every_key = set(keys)
    for table in FAMILY_TABLES.get(platform, ()):
        family_keys = [description.translation_key for description in table]
        assert None not in family_keys
        assert len(set(family_keys)) == len(family_keys)
        every_key |= set(family_keys)
    keys = sorted(every_key)
    assert set(keys) | OWN_KEYS.get(platform, set()) == set(names)
    for key in keys:
        assert names[key]["name"]
        assert "[%key:" not in json.dumps(names[key])  # custom integrations get no references
    assert set(ICONS["entity"].get(platform, {})) <= set(keys) | OWN_KEYS.get(platform, set())


def test_every_select_option_is_labelled() -> None:
    for description in ekm.SELECTS:
        states = TRANSLATIONS["entity"]["select"][description.translation_key]["state"]
        assert set(description.options) == set(states)


def test_every_raised_error_has_a_message() -> None:
    messages = TRANSLATIONS["exceptions"]
    raised: set[str] = set()
    for module in ROOT.rglob("*.py"):
        if "meters" in module.relative_to(ROOT).parts or module.name == "descriptions.py":
            continue  # the library raises no Home Assistant error; tables name entities
        text = module.read_text()
        raised |= set(re.findall(r'translation_key="([a-z_]+)"', text))
        # errors.py tables: Rule(error=..., key="...") is raised with that translation key.
        raised |= set(re.findall(r'Rule\(\s*error=\w+,\s*key="([a-z_]+)"', text))
        raised |= set(re.findall(r'(?:refused|unavailable)="([a-z_]+)"', text))  # poll_errors
    assert {"push_key_refused", "invalid_password", "device_api_answer_timeout"} <= raised
    assert raised <= set(messages)
    for key in raised:
        placeholders = set(re.findall(r"{(\w+)}", messages[key]["message"]))
        assert placeholders, key  # every message names what it is about


def test_every_action_is_described() -> None:
    described = TRANSLATIONS["services"]
    assert set(SERVICES) == set(described) == set(ICONS["services"])
    for service, spec in SERVICES.items():
        assert described[service]["name"]
        assert described[service]["description"]
        assert set(spec["fields"]) == set(described[service]["fields"])
