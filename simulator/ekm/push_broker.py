"""EKM's MQTT broker, reproduced with Debian mosquitto: TLS on 127.0.0.1, a private CA, EKM's ACL.

EKM's broker (seed 003) lets a client in with the gateway key as username and no password and
delivers `realtime/<key>` / `summary/<key>` to that username only. `write_config` reproduces that
for mosquitto: `allow_anonymous true` and `pattern read realtime/%u` (and summary), so a client
may subscribe to any topic but only receives its own key's; the user `publisher` (the simulated
gateways, `push_mqtt.PUBLISHER`) may write every topic. An optional second listener refuses
every CONNECT (no anonymous login, no password file): the bad-key case of the tests.

The tests (tests/mosquitto.py) make a CA per session; `scripts/develop` keeps one in
config/.develop/mqtt and runs `python -m simulator.ekm.push_broker DIR PORT`, which makes the
CA only when it is missing or about to expire, writes the config and prints its path.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .push_mqtt import PUBLISHER

HOST = "127.0.0.1"
_FILES = ("ca.pem", "server.pem", "server.key")


@dataclass(frozen=True)
class BrokerCa:
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


def _files(directory: Path) -> BrokerCa:
    ca_file, cert_file, key_file = (directory / name for name in _FILES)
    return BrokerCa(directory, ca_file, cert_file, key_file)


def make_ca(directory: Path, *, days: int = 2) -> BrokerCa:
    """A new CA and server certificate; extensions as strict X.509 verification demands."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days))
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
    ca = _files(directory)
    ca.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca.key_file.chmod(0o600)
    return ca


def kept_ca(directory: Path, *, days: int = 3650) -> BrokerCa:
    """The CA in `directory` if it is valid for another day; else a new one for `days`."""
    ca = _files(directory)
    try:
        cert = x509.load_pem_x509_certificate(ca.cert_file.read_bytes())
        usable = ca.ca_file.exists() and ca.key_file.exists()
    except OSError, ValueError:
        usable = False
    else:
        tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        usable = usable and cert.not_valid_after_utc > tomorrow
    return ca if usable else make_ca(directory, days=days)


def write_config(
    directory: Path, ca: BrokerCa, port: int, refusing_port: int | None = None
) -> Path:
    """mosquitto.conf (and its ACL) in `directory`: the open listener, maybe the refusing one."""
    acl = directory / "acl"
    acl.write_text(
        f"pattern read realtime/%u\npattern read summary/%u\nuser {PUBLISHER}\ntopic write #\n"
    )
    acl.chmod(0o600)
    tls = f"cafile {ca.ca_file}\ncertfile {ca.cert_file}\nkeyfile {ca.key_file}\n"
    refusing = ""
    if refusing_port is not None:
        refusing = f"listener {refusing_port} {HOST}\n{tls}listener_allow_anonymous false\n"
    config = directory / "mosquitto.conf"
    config.write_text(
        # root: the keys live in a private directory of the user who starts the broker.
        "user root\npersistence false\nlog_dest stderr\nlog_type all\n"
        f"allow_anonymous true\nacl_file {acl}\n"
        f"listener {port} {HOST}\n{tls}{refusing}"
    )
    return config


def main() -> None:
    """`python -m simulator.ekm.push_broker DIR PORT`: keep a CA, write and print the config."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    print(write_config(args.directory, kept_ca(args.directory), args.port))


if __name__ == "__main__":
    main()
