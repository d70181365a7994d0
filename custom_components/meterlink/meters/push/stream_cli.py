"""`meter push stream`: watch a Push3 gateway's MQTT stream from a shell.

`scripts/meter push stream --key GATEWAY_KEY [--broker mqtts://HOST:PORT] [--cafile PEM]
[--insecure] [--summary] [--count N] [--timeout S] [--json]` subscribes to `realtime/<key>`
(`summary/<key>`) and prints each message; with `--json` one object per line, address -> EKM
field -> value plus `Time_Stamp_UTC_ms`, exactly what `meter push read --json` prints.

Exit codes (a contract other tools rely on): 0 after `--count` messages, 4 when `--timeout`
seconds pass without a message, 6 when the broker refuses the key, 3 when it cannot connect
(a failed TLS verification included), 5 on a malformed message when `--count` was given
(without it a malformed message is a note on stderr and the stream goes on).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..errors import InvalidParameterError, MeterTimeoutError
from .mqtt import DEFAULT_BROKER, StreamKind, parse_broker
from .mqtt_client import BadMessage, Message, PushStream, Silent, client_id, tls_context


def add_stream_action(actions: argparse._SubParsersAction[Any], key_option: Any) -> None:
    """Add `stream` to the `push` family's actions (`key_option(parser, what)` adds --key)."""
    stream = actions.add_parser("stream", help="print a Push3 gateway's MQTT messages")
    key_option(stream, "the Push3 gateway key")
    stream.add_argument("--broker", default=DEFAULT_BROKER, metavar="mqtts://HOST:PORT")
    stream.add_argument("--cafile", default=None, metavar="PEM", help="trust this CA only")
    stream.add_argument("--insecure", action="store_true", help="do not verify the broker")
    stream.add_argument("--summary", action="store_true", help="summary/<key>, not realtime")
    stream.add_argument("--count", type=int, default=None, metavar="N", help="stop after N")
    stream.add_argument("--timeout", type=float, default=None, metavar="S", help="max silence")
    stream.add_argument("--json", action="store_true", help="one JSON object per message")
    stream.set_defaults(handler=handle_stream)


async def handle_stream(args: argparse.Namespace) -> None:
    """Print messages until `--count` are in, the stream is silent for `--timeout`, or ^C."""
    # cli.py registers this module, so its printers are imported when the command runs.
    from .cli import print_stream_message

    if args.count is not None and args.count < 1:
        raise InvalidParameterError("--count is at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise InvalidParameterError("--timeout is a number of seconds above 0")
    if args.cafile is not None and args.insecure:
        raise InvalidParameterError("--cafile and --insecure exclude each other")
    broker = parse_broker(args.broker)
    context = await asyncio.get_running_loop().run_in_executor(
        None, lambda: tls_context(args.cafile, insecure=args.insecure)
    )
    stream = PushStream(
        args.key,
        context,
        broker=broker,
        kind=StreamKind.SUMMARY if args.summary else StreamKind.REALTIME,
        identifier=client_id("meterlink-cli"),
        watchdog=args.timeout,
        reconnect=False,
    )
    printed = 0
    events = stream.events()
    try:
        async for event in events:
            if isinstance(event, Silent):
                msg = f"no message within {event.seconds:g} s"
                raise MeterTimeoutError(msg)
            if isinstance(event, BadMessage):
                if args.count is not None:
                    raise event.error
                print(f"note: malformed message skipped: {event.error}", file=sys.stderr)
                continue
            if not isinstance(event, Message):
                continue
            print_stream_message(event.message.readings, as_json=args.json)
            printed += 1
            if args.count is not None and printed >= args.count:
                return
    finally:
        await events.aclose()
