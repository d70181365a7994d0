"""Which physical port or bridge a bus URL reaches, so two clients never share one wire.

Two Home Assistant entries may name one serial-to-TCP bridge by different URLs
(`socket://bridge.lan:4001` and `socket://192.168.1.20:4001`) or one adapter by different
paths (`/dev/ttyUSB0` and its `/dev/serial/by-id/...` link). Two `EkmBus` objects there would
interleave frames, so each open bus claims the identities of its endpoint (resolved addresses
and port, or the device's inode) and a second claim on any of them is refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import stat
import weakref
from urllib.parse import urlsplit

from ..errors import MeterBusInUseError

_CLAIMS: weakref.WeakValueDictionary[str, object] = weakref.WeakValueDictionary()


async def endpoint_ids(url: str) -> frozenset[str]:
    """Names for the endpoint `url` reaches; two URLs reach the same one when they share one.

    Lookup failures fall back to the URL itself: the connection attempt reports them.
    """
    if "://" in url:
        return await _network_ids(url)
    try:
        info = await asyncio.get_running_loop().run_in_executor(None, os.stat, url)
    except OSError:
        return frozenset({f"path:{url}"})
    if stat.S_ISCHR(info.st_mode):
        return frozenset({f"device:{info.st_rdev}"})
    return frozenset({f"inode:{info.st_dev}:{info.st_ino}"})


async def _network_ids(url: str) -> frozenset[str]:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return frozenset({f"url:{url}"})
    if not host or port is None:
        return frozenset({f"url:{url}"})
    try:
        return frozenset({f"tcp:{_plain_ip(host)}:{port}"})
    except ValueError:
        pass  # a host name
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return frozenset({f"host:{host.lower()}:{port}"})
    return frozenset(f"tcp:{_plain_ip(str(info[4][0]))}:{port}" for info in infos)


def _plain_ip(text: str) -> str:
    """An IP address in one spelling: IPv4-mapped IPv6 (`::ffff:10.0.0.5`) as IPv4."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def claim(owner: object, ids: frozenset[str], url: str) -> None:
    """Reserve `ids` for `owner`; MeterBusInUseError when another live owner holds one."""
    for name in ids:
        holder = _CLAIMS.get(name)
        if holder is not None and holder is not owner:
            msg = f"{url} reaches a port or bridge another connection already uses"
            raise MeterBusInUseError(msg)
    for name in ids:
        _CLAIMS[name] = owner


def release(owner: object) -> None:
    """Give up every identity `owner` holds."""
    for name, holder in list(_CLAIMS.items()):
        if holder is owner:
            del _CLAIMS[name]
