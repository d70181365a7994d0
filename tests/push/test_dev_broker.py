"""scripts/develop's MQTT broker: its CA is kept across starts, and the streams go there.

`const.DEV_MQTT_URL` / `DEV_MQTT_CAFILE` are read once at import, so the override is checked
in a fresh interpreter with the variables set (and without them: EKM's broker, the system CAs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from custom_components.meterlink.const import DEV_MQTT_CAFILE_ENV, DEV_MQTT_URL_ENV
from simulator.ekm.push_broker import kept_ca, make_ca

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json; from custom_components.meterlink.push import streaming as s; "
    "print(json.dumps([s.BROKER.host, s.BROKER.port, "
    "[dict(x[0] for x in c['subject']) for c in s.stream_tls_context().get_ca_certs()]]))"
)


def _streaming_target(**env: str) -> list[object]:
    """(host, port, CA subjects) the streams of a fresh Home Assistant would use."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("METERLINK_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: list[object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_development_broker_and_ca_replace_ekms(tmp_path: Path) -> None:
    """With the variables set the streams connect to that broker trusting only its CA."""
    ca = kept_ca(tmp_path)
    host, port, subjects = _streaming_target(
        **{DEV_MQTT_URL_ENV: "mqtts://127.0.0.1:18883", DEV_MQTT_CAFILE_ENV: str(ca.ca_file)}
    )
    assert (host, port) == ("127.0.0.1", 18883)
    assert subjects == [{"commonName": "MeterLink test CA"}]


def test_without_the_variables_streams_go_to_ekm() -> None:
    """A user's Home Assistant never sets them: EKM's broker, verified with the usual CAs."""
    host, port, subjects = _streaming_target()
    assert (host, port) == ("mqtts.ekmpush.com", 8883)
    assert {"commonName": "MeterLink test CA"} not in subjects  # type: ignore[operator]


def test_kept_ca_is_reused_until_it_is_about_to_expire(tmp_path: Path) -> None:
    """scripts/develop makes its CA once; one that expires within a day is made again."""
    first = kept_ca(tmp_path).ca_pem
    assert kept_ca(tmp_path).ca_pem == first
    expiring = make_ca(tmp_path, days=0).ca_pem
    renewed = kept_ca(tmp_path)
    assert renewed.ca_pem not in {first, expiring}
    assert kept_ca(tmp_path).ca_pem == renewed.ca_pem
