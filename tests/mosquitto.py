"""A real mosquitto broker for the MQTT tests: TLS on 127.0.0.1, a throw-away CA, EKM's ACL.

EKM's broker (seed 003) lets a client in with the gateway key as username and no password and
delivers `realtime/<key>` / `summary/<key>` to that username only; a key it does not know is
refused. `Mosquitto` reproduces both with the Debian package, nothing simulated:

* the `open` listener: `allow_anonymous true` and `pattern read realtime/%u` (and summary), so a
  client may subscribe to any topic but only receives its own key's (another key: silence);
* the `refusing` listener: `listener_allow_anonymous false` and no password file, so every
  CONNECT is answered "not authorised" (the bad-key case);
* the user `publisher` may write every topic (the tests' and the simulator's gateway).

The CA and the server certificate (SAN IP 127.0.0.1) are made with `cryptography` for each test
session. The broker runs as a child process (`subprocess.Popen` starts no thread, which Home
Assistant's test harness would count as a leak). A missing binary fails the test: MQTT tests
never skip (`scripts/setup` installs mosquitto where the tests run).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
PUBLISHER = "publisher"
MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def mosquitto_binary() -> str:
    """The broker's path; an AssertionError (a failure, not a skip) when it is not installed."""
    found = shutil.which("mosquitto") or next(
        (path for path in MOSQUITTO_PATHS if Path(path).exists()), None
    )
    assert found, "mosquitto is not installed: run scripts/setup (apt-get install mosquitto)"
    return found


@dataclass(frozen=True)
class TestCa:
    """A CA and a server certificate for 127.0.0.1, as PEM files in `directory`."""

    directory: Path
    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def ca_pem(self) -> str:
        """The CA certificate, to trust in a client's SSL context."""
        return self.ca_file.read_text()

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this CA."""
        return ssl.create_default_context(cadata=self.ca_pem)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(directory: Path) -> TestCa:
    """A new CA and server certificate; extensions as strict X.509 verification demands."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("MeterLink test CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(HOST))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TestCa(directory, ca_file, cert_file, key_file)


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

    def __init__(self, ca: TestCa, directory: Path) -> None:
        self.ca = ca
        self.directory = directory
        self.port = free_port()
        self.refusing_port = free_port()
        self._binary = mosquitto_binary()
        self._process: subprocess.Popen[bytes] | None = None
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        acl = directory / "acl"
        acl.write_text(
            f"pattern read realtime/%u\npattern read summary/%u\nuser {PUBLISHER}\ntopic write #\n"
        )
        acl.chmod(0o600)
        tls = f"cafile {ca.ca_file}\ncertfile {ca.cert_file}\nkeyfile {ca.key_file}\n"
        self.config.write_text(
            # root: the keys live in the test's private temporary directory.
            "user root\npersistence false\nlog_dest stderr\nlog_type all\n"
            f"allow_anonymous true\nacl_file {acl}\n"
            f"listener {self.port} {HOST}\n{tls}"
            f"listener {self.refusing_port} {HOST}\n{tls}listener_allow_anonymous false\n"
        )

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
def mqtt_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCa:
    """One throw-away CA and server certificate per test session."""
    return make_ca(tmp_path_factory.mktemp("mqtt-ca"))


@pytest.fixture
def mosquitto(mqtt_ca: TestCa, tmp_path: Path) -> Iterator[Mosquitto]:
    """A running broker of this test's own (restart it freely)."""
    broker = Mosquitto(mqtt_ca, tmp_path)
    broker.start()
    yield broker
    broker.stop()
