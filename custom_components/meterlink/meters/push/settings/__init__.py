"""EKM Device Settings API: sendCommand to meters and ioStacks, answers from the push stream.

`commands` (the parameter schemas) and `stream` (receipts, answers, the stream decoder and
demux) are sans-IO; `client.DeviceApiClient` adds the aiohttp transport; `cli` is the
commissioning tool's `push command` and `push triggers` groups. The Trigger API
(`meters.push.triggers`) shares the token and transport of `client`.
"""

from .client import (
    DEFAULT_ANSWER_TIMEOUT,
    DEFAULT_API_URL,
    AnswerTimeoutError,
    CommandFailedError,
    DeviceApiClient,
    StreamTransport,
    raise_for_failure,
    request_json,
)
from .commands import (
    COMMANDS,
    IOSTACK_PINS,
    RELAYS,
    CommandSpec,
    ParamKind,
    ParamSpec,
    Target,
    check_target_id,
    command_spec,
    normalize_gateway,
    validate_command,
)
from .stream import CommandAnswer, CommandReceipt, parse_answer, parse_receipt

__all__ = [
    "COMMANDS",
    "DEFAULT_ANSWER_TIMEOUT",
    "DEFAULT_API_URL",
    "IOSTACK_PINS",
    "RELAYS",
    "AnswerTimeoutError",
    "CommandAnswer",
    "CommandFailedError",
    "CommandReceipt",
    "CommandSpec",
    "DeviceApiClient",
    "ParamKind",
    "ParamSpec",
    "StreamTransport",
    "Target",
    "check_target_id",
    "command_spec",
    "normalize_gateway",
    "parse_answer",
    "parse_receipt",
    "raise_for_failure",
    "request_json",
    "validate_command",
]
