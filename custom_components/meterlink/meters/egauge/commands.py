"""Every /cmd operation of the eGauge WebAPI, validated before anything is sent.

Each builder turns typed arguments into a `CommandRequest` (path, JSON body, whether it is
destructive, which values are secrets) or raises InvalidParameterError, so a typo never
reaches a meter that would half-apply it. `run` sends one and, for the long operations that
answer with a token, follows `/sys/status/<token>` until the meter says it is done, with the
vendor's progress tags in words.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import (
    InvalidParameterError,
    MeterCommandError,
    MeterTimeoutError,
    MeterUnsupportedError,
)
from .auth import NO_BODY
from .client import EgaugeClient
from .models import CommandAnswer, OperationStatus, UpdateOffer
from .protocol import is_token, parse_update_offer

LINK_TYPES = frozenset(
    {"ailux", "coap", "ctrlbyweb", "modbus", "po", "rtcoa", "slowd", "tcp", "tempalert", "udp"}
)
MAX_RESTORE_CHUNK = 2 * 1024 * 1024
"""A meter may refuse a restore body larger than 2 MiB (of base64)."""

_MAC_DEK_RE = re.compile(r"(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}/[A-Za-z0-9-]{4,64}")
_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One validated operation; `secrets` are body values that must never be shown."""

    operation: str
    path: str
    body: object = NO_BODY
    destructive: bool = False
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How an operation ended: the first answer; for a followed token its status and result."""

    answer: CommandAnswer
    status: OperationStatus | None = None
    result: object = None

    def as_json(self) -> dict[str, Any]:
        """The meter's final answer: the /cmd answer, or for a followed token status+result."""
        if self.status is None:
            return dict(self.answer.document)
        status = self.status
        final: dict[str, Any] = {"done": status.done, "ts": status.ts}
        for key in ("progress", "info", "error", "info_text", "error_text"):
            if getattr(status, key) is not None:
                final[key] = getattr(status, key)
        if status.args:
            final["args"] = list(status.args)
        return {"token": self.answer.token, "status": final, "result": self.result}


def _invalid(message: str) -> InvalidParameterError:
    return InvalidParameterError(message)


def _plain(text: str, what: str, *, limit: int = 256) -> str:
    if not text or len(text) > limit or any(ord(c) < 32 or c == "\x7f" for c in text):
        msg = f"{what} is 1 to {limit} printable characters"
        raise _invalid(msg)
    return text


def _stamp(when: float, what: str) -> str:
    if not math.isfinite(when) or when < 0:
        msg = f"{what} is a Unix time (seconds since 1970)"
        raise _invalid(msg)
    return f"{when:.9f}".rstrip("0").rstrip(".")


def _regs(regs: Sequence[int] | None) -> list[int] | None:
    if regs is None:
        return None
    if not regs or any(isinstance(r, bool) or not isinstance(r, int) or r < 0 for r in regs):
        msg = "registers are given as their database ids (whole numbers from 0)"
        raise _invalid(msg)
    return list(regs)


def reboot() -> CommandRequest:
    """Restart the meter (gone for 20 to 60 s; tokens are revoked)."""
    return CommandRequest("reboot", "/cmd/reboot")


def set_time(when: float | None) -> CommandRequest:
    """Set the clock to `when` (Unix time), or with None only restart NTP/PTP (a resync)."""
    body = None if when is None else _stamp(when, "the time")
    return CommandRequest("set-time", "/cmd/set-time", body)


def clear(what: str) -> CommandRequest:
    """Clear the replay excess of remote registers, or the web server's file cache."""
    if what not in ("excess", "web_cache"):
        msg = "clear takes 'excess' or 'web_cache'"
        raise _invalid(msg)
    return CommandRequest("clear", "/cmd/clear", what)


def _target(target: str) -> str:
    if target not in ("fw", "kernel"):
        msg = "the update target is 'fw' or 'kernel'"
        raise _invalid(msg)
    return target


def update_list(target: str = "fw", branch: str | None = None) -> CommandRequest:
    """Ask which firmware (or kernel) version is available."""
    body: dict[str, object] = {"action": "list", "target": _target(target)}
    if branch is not None:
        body["branch"] = _plain(branch, "the branch", limit=64) if branch else ""
    return CommandRequest("update-list", "/cmd/update", body)


