"""Set up a running development Home Assistant with MeterLink the way a user would.

``scripts/develop --demo`` starts Home Assistant next to the device simulators and runs this
program. It talks to Home Assistant only through its public HTTP API, so it exercises the same
code paths as a person clicking through the UI:

1. finish onboarding with a documented demo account (user ``demo``, password
   ``demo-meterlink``), or log in with it when onboarding was already done;
2. add one MeterLink config entry per simulated device through the config-flow API, answering
   each step from ``demo_devices()`` (a new connection type is one more entry there);
3. check that the entries loaded, that MeterLink's energy and power sensors report numbers and
   that the EKM Push cloud entry streams over MQTT (its "Streaming" sensor turns on).

``--check`` runs only step 3 (after logging in), for a quick "does it still work" after a code
change and a restart. The long-lived token is kept in ``config/.demo-token`` (ignored by git) so
that ``curl -H "Authorization: Bearer $(cat config/.demo-token)" ...`` works too.

Only aiohttp is used: it ships with Home Assistant, so the demo needs nothing extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
TOKEN_FILE = ROOT / "config" / ".demo-token"
DEFAULT_URL = "http://127.0.0.1:8123"
DOMAIN = "meterlink"

DEMO_NAME = "Demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-meterlink"  # documented in README.md; a throw-away development instance

# Onboarding's location step sets these up on its own; they need packages the development
# instance doesn't install and they talk to the internet, so the demo removes them again.
ONBOARDING_NETWORK_DOMAINS = frozenset({"google_translate", "met", "radio_browser"})

# Abort reasons meaning an earlier run (or the user) already added the device.
ALREADY_CONFIGURED = frozenset({"already_configured", "meter_already_configured"})

# Repairs notices every scripts/develop instance raises by design (see dismiss_development_notices).
DEVELOPMENT_NOTICES = frozenset({("homeassistant", "deprecated_method")})

# A form or menu the demo has to answer takes at most this many round trips.
MAX_FLOW_STEPS = 20

type StepAnswer = str | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DemoDevice:
    """One simulated device and how to answer MeterLink's config flow for it.

    ``steps`` maps a flow step_id to the answer: a string picks that option of a menu step, a
    mapping is submitted as a form. A form the map doesn't name is submitted empty when it has
    no fields (a confirmation step) and is an error otherwise, so a changed flow fails loudly.
    ``title`` is the entry title the flow is expected to create; an entry with that title
    means the device was added by an earlier run.
    """

    title: str
    steps: Mapping[str, StepAnswer]


@dataclass(frozen=True, slots=True)
class DemoEndpoints:
    """Where the simulators listen: scripts/develop's fixed ports unless told otherwise.

    The browser tests start the same simulators on ephemeral ports and pass theirs.
    ``push3_gateway_key`` is the key the Push3 form asks for (the simulator derives it from its
    account key and MAC and prints it); empty means "read it from scripts/develop's log".
    """

    rs485_url: str = "socket://127.0.0.1:8899"
    rs485_meters: tuple[str, ...] = ("000300001001", "000300001002", "000000011766")
    meter_password: str = "00000000"
    smartmac_host: str = "127.0.0.1:8898"
    smartmac_device_id: str = "1728053249"
    smartmac_pin: str = "012345"
    push3_host: str = "127.0.0.1:8896"
    push3_gateway_key: str = ""
    push_cloud_key: str = "MTAxMDoyMDIw"  # the simulated EKM Push account's key
    push_api_token: str = "simulated-read-write-token"
    push_cloud_devices: tuple[str, ...] = ("000300005001", "000000900005")
    push_cloud_title: str = "EKM Push Push3 4016fa0500cd"
    egauge_host: str = "127.0.0.1:8893"
    egauge_username: str = "owner"
    egauge_password: str = "owner-secret"


def demo_devices(endpoints: DemoEndpoints) -> tuple[DemoDevice, ...]:
    """The devices scripts/develop simulates, as config-flow answers (keep the two in step)."""
    return (
        DemoDevice(
            title=f"EKM RS-485 bus ({endpoints.rs485_url})",
            steps={
                "user": "ekm_rs485",
                "ekm_rs485": {
                    "bridge_url": endpoints.rs485_url,
                    "meters": ", ".join(endpoints.rs485_meters),
                    "password": endpoints.meter_password,
                },
            },
        ),
        DemoDevice(
            title=f"smart-MAC D103 {endpoints.smartmac_device_id}",
            steps={
                "user": "smartmac",
                "smartmac": {
                    "host": endpoints.smartmac_host,
                    "device_id": endpoints.smartmac_device_id,
                    "pin": endpoints.smartmac_pin,
                },
            },
        ),
        DemoDevice(
            title=f"Push3 gateway ({endpoints.push3_host})",
            steps={
                "user": "ekm_push3",
                "ekm_push3": {
                    "host": endpoints.push3_host,
                    "api_key": endpoints.push3_gateway_key or simulator_gateway_key(),
                },
            },
        ),
        # The cloud is the ekm-push simulator: scripts/develop sets METERLINK_DEV_PUSH_URL for
        # Home Assistant, which only a development instance reads.
        DemoDevice(
            title=endpoints.push_cloud_title,
            steps={
                "user": "ekm_push",
                "ekm_push": {
                    "api_key": endpoints.push_cloud_key,
                    "api_token": endpoints.push_api_token,
                },
                "ekm_push_devices": {"devices": list(endpoints.push_cloud_devices)},
            },
        ),
        DemoDevice(
            title="eGauge42",
            steps={
                "user": "egauge",
                "egauge": {
                    "host": endpoints.egauge_host,
                    "username": endpoints.egauge_username,
                    "password": endpoints.egauge_password,
                    "ssl": True,  # the simulator's certificate is self-signed
                    "verify_ssl": False,
                },
            },
        ),
    )


class DemoError(Exception):
    """Something the demo cannot continue after; the message says what."""


class HomeAssistantApi:
    """The few REST calls the demo needs, with the bearer token once it has one."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.client_id = f"{self.base_url}/"
        self.token: str | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        auth: bool = True,
        ok: tuple[int, ...] = (200,),
        request_timeout: float | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body (or text) of an expected status."""
        headers = {}
        if auth:
            if self.token is None:
                raise DemoError(f"{method} {path} needs a token and there is none yet")
            headers["Authorization"] = f"Bearer {self.token}"
        async with self.session.request(
            method,
            f"{self.base_url}{path}",
            json=json_body,
            data=form,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=request_timeout) if request_timeout else None,
        ) as response:
            text = await response.text()
            if response.status not in ok:
                raise DemoError(f"{method} {path} answered {response.status}: {text[:500]}")
            if response.content_type == "application/json":
                return json.loads(text)
            return text

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return await self.call("POST", path, json_body=body, **kwargs)

    async def websocket(self, message: Mapping[str, Any]) -> Any:
        """Send one websocket command (registries and repairs have no REST API); its result."""
        async with self.session.ws_connect(f"{self.base_url}/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            if (await ws.receive_json()).get("type") != "auth_ok":
                raise DemoError("the websocket API refused the token")
            await ws.send_json({"id": 1, **message})
            answer = await ws.receive_json()
            if not answer.get("success"):
                raise DemoError(f"{message.get('type')} failed: {answer.get('error')}")
            return answer.get("result")


# --- waiting and logging in -----------------------------------------------------------------


async def wait_for_http(api: HomeAssistantApi, seconds: float) -> list[dict[str, Any]]:
    """Wait until the web server answers; return the onboarding status list.

    /api/onboarding needs no login and answers from the moment the frontend is set up, so it is
    both the "is it up" probe and the answer to "was onboarding done": once onboarding is
    complete Home Assistant no longer registers it (404). While Home Assistant starts, the port
    may accept connections without answering them, hence the short timeout per try.
    """
    deadline = time.monotonic() + seconds
    announced = False
    while True:
        try:
            status = await api.get("/api/onboarding", auth=False, ok=(200, 404), request_timeout=5)
        except (aiohttp.ClientError, DemoError, OSError) as err:
            if time.monotonic() > deadline:
                raise DemoError(f"Home Assistant did not answer on {api.base_url}: {err}") from err
            if not announced:
                print(f"demo: waiting for Home Assistant on {api.base_url} ...", flush=True)
                announced = True
            await asyncio.sleep(1)
        else:
            return status if isinstance(status, list) else []


async def wait_until_running(api: HomeAssistantApi, seconds: float) -> None:
    """Wait for the end of start-up, when config flows and states are all available."""
    deadline = time.monotonic() + seconds
    while True:
        config = await api.get("/api/config")
        if config.get("state") == "RUNNING":
            return
        if time.monotonic() > deadline:
            raise DemoError(f"Home Assistant is still {config.get('state')} after {seconds:.0f}s")
        await asyncio.sleep(1)


async def exchange_code(api: HomeAssistantApi, code: str) -> str:
    """Trade an authorization code for an access token (the OAuth2 step the frontend does)."""
    tokens = await api.call(
        "POST",
        "/auth/token",
        form={"grant_type": "authorization_code", "code": code, "client_id": api.client_id},
        auth=False,
    )
    return str(tokens["access_token"])


async def onboard(api: HomeAssistantApi, status: list[dict[str, Any]]) -> None:
    """Finish whichever onboarding steps are still open, as the onboarding pages do."""
    done = {step["step"] for step in status if step["done"]}
    if "user" not in done:
        print(f"demo: onboarding: creating the user {DEMO_USERNAME!r}", flush=True)
        answer = await api.post(
            "/api/onboarding/users",
            {
                "client_id": api.client_id,
                "name": DEMO_NAME,
                "username": DEMO_USERNAME,
                "password": DEMO_PASSWORD,
                "language": "en",
            },
            auth=False,
        )
        api.token = await exchange_code(api, answer["auth_code"])
    else:
        api.token = await login(api)

    if "core_config" not in done:
        await api.post("/api/onboarding/core_config", {})
        await remove_onboarding_extras(api)
    if "analytics" not in done:
        await api.post("/api/onboarding/analytics", {})
    if "integration" not in done:
        await api.post(
            "/api/onboarding/integration",
            {"client_id": api.client_id, "redirect_uri": f"{api.base_url}/?auth_callback=1"},
        )
    print("demo: onboarding done", flush=True)


async def remove_onboarding_extras(api: HomeAssistantApi) -> None:
    """Delete the internet-bound entries onboarding's location step starts on its own.

    They are started in the background, so look for a few seconds.
    """
    for _ in range(5):
        await asyncio.sleep(1)
        entries = await api.get("/api/config/config_entries/entry")
        for entry in entries:
            if entry["domain"] in ONBOARDING_NETWORK_DOMAINS:
                await api.call("DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}")
                print(
                    f"demo: removed {entry['domain']} (onboarding adds it; it needs the internet)"
                )


async def login(api: HomeAssistantApi) -> str:
    """Log in with the demo account through the login flow the login page uses."""
    flow = await api.post(
        "/auth/login_flow",
        {
            "client_id": api.client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": f"{api.base_url}/?auth_callback=1",
        },
        auth=False,
    )
    result = await api.post(
        f"/auth/login_flow/{flow['flow_id']}",
        {"client_id": api.client_id, "username": DEMO_USERNAME, "password": DEMO_PASSWORD},
        auth=False,
    )
    if result.get("type") != "create_entry":
        raise DemoError(
            f"cannot log in as {DEMO_USERNAME!r} ({result.get('errors') or result}); this "
            "instance was onboarded with another account: use a fresh config/ directory"
        )
    return await exchange_code(api, str(result["result"]))


async def saved_token_works(api: HomeAssistantApi) -> bool:
    """Reuse the token of an earlier run rather than minting a new one each time."""
    try:
        token = TOKEN_FILE.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    if not token:
        return False
    api.token = token
    try:
        await api.get("/api/")
    except DemoError:
        api.token = None
        return False
    return True


async def save_long_lived_token(api: HomeAssistantApi) -> None:
    """Keep a long-lived token in config/.demo-token (access tokens expire after 30 minutes)."""
    token = api.token
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    try:
        token = str(
            await api.websocket(
                {
                    "type": "auth/long_lived_access_token",
                    "client_name": f"MeterLink demo {stamp}",
                    "lifespan": 365,
                }
            )
        )
    except (aiohttp.ClientError, DemoError, TypeError, ValueError) as err:
        print(f"demo: keeping the short-lived token ({err})", file=sys.stderr)
    TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
    TOKEN_FILE.write_text(f"{token}\n", encoding="utf-8")
    os.chmod(TOKEN_FILE, 0o600)
    api.token = token


async def dismiss_development_notices(api: HomeAssistantApi) -> None:
    """Ignore the Repairs notices that every development instance raises by design.

    scripts/develop runs Home Assistant Core from .venv, which Home Assistant reports as an
    "Unsupported installation method": true, and nothing MeterLink or its user can change in a
    development instance. Ignoring it (as a user would) leaves Repairs to what matters.
    """
    for issue in (await api.websocket({"type": "repairs/list_issues"}) or {}).get("issues", []):
        key = (issue.get("domain"), issue.get("issue_id"))
        if key in DEVELOPMENT_NOTICES and not issue.get("ignored"):
            await api.websocket(
                {
                    "type": "repairs/ignore_issue",
                    "domain": key[0],
                    "issue_id": key[1],
                    "ignore": True,
                }
            )
            print(f"demo: ignored Home Assistant's {key[1]!r} notice (a development instance)")


async def authenticate(api: HomeAssistantApi, seconds: float) -> None:
    """Get a working token: the saved one, else onboarding or the login flow."""
    status = await wait_for_http(api, seconds)
    if await saved_token_works(api):
        return
    if all(step["done"] for step in status):  # an empty list: onboarding is long done
        api.token = await login(api)
    else:
        await onboard(api, status)
    await save_long_lived_token(api)


# --- config flows ---------------------------------------------------------------------------


def describe_fields(result: Mapping[str, Any]) -> str:
    """Field names of a form, for error messages."""
    return ", ".join(str(field.get("name")) for field in result.get("data_schema") or []) or "-"


def simulator_gateway_key(kind: str = "push3") -> str:
    """The gateway key a simulator printed at start (scripts/develop logs it).

    `push3 http HOST key KEY`, `ekm-push gateway MAC key KEY`: the word after the first "key".
    """
    log = ROOT / "config" / f"simulator-{kind}.log"
    try:
        words = log.read_text(encoding="utf-8").split()
    except OSError as err:
        raise DemoError(f"cannot read the {kind} simulator's key from {log}: {err}") from err
    if "key" not in words or words.index("key") + 1 >= len(words):
        raise DemoError(f"{log} does not show the {kind} simulator's gateway key")
    return words[words.index("key") + 1]


async def add_device(api: HomeAssistantApi, device: DemoDevice) -> str:
    """Run MeterLink's config flow for one device; return what happened, raise on failure."""
    flow_path = "/api/config/config_entries/flow"
    result = await api.post(flow_path, {"handler": DOMAIN, "show_advanced_options": False})
    last_form: str | None = None
    for _ in range(MAX_FLOW_STEPS):
        kind = result.get("type")
        step_id = str(result.get("step_id"))
        flow_id = result.get("flow_id")
        answer = device.steps.get(step_id)

        if kind == "create_entry":
            return f"added {result.get('title')!r}"
        if kind == "abort":
            if result.get("reason") in ALREADY_CONFIGURED:
                return f"already configured ({result['reason']})"
            raise DemoError(f"the flow aborted: {result.get('reason')}")
        if kind == "menu":
            options = result.get("menu_options") or []
            if not isinstance(answer, str) or answer not in options:
                raise DemoError(
                    f"menu {step_id!r} offers {list(options)}; the demo picks {answer!r}"
                )
            result = await api.post(f"{flow_path}/{flow_id}", {"next_step_id": answer})
        elif kind == "form":
            if result.get("errors"):
                raise DemoError(
                    f"form {step_id!r} reported errors {result['errors']}"
                    f" (placeholders {result.get('description_placeholders')})"
                )
            if step_id == last_form:
                raise DemoError(f"form {step_id!r} came back after it was submitted")
            if answer is None:
                if result.get("data_schema"):
                    raise DemoError(
                        f"no answer for form {step_id!r} (fields: {describe_fields(result)})"
                    )
                answer = {}
            if isinstance(answer, str):
                raise DemoError(f"{step_id!r} is a form but the demo has a menu choice for it")
            last_form = step_id
            result = await api.post(f"{flow_path}/{flow_id}", dict(answer), ok=(200, 400))
            if not isinstance(result, dict) or "type" not in result:  # failed the schema
                raise DemoError(f"form {step_id!r} rejected the answer: {result}")
        elif kind in ("progress", "progress_done"):
            # A background task is running; fetching the flow moves it on once it's done.
            await asyncio.sleep(1)
            result = await api.get(f"{flow_path}/{flow_id}")
        else:
            raise DemoError(f"unexpected flow result {kind!r}: {result}")
    raise DemoError(f"the flow did not finish in {MAX_FLOW_STEPS} steps")


