"""Sans-IO EKM Push Account API: which gateways, meters and ioStacks a key may see.

`GET {account}/account/api/account?key=K` (ekm.md §2.1; seed 003: "information for accounts
and devices"; a gateway key sees only its gateway). EKM does not publish the answer's layout;
working public clients read top-level `gateways` whose items carry `mac_address` and `name`,
top-level `meters` of `{"address": ...}` objects, and (from `/account/api/gateway`) meters
nested in the gateway (vendor-evidence.md A1). The parser takes those and the other plausible
spellings (devices as strings, numbers or objects; `mac`/`id`; `iostacks`/`ioStacks`), and
refuses only an answer that names no gateway and no device.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from ..errors import MeterFrameError
from .fields import device_address
from .models import PushGateway, PushInventory
from .realtime import check_key, mac_address, normalize_base_url
from .status import cloud_document

DEFAULT_ACCOUNT_URL = "https://api.ekmpush.com"
ACCOUNT_PATH = "/account/api/account"
# `mac_address` is what working public clients read (vendor-evidence.md A1); the rest are
# plausible spellings kept for safety.
_MAC_KEYS = ("mac_address", "mac", "mac_addr", "gateway_mac", "gateway", "id", "gateway_id")
_NAME_KEYS = ("name", "gateway_name", "label")
_DEVICE_KEYS = ("meter", "address", "device", "id", "device_id", "iostack", "number")
_METER_LISTS = ("meters",)
_IOSTACK_LISTS = ("iostacks", "io_stacks", "iostack")
_WRAPPERS = ("account", "data", "result")


def account_url(base_url: str, key: str) -> str:
    """The Account API URL. It contains the key: never log it."""
    return f"{normalize_base_url(base_url)}{ACCOUNT_PATH}?key={quote(check_key(key), safe='')}"


def interpret_account(
    status: int,
    body: bytes | str,
    *,
    key: str | None = None,
    retry_after: str | None = None,
    now: float | None = None,
) -> PushInventory:
    """Classify one Account API answer: the inventory, or the typed error it amounts to."""
    document = cloud_document(
        status, body, key=key, retry_after=retry_after, now=now, what="EKM Push account"
    )
    return parse_inventory(document)


def parse_inventory(document: Any) -> PushInventory:
    """A decoded Account API answer as gateways, meters and ioStacks (12-digit addresses)."""
    root = _unwrap(document)
    if not isinstance(root, Mapping):
        msg = "the account answer is not a JSON object"
        raise MeterFrameError(msg)
    gateways: list[PushGateway] = []
    seen_any = False
    raw_gateways = _member(root, ("gateways",))
    if isinstance(raw_gateways, Mapping):  # {"<mac>": {...}} instead of a list
        raw_gateways = [
            {"mac": mac, **value} if isinstance(value, Mapping) else {"mac": mac}
            for mac, value in raw_gateways.items()
        ]
    if isinstance(raw_gateways, list):
        seen_any = True
        gateways = [g for item in raw_gateways if (g := _gateway(item)) is not None]
    loose_meters = _devices(_member(root, _METER_LISTS))
    loose_iostacks = _devices(_member(root, _IOSTACK_LISTS))
    seen_any = seen_any or any(
        isinstance(_member(root, names), list) for names in (_METER_LISTS, _IOSTACK_LISTS)
    )
    if not seen_any:
        msg = "the account answer names no gateways, meters or ioStacks"
        raise MeterFrameError(msg)
    meters = _unique([*(a for g in gateways for a in g.meters), *loose_meters])
    iostacks = _unique([*(a for g in gateways for a in g.iostacks), *loose_iostacks])
    return PushInventory(tuple(gateways), meters, tuple(a for a in iostacks if a not in meters))


def _unwrap(document: Any) -> Any:
    """Step into `{"account": {...}}`-style wrappers that hold the lists."""
    for _ in range(3):
        if not isinstance(document, Mapping) or _member(document, ("gateways", *_METER_LISTS)):
            return document
        inner = _member(document, _WRAPPERS)
        if not isinstance(inner, Mapping):
            return document
        document = inner
    return document


def _member(node: Mapping[str, Any], names: Iterable[str]) -> Any:
    wanted = set(names)
    return next((v for k, v in node.items() if str(k).lower().replace("-", "_") in wanted), None)


def _gateway(item: object) -> PushGateway | None:
    if not isinstance(item, Mapping):
        return None
    mac = next(
        (m for name in _MAC_KEYS if (m := mac_address(_member(item, (name,)))) is not None),
        None,
    )
    if mac is None:
        return None
    name = _member(item, _NAME_KEYS)
    meters = _devices(_member(item, _METER_LISTS))
    iostacks = _devices(_member(item, _IOSTACK_LISTS))
    devices = _member(item, ("devices",))
    for device in devices if isinstance(devices, list) else []:
        if isinstance(device, Mapping):
            kind = str(_member(device, ("type", "kind")) or "meter").lower()
            target = iostacks if "iostack" in kind.replace("_", "") else meters
            target.extend(_devices([device]))
    return PushGateway(
        mac,
        name.strip() if isinstance(name, str) and name.strip().isprintable() else None,
        _unique(meters),
        _unique(a for a in iostacks if a not in meters),
    )


def _devices(items: object) -> list[str]:
    """Addresses from a list of strings, numbers or `{"meter": ...}`-like objects."""
    if not isinstance(items, list):
        return []
    found: list[str] = []
    for item in items:
        value = item
        if isinstance(item, Mapping):
            value = next((v for n in _DEVICE_KEYS if (v := _member(item, (n,))) is not None), None)
        address = device_address(value)
        if address is not None:
            found.append(address)
    return found


def _unique(addresses: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(addresses))
