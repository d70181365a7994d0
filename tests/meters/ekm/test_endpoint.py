"""Which port or bridge a bus URL reaches: the identities two URLs must share to be one wire."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from custom_components.meterlink.meters.ekm.endpoint import claim, endpoint_ids, release
from custom_components.meterlink.meters.errors import MeterBusInUseError


async def test_ip_spellings_of_one_bridge_are_one_endpoint() -> None:
    plain = await endpoint_ids("socket://10.0.0.5:4001")
    assert plain == {"tcp:10.0.0.5:4001"}
    assert await endpoint_ids("socket://[::ffff:10.0.0.5]:4001") == plain
    assert await endpoint_ids("rfc2217://10.0.0.5:4001") == plain
    assert await endpoint_ids("socket://10.0.0.5:4002") != plain


@pytest.mark.parametrize("url", ["socket://10.0.0.5", "socket://[x:4001", "socket://:4001"])
async def test_a_url_without_host_and_port_is_only_itself(url: str) -> None:
    assert await endpoint_ids(url) == {f"url:{url}"}


async def test_paths_name_the_file_they_reach(tmp_path: Path) -> None:
    target = tmp_path / "port"
    target.write_text("")
    link = tmp_path / "by-id"
    link.symlink_to(target)
    assert await endpoint_ids(str(link)) == await endpoint_ids(str(target))
    missing = str(tmp_path / "none")
    assert await endpoint_ids(missing) == {f"path:{missing}"}
    assert await endpoint_ids("/dev/null") == {f"device:{os.stat('/dev/null').st_rdev}"}


class _Owner:
    """A bus stand-in (claims are held weakly, so the owner must be weak-referenceable)."""


def test_a_claim_is_refused_while_another_owner_holds_it_and_free_after_release() -> None:
    first, second = _Owner(), _Owner()
    claim(first, frozenset({"tcp:10.0.0.9:1"}), "a")
    claim(first, frozenset({"tcp:10.0.0.9:1"}), "a")  # the owner again: fine
    with pytest.raises(MeterBusInUseError, match="another connection"):
        claim(second, frozenset({"tcp:10.0.0.9:1", "tcp:10.0.0.9:2"}), "b")
    release(first)
    claim(second, frozenset({"tcp:10.0.0.9:1"}), "b")
    release(second)
