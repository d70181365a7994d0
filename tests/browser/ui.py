"""What the browser tests do in Home Assistant's frontend, in the user's words.

Home Assistant's UI is web components all the way down; Playwright's locators pierce open
shadow roots, so the tests find things by role, label and text as a user would. Every wait is on
an element or a URL (Playwright's auto-waiting), never a sleep. Each step saves a screenshot
under the test's own results folder and checks that no raw translation key is on screen.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from .instance import ROOT, Instance

# The text of a node and of every shadow root below it, one line per text node: what the user
# can read (innerText stops at shadow roots). Scripts and styles are not text anyone reads.
DEEP_TEXT = """(root) => {
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.textContent.trim();
      if (text) out.push(text);
      return;
    }
    if (node.nodeName === 'SCRIPT' || node.nodeName === 'STYLE') return;
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(root || document.body);
  return out.join('\\n');
}"""


def _translation_keys() -> frozenset[str]:
    """Every error and abort key MeterLink's flows can show: on screen they mean "no text"."""
    strings = json.loads(
        (ROOT / "custom_components" / "meterlink" / "translations" / "en.json").read_text("utf-8")
    )
    keys: set[str] = set()
    sections = [strings.get("config", {}), strings.get("options", {})]
    sections += strings.get("config_subentries", {}).values()
    for section in sections:
        for kind in ("error", "abort"):
            keys.update(key for key in section.get(kind, {}) if "_" in key)
    return frozenset(keys)


RAW_TEXT = re.compile(
    r"component\.meterlink\.|\[%key:|\bmeterlink\.(?:config|options|entity|exceptions|issues)\."
    r"|\bui\.(?:panel|dialogs|components)\."
)
TRANSLATION_KEYS = _translation_keys()


def raw_text(text: str) -> list[str]:
    """Lines of `text` that show a translation key instead of a translation."""
    return [
        line
        for line in text.splitlines()
        if RAW_TEXT.search(line) or line.strip() in TRANSLATION_KEYS
    ]


def label(text: str) -> re.Pattern[str]:
    """A field's accessible name: Home Assistant appends `*` to required fields."""
    return re.compile(rf"^{re.escape(text)}\s*\*?$")


