"""A real mosquitto broker for the MQTT tests: TLS on 127.0.0.1, a throw-away CA, EKM's ACL.

EKM's broker (seed 003) lets a client in with the gateway key as username and no password and
delivers `realtime/<key>` / `summary/<key>` to that username only; a key it does not know is
refused. `Mosquitto` reproduces both with the Debian package, nothing simulated:

* the `open` listener: `allow_anonymous true` and `pattern read realtime/%u` (and summary), so a
  client may subscribe to any topic but only receives its own key's (another key: silence);
* the `refusing` listener: `listener_allow_anonymous false` and no password file, so every
  CONNECT is answered "not authorised" (the bad-key case);
* the user `publisher` may write every topic (the tests' and the simulator's gateway).

The CA, the server certificate (SAN IP 127.0.0.1) and the broker's config come from
`simulator.ekm.push_broker` (scripts/develop runs the same broker); the CA is made for each test
session. The broker runs as a child process (`subprocess.Popen` starts no thread, which Home
Assistant's test harness would count as a leak). A missing binary fails the test: MQTT tests
never skip (`scripts/setup` installs mosquitto where the tests run).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from simulator.ekm.push_broker import HOST, BrokerCa, make_ca, write_config
from simulator.ekm.push_mqtt import PUBLISHER

__all__ = ["HOST", "PUBLISHER", "BrokerCa", "Mosquitto", "make_ca", "mosquitto", "mqtt_ca"]

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def mosquitto_binary() -> str:
    """The broker's path; an AssertionError (a failure, not a skip) when it is not installed."""
    found = shutil.which("mosquitto") or next(
        (path for path in MOSQUITTO_PATHS if Path(path).exists()), None
    )
    assert found, "mosquitto is not installed: run scripts/setup (apt-get install mosquitto)"
    return found


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"mosquitto exited ({process.returncode}): {log.read_text()[-2000:]}"
            raise AssertionError(msg)
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            return
        time.sleep(0.02)
    msg = f"mosquitto does not listen on {port}: {log.read_text()[-2000:]}"
    raise AssertionError(msg)


class Mosquitto:
    """One broker process with the open and the refusing TLS listener (ports kept on restart)."""

    def __init__(self, ca: BrokerCa, directory: Path) -> None:
        self.ca = ca
        self.directory = directory
        self.port = free_port()
        self.refusing_port = free_port()
        self._binary = mosquitto_binary()
        self._process: subprocess.Popen[bytes] | None = None
        self.config = write_config(directory, ca, self.port, self.refusing_port)
        self.log = directory / "mosquitto.log"

    @property
    def url(self) -> str:
        """The `--broker` URL of the open listener."""
        return f"mqtts://{HOST}:{self.port}"

    @property
    def refusing_url(self) -> str:
        """The `--broker` URL of the listener that refuses every key."""
        return f"mqtts://{HOST}:{self.refusing_port}"

    def start(self) -> None:
        """Start the broker and wait until both listeners accept connections."""
        assert self._process is None
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [self._binary, "-c", str(self.config)], stdout=log, stderr=log
            )
        _wait_listening(self.port, self._process, self.log)
        _wait_listening(self.refusing_port, self._process, self.log)

    def stop(self) -> None:
        """Stop the broker (every client is disconnected; nothing is kept)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def restart(self) -> None:
        """Stop, then start again on the same ports."""
        self.stop()
        self.start()


async def publish(broker: Mosquitto, topic: str, *payloads: bytes | str) -> None:
    """Publish as the gateway would (user `publisher`, QoS 0), then disconnect cleanly."""
    async with aiomqtt.Client(
        HOST, broker.port, username=PUBLISHER, tls_context=broker.ca.client_context()
    ) as client:
        for payload in payloads:
            await client.publish(topic, payload, qos=0)


@pytest.fixture(scope="session")
def mqtt_ca(tmp_path_factory: pytest.TempPathFactory) -> BrokerCa:
    """One throw-away CA and server certificate per test session."""
    return make_ca(tmp_path_factory.mktemp("mqtt-ca"))


@pytest.fixture
def mosquitto(mqtt_ca: BrokerCa, tmp_path: Path) -> Iterator[Mosquitto]:
    """A running broker of this test's own (restart it freely)."""
    broker = Mosquitto(mqtt_ca, tmp_path)
    broker.start()
    yield broker
    broker.stop()
