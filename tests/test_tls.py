"""TLS for HTTP and gRPC (rustls), with clients verifying against a given CA."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oxbridge
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .servers import Served, serving


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(tmp: Path, label: str) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signed for localhost and 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)

    def builder(subject: x509.Name, issuer: x509.Name, public_key: Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{label} CA")
    ca = (
        builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        builder(_name("localhost"), ca.subject, key.public_key())
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp / f"{label}-ca.pem", tmp / f"{label}-cert.pem", tmp / f"{label}-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path, Path]]:
    tmp = tmp_path_factory.mktemp("tls")
    ca, cert, key = make_pki(tmp, "good")
    other_ca, _, _ = make_pki(tmp, "other")
    args = ["--no-ipc", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0",
            "--tls-cert", str(cert), "--tls-key", str(key), "--token", "t0ken"]  # fmt: skip
    with serving(*args) as s:
        yield s, ca, other_ca


@pytest.mark.parametrize("scheme", ["https", "grpcs"])
def test_tls_with_the_right_ca(tls_server: tuple[Served, Path, Path], scheme: str) -> None:
    s, ca, _ = tls_server
    addr = s.http[0] if scheme == "https" else s.grpc[0]
    client = oxbridge.connect(f"{scheme}://{addr}", ca=str(ca), token="t0ken", timeout=5)
    assert client.add(1 + 3j, -5j) == 1 - 2j
    assert client.greet("Aloha", "amigo") == "Aloha, amigo"
    assert client.mul_many([1, 2, 3], 2j).tolist() == [2j, 4j, 6j]
    with pytest.raises(oxbridge.OxbridgeZeroDivisionError):
        client.div(1, 0)
    with pytest.raises(oxbridge.AccessDeniedError):
        oxbridge.connect(f"{scheme}://{addr}", ca=str(ca), timeout=5).add(1, 1)


@pytest.mark.parametrize("scheme", ["https", "grpcs"])
def test_tls_refuses_a_server_the_ca_did_not_sign(
    tls_server: tuple[Served, Path, Path], scheme: str
) -> None:
    s, _, other_ca = tls_server
    addr = s.http[0] if scheme == "https" else s.grpc[0]
    client = oxbridge.connect(f"{scheme}://{addr}", ca=str(other_ca), token="t0ken", timeout=3)
    with pytest.raises(oxbridge.TransportError):
        client.add(1, 1)


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_plaintext_to_a_tls_port_fails_cleanly(
    tls_server: tuple[Served, Path, Path], scheme: str
) -> None:
    s, _, _ = tls_server
    addr = s.http[0] if scheme == "http" else s.grpc[0]
    with pytest.raises(oxbridge.TransportError):
        oxbridge.connect(f"{scheme}://{addr}", token="t0ken", timeout=3).add(1, 1)


def test_a_bad_certificate_is_a_startup_error(tmp_path: Path) -> None:
    from .servers import start  # noqa: PLC0415 - deliberately local

    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    with pytest.raises(RuntimeError, match="TLS"):
        start(
            *("--no-ipc", "--no-grpc", "--http", "127.0.0.1:0"),
            *("--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")),
        )