@dataclass
class Ui:
    """One test's page, its screenshots and the instance it talks to."""

    page: Page
    instance: Instance
    shots: Path
    steps: list[str] = field(default_factory=list)

    # --- seeing ---------------------------------------------------------------------------

    def text(self, locator: Locator | None = None) -> str:
        """What the user can read on the page (or in one element), shadow roots included."""
        if locator is None:
            return str(self.page.evaluate(DEEP_TEXT))
        return str(locator.evaluate(DEEP_TEXT))

    def wait_for_text(self, pattern: str, timeout: float = 30_000) -> None:
        """Wait until the page's text (whitespace collapsed) matches a regular expression.

        `pattern` must mean the same in Python and JavaScript (plain classes and escapes).
        """
        script = f"(pattern) => new RegExp(pattern).test(({DEEP_TEXT})(document.body)"
        script += ".split(/\\s+/).join(' '))"
        self.page.wait_for_function(script, arg=pattern, timeout=timeout)

    def flat_text(self) -> str:
        """The page's text with whitespace collapsed, for regular expressions over it."""
        return " ".join(self.text().split())

    def shot(self, step: str) -> None:
        """Save a screenshot of this step and fail if a raw translation key is visible."""
        self.steps.append(step)
        self.shots.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        self.page.screenshot(path=self.shots / f"{len(self.steps):02d}-{name}.png", full_page=True)
        raw = raw_text(self.text())
        assert not raw, f"{step}: raw translation keys on screen: {raw}"

    def goto(self, path: str) -> None:
        """Open a page of the frontend (the app is already loaded and logged in)."""
        self.page.goto(f"{self.instance.url}{path}")

    # --- the add-integration dialog -------------------------------------------------------

    @property
    def dialog(self) -> Locator:
        """The config flow dialog."""
        return self.page.locator("dialog-data-entry-flow")

    def start_flow(self) -> None:
        """Integrations → add MeterLink, as the my.home-assistant.io link does."""
        self.goto("/config/integrations/dashboard/add?domain=meterlink")
        self.page.get_by_role("button", name="OK").click()
        expect(self.dialog.get_by_text("How are your meters connected?")).to_be_visible()

    def choose(self, option: str) -> None:
        """Pick a menu option by its visible text."""
        self.dialog.get_by_text(option, exact=False).first.click()

    def fill(self, field_label: str, value: str) -> None:
        """Type into the text field with this label (replacing what is there)."""
        self.dialog.get_by_role("textbox", name=label(field_label)).fill(value)

    def field_value(self, field_label: str) -> str:
        """What a text field holds now."""
        return self.dialog.get_by_role("textbox", name=label(field_label)).input_value()

    def type_bridge_url(self, value: str) -> None:
        """Type a network bridge URL into its own field (beside the adapter picker)."""
        self.fill("Network bridge URL", value)

    def submit(self) -> None:
        """Press Submit; the caller waits for what should come next (a step, an error)."""
        self.dialog.get_by_role("button", name="Submit").click()

    def alert(self) -> Locator:
        """The error banner at the top of the form."""
        return self.dialog.locator("ha-alert[alert-type=error]")

    def error_text(self) -> str:
        """The form's error banner text (waits for it)."""
        expect(self.alert().first).to_be_visible()
        return self.text(self.alert().first)

    def outcome(self) -> str:
        """After a submit: the text of the error banner or of the abort, whichever came."""
        ended = self.dialog.locator("step-flow-abort")
        expect(self.alert().or_(ended).first).to_be_visible()
        return self.text(self.alert().first if self.alert().count() else ended)

    def form_is_open(self) -> bool:
        """The form is still there to correct (its Submit button)."""
        return self.dialog.get_by_role("button", name="Submit").count() > 0

    def expect_created(self) -> list[str]:
        """The flow created an entry: the "Name and assign" step lists its new devices."""
        expect(self.dialog.get_by_text("Name and assign")).to_be_visible()
        boxes = self.dialog.get_by_role("textbox", name="Device name")
        expect(boxes.first).to_be_visible()
        return [box.input_value() for box in boxes.all()]

    def finish(self) -> None:
        """Close the "Name and assign" step, keeping the names MeterLink gave."""
        self.dialog.get_by_role("button", name=re.compile("finish", re.IGNORECASE)).click()
        expect(self.dialog.get_by_text("Name and assign")).to_have_count(0)

    # --- developer tools: actions ----------------------------------------------------------

    def pick_action(self, action: str) -> None:
        """Developer tools → Actions → choose `action` in the action picker."""
        self.goto("/config/tools/action")
        self.page.locator("ha-service-picker ha-picker-field").click()
        self.page.get_by_placeholder("Search").last.fill(action)
        self.page.get_by_text(action, exact=True).first.click()
        expect(self.page.locator("ha-selector-device").first).to_be_visible()

    def device_choices(self) -> list[str]:
        """Open the action's device picker; the device names it offers."""
        self.page.locator("ha-selector-device ha-picker-field").first.click()
        popup = self.page.get_by_role("dialog", name="Select option").last
        expect(popup.get_by_role("listitem").first).to_be_visible()
        names = []
        for line in popup.aria_snapshot().splitlines():
            item = re.match(r"\s*- listitem: (.*)$", line)
            if item:
                names.append(item.group(1).strip().strip('"').removesuffix(" MeterLink"))
        return names

    # --- registries -----------------------------------------------------------------------

    def devices(self, entry_title: str = "") -> list[dict[str, Any]]:
        """MeterLink's devices from the device registry (of entries whose title starts so)."""
        entries = {
            entry["entry_id"]
            for entry in self.instance.meterlink_entries()
            if entry["title"].startswith(entry_title)
        }
        return [
            device
            for device in self.instance.websocket({"type": "config/device_registry/list"})
            if entries & set(device["config_entries"])
        ]
