"""`meter push command|triggers`: Device Settings and Trigger API from a shell.

`add_device_actions(actions)` adds both subcommands to the `push` family's action subparsers
(one line in the family's register function). `command` prints the device's answer as JSON and
exits 0 only when the device reports success; `triggers` prints the API's JSON. Every input is
checked before a request is made, so a typo costs nothing on the gateway: the tool exits
non-zero with one line naming the reason (see `PUSH_EXIT_CODES` in cli.py).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import aiohttp

from ...errors import (
    InvalidParameterError,
)
from ..triggers import (
    TriggerClient,
    check_trigger_uuid,
    validate_trigger,
)
from .client import (
    DEFAULT_ANSWER_TIMEOUT,
    DEFAULT_API_URL,
    DeviceApiClient,
    StreamTransport,
    raise_for_failure,
    validate_api_url,
)
from .commands import COMMANDS, Target, check_target_id, normalize_gateway, validate_command

# Checked before the tool's own table (first match wins): web-API refusals get their own codes.

TRIGGER_ACTIONS = ("list", "get", "create", "update", "delete")


def _api_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--token", required=True, help="API bearer token (never printed)")
    common.add_argument("--key", required=True, help="Push3 gateway or account key")
    common.add_argument("--gateway", metavar="MAC", help="the Push3 gateway's MAC address")
    common.add_argument("--api-url", default=DEFAULT_API_URL, metavar="URL")
    common.add_argument("--timeout", type=float, default=15.0, metavar="S", help="per request")
    return common


def add_device_actions(actions: argparse._SubParsersAction[Any]) -> None:
    """Add `command` and `triggers` to the `push` family's action subparsers."""
    common = _api_options()
    command = actions.add_parser(
        "command", parents=[common], help="send a Device Settings command, print the answer"
    )
    command.add_argument("--target", choices=[t.value for t in Target], default="meter")
    command.add_argument("--target-id", required=True, metavar="ID", help="meter address")
    command.add_argument(
        "--command",
        required=True,
        metavar="NAME",
        help="e.g. SetRelay; known: " + ", ".join(sorted({name for _, name in COMMANDS})),
    )
    command.add_argument("--params", default="{}", metavar="JSON", help="the parameters")
    command.add_argument(
        "--answer-timeout", type=float, default=DEFAULT_ANSWER_TIMEOUT, metavar="S"
    )
    command.add_argument(
        "--transport", choices=[t.value for t in StreamTransport], default="stream"
    )
    command.set_defaults(handler=handle_command)
    triggers = actions.add_parser("triggers", parents=[common], help="Push3 gateway triggers")
    triggers.add_argument("operation", choices=TRIGGER_ACTIONS)
    triggers.add_argument("--uuid", help="the trigger (get, update, delete)")
    triggers.add_argument("--trigger", metavar="JSON", help="the trigger object (create, update)")
    triggers.set_defaults(handler=handle_triggers)


def _json_argument(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        msg = f"{what} is not valid JSON ({err.msg} at character {err.pos})"
        raise InvalidParameterError(msg) from None
    except RecursionError:
        msg = f"{what} is nested too deeply"
        raise InvalidParameterError(msg) from None


async def handle_command(args: argparse.Namespace) -> None:
    """Validate, send, wait for the device, print its answer; fail unless it succeeded."""
    params = _json_argument(args.params, "--params")
    if not isinstance(params, dict):
        msg = "--params must be a JSON object"
        raise InvalidParameterError(msg)
    spec, checked = validate_command(args.target, args.command, params)
    check_target_id(spec.target, args.target_id)
    validate_api_url(args.api_url)
    gateway = normalize_gateway(args.gateway) if args.gateway else None
    async with aiohttp.ClientSession() as session:
        client = DeviceApiClient(
            session,
            args.token,
            args.key,
            api_url=args.api_url,
            gateway=gateway,
            answer_timeout=args.answer_timeout,
            request_timeout=args.timeout,
            transport=args.transport,
        )
        async with client:
            answer = await client.send(spec.target, args.target_id, spec.name, checked)
    print(json.dumps(answer.as_json()))
    raise_for_failure(answer)


async def handle_triggers(args: argparse.Namespace) -> None:
    """Run one trigger operation and print the API's JSON."""
    operation: str = args.operation
    trigger: Any = None
    if operation in ("create", "update"):
        if args.trigger is None:
            msg = f"triggers {operation} needs --trigger JSON"
            raise InvalidParameterError(msg)
        trigger = _json_argument(args.trigger, "--trigger")
        validate_trigger(trigger, partial=operation == "update")
    uuid: str | None = None
    if operation in ("get", "update", "delete"):
        if args.uuid is None:
            msg = f"triggers {operation} needs --uuid"
            raise InvalidParameterError(msg)
        uuid = check_trigger_uuid(args.uuid)
    gateway = normalize_gateway(args.gateway) if args.gateway else None
    if operation in ("list", "create") and gateway is None:
        msg = f"triggers {operation} needs --gateway MAC"
        raise InvalidParameterError(msg)
    validate_api_url(args.api_url)
    async with aiohttp.ClientSession() as session:
        client = TriggerClient(
            session, args.token, args.key, api_url=args.api_url, request_timeout=args.timeout
        )
        result: Any
        match operation:
            case "list":
                assert gateway is not None
                found = await client.list(gateway)
                result = {"triggers": [item.as_json() for item in found]}
            case "get":
                assert uuid is not None
                result = {"trigger": (await client.get(uuid)).as_json()}
            case "create":
                assert gateway is not None
                result = {"trigger": (await client.create(gateway, trigger)).as_json()}
            case "update":
                assert uuid is not None
                result = {"trigger": (await client.update(uuid, trigger)).as_json()}
            case _:
                assert uuid is not None
                result = await client.delete(uuid)
    print(json.dumps(result))