def update_install(
    version: str | None = None,
    target: str = "fw",
    *,
    force: bool = False,
    branch: str | None = None,
) -> CommandRequest:
    """Install a firmware (or kernel) version; None installs the newest of the branch."""
    body: dict[str, object] = {"action": "install", "target": _target(target)}
    if version is not None:
        if not _VERSION_RE.fullmatch(version):
            msg = "a version looks like 4.6 or 4.5alpha1"
            raise _invalid(msg)
        body["version"] = version
    if branch is not None:
        body["branch"] = _plain(branch, "the branch", limit=64) if branch else ""
    if force:
        body["force"] = True
    return CommandRequest("update-install", "/cmd/update", body)


def mail_test(
    address: str,
    *,
    smarthost: str | None = None,
    mailuser: str | None = None,
    mailpass: str | None = None,
    fromaddr: str | None = None,
) -> CommandRequest:
    """Send a test mail with the given mail settings."""
    if "@" not in address or any(c.isspace() for c in address):
        msg = "the address is an e-mail address"
        raise _invalid(msg)
    body: dict[str, object] = {"address": _plain(address, "the address")}
    for key, value in (
        ("smarthost", smarthost),
        ("mailuser", mailuser),
        ("mailpass", mailpass),
        ("fromaddr", fromaddr),
    ):
        if value is not None:
            body[key] = _plain(value, key)
    return CommandRequest(
        "test-email", "/cmd/test-email", body, secrets=(mailpass,) if mailpass else ()
    )


def remote_test(address: str, linktype: str) -> CommandRequest:
    """Try a remote device and list its registers."""
    if linktype not in LINK_TYPES:
        msg = f"the link type is one of {', '.join(sorted(LINK_TYPES))}"
        raise _invalid(msg)
    body = {"address": _plain(address, "the address"), "linktype": linktype}
    return CommandRequest("test-remote", "/cmd/test-remote", body)


def activate(service: str, provider: str) -> CommandRequest:
    """Activate the alert or push service with a provider."""
    if service not in ("alert", "push"):
        msg = "the service is 'alert' or 'push'"
        raise _invalid(msg)
    body = {"service": service, "provider": _plain(provider, "the provider")}
    return CommandRequest("activate", "/cmd/activate", body)


def cancel(token: str) -> CommandRequest:
    """Cancel the long operation of `token`."""
    if not is_token(token):
        msg = "a token is 32 or more hexadecimal digits"
        raise _invalid(msg)
    return CommandRequest("cancel", "/cmd/cancel", {"token": token})


def _db(
    action: str, start: float | None, stop: float | None, regs: Sequence[int] | None
) -> dict[str, object]:
    body: dict[str, object] = {"action": action}
    if start is not None:
        body["from"] = _stamp(start, "'from'")
    if stop is not None:
        body["to"] = _stamp(stop, "'to'")
    if start is not None and stop is not None and start > stop:
        msg = "'from' must not be younger than 'to'"
        raise _invalid(msg)
    registers = _regs(regs)
    if registers is not None:
        body["regs"] = registers
    return body


def db_zero(
    start: float | None = None, stop: float | None = None, regs: Sequence[int] | None = None
) -> CommandRequest:
    """Zero all (or some registers' / some time's) data: destroys history."""
    return CommandRequest("db-zero", "/cmd/db", _db("zero", start, stop, regs), destructive=True)


def db_split(
    regs: Sequence[int] | None = None, start: float | None = None, stop: float | None = None
) -> CommandRequest:
    """Split the positive changes of net registers into their positive-only registers."""
    return CommandRequest("db-split", "/cmd/db", _db("split", start, stop, regs), destructive=True)


def db_restore(data: bytes, *, more_chunks: bool = False) -> CommandRequest:
    """Restore one chunk of a backup file (overwrites the database)."""
    encoded = base64.b64encode(data).decode("ascii")
    if not data or len(encoded) > MAX_RESTORE_CHUNK:
        msg = "a restore chunk is 1 byte to 1.5 MiB of backup data (2 MiB in base64)"
        raise _invalid(msg)
    body: dict[str, object] = {"action": "restore", "data": encoded}
    if more_chunks:
        body["more_chunks"] = True
    return CommandRequest("db-restore", "/cmd/db", body, destructive=True)