async def add_devices(api: HomeAssistantApi, devices: tuple[DemoDevice, ...]) -> None:
    """Add every demo device that is not there yet."""
    entries = await api.get(f"/api/config/config_entries/entry?domain={DOMAIN}")
    titles = {entry["title"] for entry in entries}
    for device in devices:
        if device.title in titles:
            print(f"demo: {device.title}: already there")
            continue
        print(f"demo: {device.title}: {await add_device(api, device)}", flush=True)


# --- checking -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SensorRow:
    """One sensor for the summary table."""

    entity_id: str
    state: str
    unit: str

    @property
    def numeric(self) -> bool:
        try:
            return math.isfinite(float(self.state))
        except ValueError:
            return False


async def meterlink_sensor_ids(api: HomeAssistantApi) -> set[str] | None:
    """MeterLink's sensors per the entity registry, asked through the template API.

    Entity ids alone cannot tell MeterLink's sensors from others; integration_entities() can,
    and it is reachable over REST. None if the template API is unavailable.
    """
    template = (
        "{{ integration_entities('"
        + DOMAIN
        + "') | select('match', 'sensor[.]') | list | tojson }}"
    )
    try:
        text = await api.post("/api/template", {"template": template})
        return set(json.loads(text))
    except DemoError, ValueError, TypeError:
        return None


