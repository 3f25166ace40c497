"""The object store's own certificate authority: one CA and one certificate, made fresh at each
start of the store, which its servers present to each other and require from every client of their
internal ports (mutual TLS). Only the store's processes can read the key, so no one else on the
machine can speak to those ports at all."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def write_private(path: Path, content: bytes) -> Path:
    """Created unreadable to others before anything is written into it."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(content)
    return path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days)))


def issue(folder: Path, name: str, days: int = 365) -> Certificates:
    """A new CA under `folder` and one certificate it signs, good as server and as client on 127.0.0.1."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _builder(f"{name}-ca", _name(f"{name}-ca"), ca_key.public_key(), days).add_extension(
        x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(name, ca.subject, key.public_key(), days)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return Certificates(
        ca=write_private(folder / "ca.crt", ca.public_bytes(pem)),
        cert=write_private(folder / f"{name}.crt", cert.public_bytes(pem)),
        key=write_private(folder / f"{name}.key", key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
    )