def factory_restore() -> CommandRequest:
    """Restore the factory settings and reboot: every setting and all data are lost."""
    return CommandRequest("factory-restore", "/cmd/factory-restore", destructive=True)


def wlan(
    action: str,
    *,
    ssid: str | None = None,
    key: str | None = None,
    hex_key: bool = False,
    hidden: bool = False,
    network_id: int | None = None,
) -> CommandRequest:
    """Add, select or forget a Wi-Fi network (the meter may drop off the network)."""
    body: dict[str, object] = {"action": action}
    if action == "add":
        if ssid is None or not ssid or len(ssid) > 32 or any(c in ssid for c in "\n\0"):
            msg = "adding a network needs its SSID (1 to 32 characters)"
            raise _invalid(msg)
        body["ssid"] = ssid
        if key is not None:
            if hex_key and not _HEX_RE.fullmatch(key):
                msg = "a hex key consists of hexadecimal digits"
                raise _invalid(msg)
            body["key"] = _plain(key, "the key", limit=64)
            if hex_key:
                body["hex"] = True
        if hidden:
            body["hidden"] = True
    elif action in ("select", "forget"):
        if network_id is None or network_id < 0:
            msg = f"{action} needs the network's id (a whole number from 0)"
            raise _invalid(msg)
        body["id"] = network_id
    else:
        msg = "the Wi-Fi action is 'add', 'select' or 'forget'"
        raise _invalid(msg)
    return CommandRequest(
        "wlan", "/cmd/wlan", body, destructive=True, secrets=(key,) if key else ()
    )


def homeplug(password: str, targets: Sequence[str]) -> CommandRequest:
    """Set a new HomePlug encryption password on the meter's bridge and remote bridges."""
    if not 4 <= len(password) <= 24 or any(ord(c) < 32 or c == '"' for c in password):
        msg = "the HomePlug password is 4 to 24 characters without quotes or control characters"
        raise _invalid(msg)
    if not targets or not all(_MAC_DEK_RE.fullmatch(target) for target in targets):
        msg = "each target is MAC/DEK, e.g. 11:22:33:44:55:66/ABCD-EFGH-IJKL-MNOP"
        raise _invalid(msg)
    body = {"action": "setpwd", "password": password, "targets": list(targets)}
    return CommandRequest("homeplug", "/cmd/homeplug", body, destructive=True, secrets=(password,))


type Progress = Callable[[OperationStatus], None]


async def run(
    client: EgaugeClient,
    command: CommandRequest,
    *,
    wait: bool = True,
    poll_interval: float = 1.0,
    give_up_after: float = 600.0,
    on_progress: Progress | None = None,
) -> CommandResult:
    """Send `command` and, with `wait`, follow its token until the meter says it is done.

    An error tag at the end is a MeterCommandError (in words); an operation still running after
    `give_up_after` s is a MeterTimeoutError (it may still finish on the meter).
    """
    answer = await client.command(command.path, command.body)
    if answer.token is None or not wait:
        return CommandResult(answer)
    deadline = time.monotonic() + give_up_after
    while True:
        status = await client.status(answer.token)
        if on_progress is not None:
            on_progress(status)
        if status.done:
            break
        if time.monotonic() >= deadline:
            msg = f"{command.operation} was not done after {give_up_after:g} s"
            raise MeterTimeoutError(msg)
        await asyncio.sleep(poll_interval)
    if status.error is not None:
        msg = f"{command.operation} failed on the meter: {status.error_text}"
        raise MeterCommandError(msg)
    try:
        result = await client.status_result(answer.token)
    except MeterUnsupportedError:  # an operation without a result (an installation)
        result = None
    return CommandResult(answer, status, result)


async def available_update(client: EgaugeClient, target: str = "fw") -> UpdateOffer:
    """The newest version the meter could install (`update list`)."""
    answer = await client.command("/cmd/update", update_list(target).body)
    return parse_update_offer(answer.document)


def _time_or_none(params: Mapping[str, object], key: str) -> float | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        msg = f"'{key}' is a Unix time"
        raise _invalid(msg)
    try:
        return float(value)
    except ValueError:
        msg = f"'{key}' is a Unix time"
        raise _invalid(msg) from None