async def collect(api: HomeAssistantApi) -> tuple[list[dict[str, Any]], list[SensorRow]]:
    """MeterLink's config entries and its energy and power sensors."""
    entries = await api.get(f"/api/config/config_entries/entry?domain={DOMAIN}")
    ours = await meterlink_sensor_ids(api)
    rows = []
    for state in await api.get("/api/states"):
        entity_id = state["entity_id"]
        if not entity_id.startswith("sensor.") or (ours is not None and entity_id not in ours):
            continue
        if "energy" in entity_id or "power" in entity_id:
            unit = state.get("attributes", {}).get("unit_of_measurement") or ""
            rows.append(SensorRow(entity_id, str(state["state"]), str(unit)))
    return entries, sorted(rows, key=lambda row: row.entity_id)


async def streaming_entity(api: HomeAssistantApi, entry_id: str) -> str | None:
    """The entry's "Streaming" binary sensor per the entity registry (None: it has none)."""
    for entity in await api.websocket({"type": "config/entity_registry/list"}) or []:
        if (
            entity.get("config_entry_id") == entry_id
            and str(entity.get("unique_id")).endswith("_streaming")
            and str(entity.get("entity_id")).startswith("binary_sensor.")
        ):
            return str(entity["entity_id"])
    return None


async def wait_streaming(api: HomeAssistantApi, title: str, seconds: float) -> bool:
    """Wait until the entry titled `title` streams (its Streaming sensor is on); one line."""
    deadline = time.monotonic() + seconds
    entity, state = None, "missing"
    while True:
        entries = await api.get(f"/api/config/config_entries/entry?domain={DOMAIN}")
        entry_id = next((e["entry_id"] for e in entries if e["title"] == title), None)
        if entry_id is not None and (entity := await streaming_entity(api, entry_id)):
            answer = await api.get(f"/api/states/{entity}", ok=(200, 404))
            state = answer.get("state", "missing") if isinstance(answer, dict) else "missing"
        if state == "on" or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    if state == "on":
        print(f"streaming  {title}: {entity} is on (MQTT from the simulated gateway)")
        return True
    print(f"streaming  {title}: {entity or 'no Streaming sensor'} is {state} after {seconds:.0f}s")
    return False


