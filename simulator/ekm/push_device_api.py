"""Simulated EKM Push Device Settings API (sendCommand + answer streams) and Trigger API.

`DeviceApiSimulator.install(app)` adds the routes to any aiohttp application (the Push
simulator mounts it next to readMeter); `start()`/`stop()` serve it alone on loopback.

What it does, following seeds 000/001/003:
* `POST /sendCommand?key=..[&gateway=..]` checks the bearer token (OWNER / GROUP / ADMIN
  privilege, READ vs READ/WRITE), the key and the target device, answers HTTP 400 with
  `{"error": ...}` for bad requests and otherwise queues the command: the receipt names the
  response channel, and the gateway's answer is published there after a delay;
* answers are delivered on `GET /sub/<channel>[.b<N>]` (an HTTP push stream, N = backlog
  messages replayed first) and `GET /ws/<channel>[.b<N>]` (websocket), in whatever order the
  delays give, to every subscriber of the channel;
* commands really change the shared meter model (`simulator.ekm.meter.SimMeter`, through the
  same W1 writes the RS-485 simulator applies), so readings from any transport reflect them;
* a trigger store with create / lookup / modify / delete under the same token rules.

The simulator checks parameters with its own code, not the library's schemas, so a library bug
cannot make both sides agree by accident. `delay_for` decides each answer's delay; returning
None stands for a gateway that never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aiohttp import WSMsgType, web

from custom_components.meterlink.meters.ekm import Block, MeterVersion

from .meter import TARIFFS, SimMeter
from .push_cloud import PushSimulator, SimIoStack

BACKLOG_LIMIT = 100
_CHANNEL = re.compile(r"(?P<id>[A-Za-z0-9_\-]{1,128})(?:\.b(?P<backlog>[0-9]{1,4}))?")
_RELAYS = {"relay_1": "81", "relay_2": "82"}
_CT = (100, 200, 400, 600, 800, 1000, 1200, 1500, 2000, 3000, 4000, 5000)
_CF = (1, 2, 4, 5, 8, 10, 16, 20, 25, 40, 50, 80, 100, 200, 400, 800, 1600)
_READ_ONLY = ("trigger_uuid", "created_at", "updated_at")


class Privilege(StrEnum):
    """What a token may reach (seed 000): its own account's devices, or any key's."""

    OWNER = "OWNER"
    GROUP = "GROUP"
    ADMIN = "ADMIN"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token: the account it was created for, its privilege and READ or READ/WRITE."""

    account: str
    privilege: Privilege = Privilege.OWNER
    write: bool = True


@dataclass
class SimGateway:
    """A Push3 gateway: its owner, its gateway key and the devices (meters, ioStacks) on it."""

    mac: str
    account: str
    key: str
    devices: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class SentCommand:
    """A command the API accepted (what the gateway will carry out)."""

    msg_id: str
    channel: str
    target: str
    target_id: str
    command: str
    params: dict[str, Any]
    account: str


@dataclass(frozen=True, slots=True)
class ServedRequest:
    """One API request as the simulator saw it."""

    method: str
    path: str
    status: int
    body: Any = None


@dataclass
class _Channel:
    backlog: deque[str] = field(default_factory=lambda: deque(maxlen=BACKLOG_LIMIT))
    subscribers: set[asyncio.Queue[str | None]] = field(default_factory=set)


class _BadRequest(Exception):
    """HTTP 400 with the API's error text."""


class _Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


type Outcome = tuple[bool, str | None, Any]
type Execute = Callable[[], Outcome]