def _text_or_none(params: Mapping[str, object], key: str) -> str | None:
    value = params.get(key)
    if value is None or isinstance(value, str):
        return value
    msg = f"'{key}' is text"
    raise _invalid(msg)


def _restore_data(params: Mapping[str, object]) -> bytes:
    data = params.get("data")
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        try:
            return base64.b64decode(data, validate=True)
        except ValueError:
            pass
    msg = "'data' is the backup chunk in base64"
    raise _invalid(msg)


_BUILDERS: Mapping[str, tuple[frozenset[str], Callable[[Mapping[str, Any]], CommandRequest]]] = {
    "reboot": (frozenset(), lambda p: reboot()),
    "set-time": (frozenset({"time"}), lambda p: set_time(_time_or_none(p, "time"))),
    "clear": (frozenset({"what"}), lambda p: clear(str(p.get("what")))),
    "update-list": (
        frozenset({"target", "branch"}),
        lambda p: update_list(str(p.get("target", "fw")), _text_or_none(p, "branch")),
    ),
    "update-install": (
        frozenset({"version", "target", "force", "branch"}),
        lambda p: update_install(
            _text_or_none(p, "version"),
            str(p.get("target", "fw")),
            force=bool(p.get("force", False)),
            branch=_text_or_none(p, "branch"),
        ),
    ),
    "test-email": (
        frozenset({"address", "smarthost", "mailuser", "mailpass", "fromaddr"}),
        lambda p: mail_test(
            str(p.get("address", "")),
            smarthost=_text_or_none(p, "smarthost"),
            mailuser=_text_or_none(p, "mailuser"),
            mailpass=_text_or_none(p, "mailpass"),
            fromaddr=_text_or_none(p, "fromaddr"),
        ),
    ),
    "test-remote": (
        frozenset({"address", "linktype"}),
        lambda p: remote_test(str(p.get("address", "")), str(p.get("linktype", ""))),
    ),
    "activate": (
        frozenset({"service", "provider"}),
        lambda p: activate(str(p.get("service", "")), str(p.get("provider", ""))),
    ),
    "cancel": (frozenset({"token"}), lambda p: cancel(str(p.get("token", "")))),
    "db-zero": (
        frozenset({"from", "to", "regs"}),
        lambda p: db_zero(_time_or_none(p, "from"), _time_or_none(p, "to"), p.get("regs")),
    ),
    "db-split": (
        frozenset({"from", "to", "regs"}),
        lambda p: db_split(p.get("regs"), _time_or_none(p, "from"), _time_or_none(p, "to")),
    ),
    "db-restore": (
        frozenset({"data", "more_chunks"}),
        lambda p: db_restore(_restore_data(p), more_chunks=bool(p.get("more_chunks", False))),
    ),
    "factory-restore": (frozenset(), lambda p: factory_restore()),
    "wlan": (
        frozenset({"action", "ssid", "key", "hex", "hidden", "id"}),
        lambda p: wlan(
            str(p.get("action", "")),
            ssid=_text_or_none(p, "ssid"),
            key=_text_or_none(p, "key"),
            hex_key=bool(p.get("hex", False)),
            hidden=bool(p.get("hidden", False)),
            network_id=p.get("id"),
        ),
    ),
    "homeplug": (
        frozenset({"password", "targets"}),
        lambda p: homeplug(str(p.get("password", "")), list(p.get("targets") or [])),
    ),
}
OPERATIONS: tuple[str, ...] = tuple(_BUILDERS)
"""Every /cmd operation by the name the commissioning tool and the action use."""


def build(operation: str, params: Mapping[str, Any] | None = None) -> CommandRequest:
    """The validated request of `operation` with its parameters (names as in the vendor spec)."""
    entry = _BUILDERS.get(operation)
    if entry is None:
        msg = f"the operation is one of {', '.join(OPERATIONS)}"
        raise _invalid(msg)
    allowed, make = entry
    given = {key: value for key, value in (params or {}).items() if value is not None}
    unknown = set(given) - allowed
    if unknown:
        msg = f"{operation} takes {', '.join(sorted(allowed)) or 'no parameters'}"
        raise _invalid(msg)
    return make(given)