async def check(
    api: HomeAssistantApi, seconds: float, *, streaming_title: str | None = None
) -> bool:
    """Wait until MeterLink is loaded and reports numbers, then print what it reports.

    With `streaming_title` that entry must also stream: scripts/develop runs a broker, the
    browser tests (which call this too) do not.
    """
    deadline = time.monotonic() + seconds
    while True:
        entries, rows = await collect(api)
        loaded = [entry for entry in entries if entry["state"] == "loaded"]
        ok = bool(loaded) and len(loaded) == len(entries) and any(row.numeric for row in rows)
        if ok or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)

    for entry in entries:
        print(f"entry  {entry['title']}: {entry['state']}")
    if rows:
        width = max(len(row.entity_id) for row in rows)
        print(f"{'entity_id':<{width}}  {'state':>14}  unit")
        for row in rows:
            print(f"{row.entity_id:<{width}}  {row.state:>14}  {row.unit}")
    if not entries:
        print(f"check failed: there is no {DOMAIN} config entry")
    elif len(loaded) < len(entries):
        print(f"check failed: {len(entries) - len(loaded)} {DOMAIN} entries are not loaded")
    elif not ok:
        print(f"check failed: no {DOMAIN} energy or power sensor has a numeric state")
    elif streaming_title is not None and not await wait_streaming(api, streaming_title, seconds):
        print(f"check failed: {streaming_title} does not stream over MQTT")
        return False
    else:
        numeric = sum(row.numeric for row in rows)
        print(f"check passed: {len(loaded)} entries loaded, {numeric} numeric energy/power sensors")
    return ok


