"""TLS for STARTTLS: a server context from the given certificate, or from a self-signed one made here.

The generated certificate (ECDSA P-256, valid 30 days, subjectAltName = the server's name plus
localhost/127.0.0.1/::1) exists only in memory and in a private temporary file that is deleted as
soon as the context has loaded it. `cryptography` is imported only when a certificate is generated.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass


class TlsSetupError(Exception):
    """The certificate or key could not be loaded; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class GeneratedCertificate:
    cert_pem: bytes
    key_pem: bytes


def generate_self_signed(hostname: str = "localhost", *, days: int = 30) -> GeneratedCertificate:
    """A fresh self-signed certificate and key for `hostname` (PEM)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64] or "localhost"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smtpdiag self-signed"),
        ]
    )
    alt_names: list[x509.GeneralName] = []
    for dns in dict.fromkeys([hostname, "localhost"]):
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(dns)))
        except ValueError:
            if dns:
                alt_names.append(x509.DNSName(dns))
    alt_names += [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return GeneratedCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def server_context(
    cert_file: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
    *,
    hostname: str = "localhost",
) -> tuple[ssl.SSLContext, GeneratedCertificate | None]:
    """A TLS server context (TLS 1.2+). Without files, a self-signed certificate is generated
    and returned alongside, so that tests and clients can trust it."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        try:
            ctx.load_cert_chain(os.fspath(cert_file), os.fspath(key_file) if key_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise TlsSetupError(f"cannot load TLS certificate {cert_file} / key {key_file}: {exc}") from None
        return ctx, None
    if key_file is not None:
        raise TlsSetupError("--tls-key given without --tls-cert")
    generated = generate_self_signed(hostname)
    fd, path = tempfile.mkstemp(prefix="smtpdiag-tls-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(generated.key_pem + generated.cert_pem)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)
    return ctx, generated
