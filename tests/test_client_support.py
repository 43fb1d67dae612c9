"""Test helpers for the client tests: a scripted SMTP server on loopback and a test CA.

`ScriptedSMTP` speaks just enough SMTP to be driven by the client, with every reply overridable
so that each failure the client must name can be provoked on purpose: a garbage greeting, a 4xx at
RCPT, a silent server, a dropped connection after DATA, STARTTLS with a self-signed or CA-signed
certificate, AUTH PLAIN/LOGIN.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Reply = str | Callable[[str], str]


@dataclass
class Certs:
    ca: Path
    cert: Path
    key: Path
    self_signed_cert: Path
    self_signed_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_certs(directory: Path) -> Certs:
    """A CA, a leaf for localhost/127.0.0.1 signed by it, and a self-signed leaf."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("smtpdiag test CA"))
        .issuer_name(_name("smtpdiag test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )

    def leaf(
        issuer: x509.Name, signer: ec.EllipticCurvePrivateKey
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("localhost"))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(san, critical=False)
            .sign(signer, hashes.SHA256())
        )
        return cert, key

    signed, signed_key = leaf(ca.subject, ca_key)
    own_key = ec.generate_private_key(ec.SECP256R1())
    own = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(_name("localhost"))
        .public_key(own_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(san, critical=False)
        .sign(own_key, hashes.SHA256())
    )

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    out = Certs(
        ca=directory / "ca.pem",
        cert=directory / "cert.pem",
        key=directory / "key.pem",
        self_signed_cert=directory / "self.pem",
        self_signed_key=directory / "self-key.pem",
    )
    out.ca.write_bytes(pem(ca))
    out.cert.write_bytes(pem(signed))
    out.key.write_bytes(key_pem(signed_key))
    out.self_signed_cert.write_bytes(pem(own))
    out.self_signed_key.write_bytes(key_pem(own_key))
    return out


@dataclass
class ScriptedSMTP:
    """A small SMTP server on 127.0.0.1. Override replies by command name (upper case)."""

    banner: str = "220 fake.test ESMTP ready"
    ehlo_lines: tuple[str, ...] = ("fake.test", "PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8")
    replies: dict[str, Reply] = field(default_factory=dict)  # "MAIL", "RCPT", "DATA", "DOT", "EHLO", ...
    silent: set[str] = field(default_factory=set)  # commands never answered
    close_on: set[str] = field(default_factory=set)  # commands answered by closing the connection
    tls_context: ssl.SSLContext | None = None  # offers STARTTLS when set
    implicit_tls: bool = False  # with tls_context: TLS from the first byte (port 465 style)
    auth: tuple[str, str] | None = None  # (user, password): offers AUTH PLAIN LOGIN when set
    port: int = 0
    commands: list[str] = field(default_factory=list)
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    connections: int = 0
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> ScriptedSMTP:
        ssl_context = self.tls_context if self.implicit_tls else None
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _reply(self, name: str, arg: str, default: str) -> str:
        value = self.replies.get(name, default)
        return value(arg) if callable(value) else value

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # type: ignore[arg-type]
        tls = self.implicit_tls
        sender = ""
        rcpts: list[str] = []

        async def say(text: str) -> None:
            writer.write(text.encode() + (b"" if text.endswith("\n") else b"\r\n"))
            await writer.drain()

        try:
            if "BANNER" in self.silent:
                await asyncio.sleep(3600)
            await say(self.banner)
            while True:
                raw = await reader.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                self.commands.append(line)
                if verb in self.silent:
                    await asyncio.sleep(3600)
                if verb in self.close_on:
                    return
                if verb in ("EHLO", "HELO"):
                    if verb in self.replies:
                        await say(self._reply(verb, arg, ""))
                        continue
                    lines = list(self.ehlo_lines) if verb == "EHLO" else [self.ehlo_lines[0]]
                    if verb == "EHLO" and self.tls_context is not None and not tls:
                        lines.append("STARTTLS")
                    if verb == "EHLO" and self.auth is not None:
                        lines.append("AUTH PLAIN LOGIN")
                    text = "".join(
                        f"250{'-' if i < len(lines) - 1 else ' '}{part}\r\n" for i, part in enumerate(lines)
                    )
                    await say(text)
                elif verb == "STARTTLS" and self.tls_context is not None:
                    await say(self._reply("STARTTLS", arg, "220 2.0.0 Ready to start TLS"))
                    await writer.start_tls(self.tls_context)
                    tls = True
                elif verb == "AUTH" and self.auth is not None:
                    mech, _, initial = arg.partition(" ")
                    if mech.upper() == "PLAIN":
                        decoded = base64.b64decode(initial).split(b"\0")
                        user, password = decoded[1].decode(), decoded[2].decode()
                    else:
                        await say("334 VXNlcm5hbWU6")
                        user = base64.b64decode((await reader.readline()).strip()).decode()
                        await say("334 UGFzc3dvcmQ6")
                        password = base64.b64decode((await reader.readline()).strip()).decode()
                    ok = (user, password) == self.auth
                    await say(
                        "235 2.7.0 Authentication successful" if ok else "535 5.7.8 Authentication failed"
                    )
                elif verb == "MAIL":
                    reply = self._reply("MAIL", arg, "250 2.1.0 Ok")
                    if reply.startswith("2"):
                        sender, rcpts = arg, []
                    await say(reply)
                elif verb == "RCPT":
                    reply = self._reply("RCPT", arg, "250 2.1.5 Ok")
                    if reply.startswith("2"):
                        rcpts.append(arg)
                    await say(reply)
                elif verb == "DATA":
                    reply = self._reply("DATA", arg, "354 End data with <CR><LF>.<CR><LF>")
                    await say(reply)
                    if not reply.startswith("354"):
                        continue
                    body = bytearray()
                    while True:
                        chunk = await reader.readline()
                        if not chunk or chunk == b".\r\n":
                            break
                        body += chunk[1:] if chunk.startswith(b"..") else chunk
                    if "DOT" in self.silent:
                        await asyncio.sleep(3600)
                    if "DOT" in self.close_on:
                        return
                    reply = self._reply("DOT", "", "250 2.0.0 Ok: queued as 1")
                    if reply.startswith("2"):
                        self.messages.append((sender, list(rcpts), bytes(body)))
                    await say(reply)
                elif verb == "RSET":
                    sender, rcpts = "", []
                    await say("250 2.0.0 Ok")
                elif verb == "QUIT":
                    await say("221 2.0.0 Bye")
                    return
                else:
                    await say(self._reply(verb, arg, "502 5.5.1 Command not implemented"))
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def test_certs_are_made(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    loaded = x509.load_pem_x509_certificate(certs.cert.read_bytes())
    assert loaded.issuer.rfc4514_string() == "CN=smtpdiag test CA"