# --- main -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    """Log in, add the devices unless --check, then check."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        api = HomeAssistantApi(session, args.url)
        await authenticate(api, args.wait)
        await wait_until_running(api, args.wait)
        await dismiss_development_notices(api)
        # scripts/develop's cloud entry uses the simulated gateway's key: EKM's broker streams
        # to gateway keys only (push/streaming.py), and the development broker does the same.
        endpoints = DemoEndpoints()
        if not args.check:
            endpoints = DemoEndpoints(push_cloud_key=simulator_gateway_key("ekm-push"))
            await add_devices(api, demo_devices(endpoints))
        if args.no_check and not args.check:
            return 0
        streams = await check(api, args.check_timeout, streaming_title=endpoints.push_cloud_title)
        return 0 if streams else 1


def main() -> int:
    """Parse the command line and run the demo; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"Home Assistant (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--check", action="store_true", help="only check that MeterLink reports numbers"
    )
    parser.add_argument("--no-check", action="store_true", help="add the devices, skip the check")
    parser.add_argument(
        "--wait", type=float, default=600, help="seconds to wait for Home Assistant (600)"
    )
    parser.add_argument(
        "--check-timeout",
        type=float,
        default=90,
        help="seconds to wait for numeric sensor states (90)",
    )
    args = parser.parse_args()
    try:
        return asyncio.run(run(args))
    except DemoError as err:
        print(f"demo: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