class DeviceApiSimulator:
    """sendCommand, its answer streams and the Trigger API over shared device models.

    `meters` and `iostacks` map device ids to the models; `gateways` map MACs to gateways (a
    device answers through the gateway that lists it); `tokens` map bearer tokens to their
    rights; `account_keys` map account keys to accounts (a gateway key opens its gateway only).
    """

    def __init__(
        self,
        meters: Mapping[str, SimMeter],
        iostacks: Mapping[str, SimIoStack],
        gateways: Iterable[SimGateway],
        tokens: Mapping[str, TokenInfo],
        *,
        account_keys: Mapping[str, str] | None = None,
        min_delay: float = 0.01,
        max_delay: float = 0.08,
        seed: int = 5,
        channel_host: str | None = None,
    ) -> None:
        self.meters = dict(meters)
        self.iostacks = dict(iostacks)
        self.gateways = {gateway.mac: gateway for gateway in gateways}
        self.tokens = dict(tokens)
        self.account_keys = dict(account_keys or {})
        self.channel_host = channel_host
        self._random = random.Random(seed)
        self._delays = (min_delay, max_delay)
        self.delay_for: Callable[[SentCommand], float | None] = self._random_delay
        self.split_writes = False  # write each stream message in two pieces
        self.binary_frames = False  # websocket messages as binary frames
        self.stream_status: int | None = None  # answer /sub and /ws with this HTTP status
        self.own_channel_ids = False  # ignore the client's response_channel_id
        # What a trigger uuid nobody owns gets: 404, or 403 from an API that does not tell
        # "not yours" from "not there" (seed 001 does not say; vendor-evidence.md A10).
        self.unknown_trigger_status = 404
        self.requests: list[ServedRequest] = []
        self.commands: list[SentCommand] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, tuple[str, dict[str, Any]]] = {}  # uuid -> (gateway, trigger)
        self._channels: dict[str, _Channel] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    # Lifecycle -----------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        """Add the Device Settings, answer stream and Trigger routes to `app`."""
        app.router.add_post("/sendCommand", self._send_command)
        app.router.add_get("/sub/{channel}", self._subscribe_stream)
        app.router.add_get("/ws/{channel}", self._subscribe_websocket)
        app.router.add_route("*", "/api/trigger", self._trigger)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on its own; returns the base URL (`http://host:port`)."""
        app = web.Application()
        self.install(app)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        return f"http://{host}:{site.port}"

    async def stop(self) -> None:
        """Stop serving and drop pending answers; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self._cancel_answers()

    async def _on_cleanup(self, app: web.Application) -> None:
        await self._cancel_answers()

    async def _cancel_answers(self) -> None:
        """Drop answers not yet published (also when mounted on another simulator's app)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _on_shutdown(self, app: web.Application) -> None:
        for channel in self._channels.values():
            for queue in channel.subscribers:
                queue.put_nowait(None)

    @property
    def send_command_requests(self) -> int:
        """How many sendCommand requests reached the API, whatever their outcome."""
        return sum(1 for request in self.requests if request.path == "/sendCommand")

    def subscribers(self, channel: str) -> int:
        """How many stream or websocket clients listen on a channel now."""
        found = self._channels.get(channel)
        return 0 if found is None else len(found.subscribers)

    def publish(self, channel: str, message: Mapping[str, Any] | str) -> None:
        """Put a message on a response channel (backlog plus live subscribers).

        A string goes out as it is: a test may publish what `json.dumps` cannot write.
        """
        text = message if isinstance(message, str) else json.dumps(message)
        found = self._channels.setdefault(channel, _Channel())
        found.backlog.append(text)
        for queue in found.subscribers:
            queue.put_nowait(text)

    def kick_subscribers(self) -> int:
        """End every open stream and websocket (a push server restarting); how many ended."""
        count = 0
        for channel in self._channels.values():
            for queue in channel.subscribers:
                queue.put_nowait(None)
                count += 1
        return count

    def _random_delay(self, command: SentCommand) -> float:
        return self._random.uniform(*self._delays)

    # Authorisation ---------------------------------------------------------------------------

    def _token(self, request: web.Request) -> TokenInfo:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise _Refused(401, "invalid or missing API token")
        if request.method != "GET" and not token.write:
            raise _Refused(403, "this API token has READ permission only")
        return token

    def _key_gateways(self, key: str | None, gateway: str | None) -> list[SimGateway]:
        if not key:
            raise _BadRequest("key is required")
        found = [gw for gw in self.gateways.values() if gw.key == key]
        if not found and key in self.account_keys:
            account = self.account_keys[key]
            found = [gw for gw in self.gateways.values() if gw.account == account]
        if not found:
            raise _Refused(401, "invalid key")
        if gateway:
            found = [gw for gw in found if gw.mac == gateway.lower()]
            if not found:
                known = gateway.lower() in self.gateways
                if known:
                    raise _Refused(403, "the gateway is not associated with this key")
                raise _BadRequest(f"unknown gateway {gateway}")
        return found

    def _device_gateway(
        self, token: TokenInfo, gateways: list[SimGateway], target: str, target_id: str
    ) -> SimGateway:
        models: Mapping[str, object] = self.meters if target == "meter" else self.iostacks
        if target_id not in models:
            raise _BadRequest(f"unknown {target} {target_id}")
        owner = next((gw for gw in gateways if target_id in gw.devices), None)
        if owner is None:
            raise _Refused(403, f"{target} {target_id} is not associated with this key")
        self._check_owner(token, owner)
        return owner

    @staticmethod
    def _check_owner(token: TokenInfo, gateway: SimGateway) -> None:
        if token.privilege is Privilege.OWNER and gateway.account != token.account:
            raise _Refused(403, "the device belongs to another account")

    # sendCommand -----------------------------------------------------------------------------

    async def _send_command(self, request: web.Request) -> web.Response:
        body: Any = None
        try:
            token = self._token(request)
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise _BadRequest("the request body must be a JSON object")
            gateways = self._key_gateways(
                request.query.get("key") or _opt_str(body, "key"), request.query.get("gateway")
            )
            target = _req_str(body, "target")
            if target not in ("meter", "iostack"):
                raise _BadRequest(f"unknown target {target}")
            target_id = _req_str(body, "target_id")
            command = _req_str(body, "command")
            params = body.get("params", {})
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise _BadRequest("params must be a JSON object")
            self._device_gateway(token, gateways, target, target_id)
            execute = self._prepare(target, target_id, command, params)
            channel = _opt_str(body, "response_channel_id") or ""
            if self.own_channel_ids or not channel:
                channel = f"response_{uuid.uuid4().hex}"
            if _CHANNEL.fullmatch(channel) is None or "." in channel:
                raise _BadRequest("invalid response_channel_id")
        except _Refused as err:
            return self._refuse(request, err.status, str(err), body)
        except _BadRequest as err:
            return self._refuse(request, 400, str(err), body)
        sent = SentCommand(
            uuid.uuid4().hex, channel, target, target_id, command, params, token.account
        )
        self.commands.append(sent)
        self.requests.append(ServedRequest(request.method, request.path, 200, body))
        delay = self.delay_for(sent)
        if delay is not None:
            task = asyncio.create_task(self._answer_later(sent, delay, execute))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(
            {
                "msg_id": sent.msg_id,
                "response_channel_id": channel,
                "response_channel_host": self.channel_host or request.host,
            }
        )

    def _refuse(self, request: web.Request, status: int, text: str, body: Any) -> web.Response:
        self.requests.append(ServedRequest(request.method, request.path, status, body))
        return web.json_response({"error": text}, status=status)

    async def _answer_later(self, sent: SentCommand, delay: float, execute: Execute) -> None:
        await asyncio.sleep(delay)
        received = datetime.now(UTC).timestamp() - delay
        success, error, data = execute()
        answer = {
            "msg_id": sent.msg_id,
            "timestamp": received,
            "success": success,
            "error": error,
            "data": data,
        }
        self.answers[sent.msg_id] = answer
        self.publish(sent.channel, answer)

    def _prepare(
        self, target: str, target_id: str, command: str, params: dict[str, Any]
    ) -> Execute:
        """Check the parameters now (HTTP 400); the returned step runs when the gateway acts."""
        if target == "meter":
            return self._prepare_meter(self.meters[target_id], command, params)
        return self._prepare_iostack(self.iostacks[target_id], command, params)

    def _prepare_meter(self, meter: SimMeter, command: str, params: dict[str, Any]) -> Execute:
        name = command.lower()
        password = params.get("meter_password", "00000000")
        writes: list[tuple[str, str]]
        if name == "setrelay":
            relay = str(params.get("relay", "")).lower()
            status = str(params.get("status", "")).lower()
            duration = _param_int(params, "duration", 0, 9999)
            if relay not in _RELAYS or status not in ("open", "close"):
                raise _BadRequest("relay must be Relay_1 or Relay_2 and status open or close")
            writes = [(_RELAYS[relay], f"{int(status == 'close')}{duration:04d}")]
        elif name == "setctratio":
            ratio = _param_int(params, "ct_ratio", 1, 9999)
            if ratio not in _CT:
                raise _BadRequest("invalid ct_ratio")
            writes = [("D0", f"{ratio:04d}")]
        elif name == "settime":
            try:
                parts = [
                    int(str(params[key]))
                    for key in ("year", "month", "day", "hour", "minutes", "seconds")
                ]
                when = datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
            except KeyError, ValueError, TypeError:
                msg = "SetTime needs year, month, day, hour, minutes, seconds"
                raise _BadRequest(msg) from None
            weekday = when.isoweekday() % 7 + 1
            writes = [("60", f"{when:%y%m%d}{weekday:02d}{when:%H%M%S}")]
        elif name == "setmaxdemandresetinterval":
            writes = [("D5", str(_param_int(params, "interval", 0, 4)))]
        elif name == "setmaxdemandresetnow":
            writes = [("40", "000000")]
        elif name == "setmaxdemandperiod":
            writes = [("50", str(_param_int(params, "max_demand_period", 1, 3)))]
        elif name == "setlcd":
            items = params.get("display_fields")
            if not isinstance(items, list) or not 1 <= len(items) <= 40:
                raise _BadRequest("display_fields must be a list of 1 to 40 items")
            codes = [_as_int(item, "display_fields", 1, 99) for item in items]
            writes = [("D2", "".join(f"{code:02d}" for code in codes).ljust(80, "0"))]
        elif name == "setpulseinputratio":
            line = _param_int(params, "pulse_line", 1, 3)
            ratio = _param_int(params, "pulse_input_ratio", 1, 9999)
            writes = [(f"A{line - 1}", f"{ratio:04d}")]
        elif name == "setpulseoutputratio":
            _param_int(params, "pulse_line", 1, 3)
            ratio = _param_int(params, "pulse_output_ratio", 1, 9999)
            if ratio not in _CF:
                raise _BadRequest("invalid pulse_output_ratio")
            writes = [("D4", f"{ratio:04d}")]
        elif name == "setzeroresettablekwh":
            writes = [("D3", "")]
        elif name == "setmeterpassword":
            new = str(params.get("new_password", ""))
            writes = [("20", new)]
        elif name == "setweekendholidayschedules":
            weekend = _param_int(params, "weekend_schedule", 1, 6)
            holiday = _param_int(params, "holiday_schedule", 1, 6)
            writes = [("C0", f"{weekend:02d}{holiday:02d}")]
        elif name == "getschedules":
            return lambda: (True, None, {"schedules": dict(meter.schedules)})
        elif name == "gettariffdata":
            return lambda: (True, None, _tariffs(meter))
        elif name in ("setholidaydates", "setschedule"):
            return lambda: (False, "not supported by the simulated gateway", None)
        else:
            raise _BadRequest(f"unknown meter command {command}")

        def execute() -> Outcome:
            if password != meter.password:
                return False, "meter password refused", None
            for code, data in writes:
                if not meter.apply(code, data):
                    return False, "the meter did not acknowledge the command", None
            return True, None, None

        return execute

    def _prepare_iostack(self, io: SimIoStack, command: str, params: dict[str, Any]) -> Execute:
        name = command.lower()
        if name == "getstatus":
            return lambda: (
                True,
                None,
                {"di_counts": list(io.di_counts), "do_levels": list(io.do_levels)},
            )
        if name == "scanonewire":
            return lambda: (True, None, {"devices": list(io.one_wire)})
        if name == "setdatetime":

            def set_clock() -> Outcome:
                io.clock_set = True
                return True, None, None

            return set_clock
        if name == "resetdicount":
            pin = _param_int(params, "pin", 1, 4)

            def reset() -> Outcome:
                io.reset_count(pin)
                return True, None, None

            return reset
        if name == "setdolevel":
            pin = _param_int(params, "pin", 1, 4)
            level = _param_int(params, "level", 0, 1)
            password = params.get("password")

            def set_level() -> Outcome:
                if password is not None and password != io.password:
                    return False, "ioStack password refused", None
                io.set_output(pin, level)
                if params.get("clear_watch") is True:
                    io.watch_cleared = True
                return True, None, None

            return set_level
        if name == "setpassword":
            new, old = params.get("new_password"), params.get("password")
            if not isinstance(new, str) or not isinstance(old, str):
                raise _BadRequest("SetPassword needs new_password and password")

            def change() -> Outcome:
                if old != io.password:
                    return False, "ioStack password refused", None
                io.password = new
                return True, None, None

            return change
        raise _BadRequest(f"unknown iostack command {command}")

    # Answer streams --------------------------------------------------------------------------

    def _open(self, request: web.Request) -> tuple[_Channel, list[str]]:
        match = _CHANNEL.fullmatch(request.match_info["channel"])
        if match is None:
            raise web.HTTPNotFound
        channel = self._channels.setdefault(match["id"], _Channel())
        count = int(match["backlog"] or 0)
        replay = list(channel.backlog)[-count:] if count else []
        return channel, replay

    def _refused_stream(self, request: web.Request) -> web.Response | None:
        if self.stream_status is None:
            return None
        text = f"stream refused ({self.stream_status})"
        return self._refuse(request, self.stream_status, text, None)

    async def _subscribe_stream(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused_stream(request)) is not None:
            return refused
        channel, replay = self._open(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        channel.subscribers.add(queue)
        self.requests.append(ServedRequest(request.method, request.path, 200))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        try:
            await response.prepare(request)
            for old in replay:
                await self._write(response, old)
            while (text := await _next_message(queue, request)) is not None:
                await self._write(response, text)
        except ConnectionResetError:
            pass
        finally:
            channel.subscribers.discard(queue)
        return response

    async def _write(self, response: web.StreamResponse, text: str) -> None:
        data = f"{text}\r\n".encode()
        if self.split_writes:
            half = len(data) // 2
            await response.write(data[:half])
            await asyncio.sleep(0.005)
            data = data[half:]
        await response.write(data)

    async def _send_frame(self, websocket: web.WebSocketResponse, text: str) -> None:
        if self.binary_frames:
            await websocket.send_bytes(text.encode())
        else:
            await websocket.send_str(text)

    async def _subscribe_websocket(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused_stream(request)) is not None:
            return refused
        channel, replay = self._open(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        websocket = web.WebSocketResponse()
        await websocket.prepare(request)
        channel.subscribers.add(queue)
        self.requests.append(ServedRequest(request.method, request.path, 101))

        async def until_closed() -> None:
            async for message in websocket:
                if message.type is WSMsgType.CLOSE:
                    break
            queue.put_nowait(None)

        reader = asyncio.create_task(until_closed())
        try:
            for old in replay:
                await self._send_frame(websocket, old)
            while (text := await queue.get()) is not None:
                await self._send_frame(websocket, text)
        except ConnectionResetError:
            pass
        finally:
            channel.subscribers.discard(queue)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await websocket.close()
        return websocket

    # Trigger API -------------------------------------------------------------------------------

    async def _trigger(self, request: web.Request) -> web.Response:
        body: Any = None
        try:
            token = self._token(request)
            if request.method != "GET":
                body = await _json_body(request)
            key = request.query.get("key")
            match request.method:
                case "GET":
                    result = self._trigger_lookup(token, key, request.query)
                case "POST":
                    result = self._trigger_create(token, key, request.query.get("gateway"), body)
                case "PUT":
                    result = self._trigger_modify(token, key, body)
                case "DELETE":
                    result = self._trigger_delete(token, key, body)
                case _:
                    raise _Refused(405, "method not allowed")
        except _Refused as err:
            return self._refuse(request, err.status, str(err), body)
        except _BadRequest as err:
            return self._refuse(request, 400, str(err), body)
        self.requests.append(ServedRequest(request.method, request.path, 200, body))
        return web.json_response(result)

    def _owned_trigger(self, token: TokenInfo, key: str | None, trigger_uuid: object) -> str:
        if not isinstance(trigger_uuid, str) or trigger_uuid not in self.triggers:
            raise _Refused(self.unknown_trigger_status, "trigger not found")
        mac, _ = self.triggers[trigger_uuid]
        gateways = self._key_gateways(key, None)
        gateway = self.gateways[mac]
        if gateway not in gateways:
            raise _Refused(403, "the trigger's gateway is not associated with this key")
        self._check_owner(token, gateway)
        return trigger_uuid

    def _trigger_lookup(
        self, token: TokenInfo, key: str | None, query: Mapping[str, str]
    ) -> dict[str, Any]:
        if "trigger" in query:
            trigger_uuid = self._owned_trigger(token, key, query["trigger"])
            return {"triggers": [self.triggers[trigger_uuid][1]]}
        mac = query.get("gateway")
        if not mac:
            raise _BadRequest("gateway or trigger is required")
        (gateway,) = self._key_gateways(key, mac)[:1]
        self._check_owner(token, gateway)
        return {"triggers": [t for gw, t in self.triggers.values() if gw == gateway.mac]}

    def _trigger_create(
        self, token: TokenInfo, key: str | None, mac: str | None, body: Any
    ) -> dict[str, Any]:
        if not mac:
            raise _BadRequest("gateway is required")
        (gateway,) = self._key_gateways(key, mac)[:1]
        self._check_owner(token, gateway)
        fields = _trigger_fields(body, creating=True)
        now = datetime.now(UTC).isoformat()
        trigger = {
            "trigger_uuid": uuid.uuid4().hex,
            "trigger_name": fields["trigger_name"],
            "conditions": fields["conditions"],
            "actions": fields["actions"],
            "extras": fields.get("extras", {}),
            "enabled": fields.get("enabled", True),
            "created_at": now,
            "updated_at": now,
        }
        self.triggers[trigger["trigger_uuid"]] = (gateway.mac, trigger)
        return {"trigger": trigger}

    def _trigger_modify(self, token: TokenInfo, key: str | None, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("trigger"), dict):
            raise _BadRequest('the body is {"trigger": {...}}')
        trigger_uuid = self._owned_trigger(token, key, body["trigger"].get("trigger_uuid"))
        changes = {k: v for k, v in body["trigger"].items() if k != "trigger_uuid"}
        fields = _trigger_fields({"trigger": changes}, creating=False)
        mac, trigger = self.triggers[trigger_uuid]
        updated = {**trigger, **fields, "updated_at": datetime.now(UTC).isoformat()}
        self.triggers[trigger_uuid] = (mac, updated)
        return {"trigger": updated}

    def _trigger_delete(self, token: TokenInfo, key: str | None, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _BadRequest('the body is {"trigger_uuid": ...}')
        trigger_uuid = self._owned_trigger(token, key, body.get("trigger_uuid"))
        del self.triggers[trigger_uuid]
        return {"trigger_uuid": trigger_uuid, "deleted": True}


# Helpers -----------------------------------------------------------------------------------


async def _next_message(queue: asyncio.Queue[str | None], request: web.Request) -> str | None:
    """The next message for a stream subscriber; None once the client has gone away."""
    while True:
        try:
            return await asyncio.wait_for(queue.get(), 0.05)
        except TimeoutError:
            if request.transport is None or request.transport.is_closing():
                return None


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError:
        raise _BadRequest("the request body is not JSON") from None


def _req_str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise _BadRequest(f"{key} is required")
    return value


def _opt_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and value else None


def _as_int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _BadRequest(f"invalid {name}")
    try:
        number = int(value)
    except ValueError:
        raise _BadRequest(f"invalid {name}") from None
    if not low <= number <= high:
        raise _BadRequest(f"{name} out of range")
    return number


def _param_int(params: Mapping[str, Any], name: str, low: int, high: int) -> int:
    if name not in params:
        raise _BadRequest(f"missing parameter {name}")
    return _as_int(params[name], name, low, high)


def _tariffs(meter: SimMeter) -> dict[str, Any]:
    values = meter.values(Block.V4B if meter.version is MeterVersion.V4 else Block.V3)
    return {f"kWh_Tariff_{n}": values.get(f"kWh_Tariff_{n}") for n in TARIFFS}


def _trigger_fields(body: Any, *, creating: bool) -> dict[str, Any]:
    """The simulator's own check of a trigger body: shapes only, read-only fields refused."""
    if not isinstance(body, dict) or not isinstance(body.get("trigger"), dict):
        raise _BadRequest('the body is {"trigger": {...}}')
    trigger: dict[str, Any] = body["trigger"]
    for name in _READ_ONLY:
        if name in trigger:
            raise _BadRequest(f"{name} is read-only")
    allowed = {"trigger_name", "conditions", "actions", "enabled", "extras"}
    unknown = set(trigger) - allowed
    if unknown:
        raise _BadRequest(f"unknown trigger attribute {sorted(unknown)[0]}")
    if creating:
        for name in ("trigger_name", "conditions", "actions"):
            if name not in trigger:
                raise _BadRequest(f"{name} is required")
    if "trigger_name" in trigger and (
        not isinstance(trigger["trigger_name"], str) or not trigger["trigger_name"].strip()
    ):
        raise _BadRequest("trigger_name must be a non-empty string")
    for name in ("conditions", "actions"):
        if name in trigger:
            items = trigger[name]
            if not isinstance(items, list) or not items:
                raise _BadRequest(f"{name} must be a non-empty list")
            if not all(isinstance(item, dict) for item in items):
                raise _BadRequest(f"each of {name} must be an object")
    for condition in trigger.get("conditions", []):
        if condition.get("type") not in ("data", "rrule"):
            raise _BadRequest("condition type must be data or rrule")
        if condition["type"] == "rrule" and "FREQ=" not in str(condition.get("rrule", "")):
            raise _BadRequest("invalid rrule")
    if "enabled" in trigger and not isinstance(trigger["enabled"], bool):
        raise _BadRequest("enabled must be true or false")
    return dict(trigger)


def attach_to_cloud(
    cloud: PushSimulator, tokens: Mapping[str, TokenInfo], *, account: str = "account-1"
) -> DeviceApiSimulator:
    """Serve sendCommand and the Trigger API on the Push simulator's app, over its devices.

    One account owns every gateway; the account key and each gateway key open it, so readings
    and commands see the same meters and ioStacks (a relay closed by a command shows in the next
    readMeter).
    """
    api = DeviceApiSimulator(
        cloud.meters,
        cloud.iostacks,
        [
            SimGateway(mac, account, cloud.gateway_keys[mac], devices=set(devices))
            for mac, devices in cloud.gateways.items()
        ],
        tokens,
        account_keys={cloud.account_key: account},
    )
    api.install(cloud.app)
    return api
