"""The core speaks real SMTP: Python's smtplib and aiosmtplib talk to it over a socketpair.

The core is carried by a minimal blocking loop in a thread (no asyncio runtime, no TCP ports), so
these tests pin the protocol itself, independently of `smtpdiag.server.runtime`.
"""

from __future__ import annotations

import datetime
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from smtpdiag.protocol import (
    Close,
    DataChunk,
    Delay,
    Envelope,
    MessageAborted,
    MessageComplete,
    MessageRejected,
    Send,
    ServerConnection,
    StartTLS,
)
from smtpdiag.server.settings import Settings


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mx.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return d / "cert.pem", d / "key.pem"


class CoreThread(threading.Thread):
    """Carries one ServerConnection's outputs over a blocking socket."""

    def __init__(self, sock: socket.socket, settings: Settings, ssl_ctx: ssl.SSLContext | None) -> None:
        super().__init__(daemon=True)
        self.sock: Any = sock
        self.ssl_ctx = ssl_ctx
        self.conn = ServerConnection(settings, tls_available=ssl_ctx is not None, peer="local")
        self.messages: list[tuple[Envelope, bytes]] = []
        self.current: list[bytes] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.sock.settimeout(10)
            self.carry(self.conn.start())
            while not self.conn.closed:
                data = self.sock.recv(65536)
                if not data:
                    self.carry(self.conn.eof())
                    break
                self.carry(self.conn.receive_data(data))
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.sock.close()

    def carry(self, outputs: list[Any]) -> None:
        queue = list(outputs)
        while queue:
            out = queue.pop(0)
            if isinstance(out, Send):
                self.sock.sendall(out.data)
            elif isinstance(out, DataChunk):
                self.current.append(out.data)
            elif isinstance(out, MessageComplete):
                self.messages.append((out.envelope, b"".join(self.current)))
                self.current = []
                queue = [*self.conn.complete_message(queue_id=f"M{len(self.messages)}"), *queue]
            elif isinstance(out, MessageRejected | MessageAborted):
                self.current = []
            elif isinstance(out, StartTLS):
                assert self.ssl_ctx is not None
                self.sock = self.ssl_ctx.wrap_socket(self.sock, server_side=True)
                queue = [*self.conn.tls_started(), *queue]
            elif isinstance(out, Delay):
                pass  # timing is not under test here
            elif isinstance(out, Close):
                return


class PairSMTP(smtplib.SMTP):
    def __init__(self, sock: socket.socket) -> None:
        self._pair = sock
        super().__init__()
        self._host = "mx.test"  # smtplib uses it as the TLS server name
        self.connect("mx.test", 25)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._pair.settimeout(10)
        return self._pair


def start_server(
    settings: Settings, ssl_ctx: ssl.SSLContext | None = None
) -> tuple[CoreThread, socket.socket]:
    server_sock, client_sock = socket.socketpair()
    thread = CoreThread(server_sock, settings, ssl_ctx)
    thread.start()
    return thread, client_sock


def client_ctx() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def settings(**kw: Any) -> Settings:
    kw.setdefault("hostname", "mx.test")
    kw.setdefault("local_domains", ("example.com",))
    return Settings(**kw)


def test_smtplib_sendmail_partial_acceptance_and_dot_stuffing() -> None:
    thread, sock = start_server(settings())
    body = "Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\nend\r\n"
    with PairSMTP(sock) as client:
        code, _ = client.ehlo("client.test")
        assert code == 250 and client.has_extn("pipelining") and client.has_extn("chunking")
        refused = client.sendmail("a@sender.test", ["u@example.com", "v@relay.test"], body)
        assert refused == {"v@relay.test": (554, b"5.7.1 Relay access denied")}
    thread.join(5)
    assert thread.error is None
    [(envelope, data)] = thread.messages
    assert envelope.recipients == ("u@example.com",)
    assert data == body.encode()


def test_smtplib_all_recipients_refused_and_unknown_user() -> None:
    thread, sock = start_server(settings(local_domains=(), mailboxes=("alice@corp.test",)))
    with PairSMTP(sock) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        client.sendmail("a@sender.test", ["bob@corp.test"], "Subject: x\r\n\r\nhi\r\n")
    assert info.value.recipients == {
        "bob@corp.test": (550, b"5.1.1 Recipient address rejected: user unknown in local recipient table")
    }
    thread.join(5)
    assert thread.messages == []


def test_smtplib_message_too_big_at_mail_and_at_end_of_data() -> None:
    thread, sock = start_server(settings(max_message_size=2000))
    with PairSMTP(sock) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPSenderRefused) as info:  # smtplib sends SIZE=
            client.sendmail("a@sender.test", ["u@example.com"], "x" * 5000)
        assert info.value.smtp_code == 552
        client.rset()
        client.mail("a@sender.test")  # no SIZE: refused only at the end of data
        client.rcpt("u@example.com")
        code, msg = client.data(("y" * 70 + "\r\n") * 100)
        assert (code, msg[:5]) == (552, b"5.3.4")
    thread.join(5)
    assert thread.messages == []


def test_smtplib_starttls_then_auth_login_and_plain(tls_files: tuple[Path, Path]) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*tls_files)
    for method in ("login", "plain"):
        thread, sock = start_server(settings(users={"alice": "s3cret"}), ctx)
        with PairSMTP(sock) as client:
            client.ehlo()
            assert not client.has_extn("auth")  # not offered before TLS
            with pytest.raises(smtplib.SMTPNotSupportedError):
                client.login("alice", "s3cret")
            client.starttls(context=client_ctx())
            client.ehlo()
            assert client.has_extn("auth") and not client.has_extn("starttls")
            with pytest.raises(smtplib.SMTPAuthenticationError) as info:
                client.login("alice", "wrong")
            assert info.value.smtp_code == 535
            client.user, client.password = "alice", "s3cret"
            code, _ = client.auth(method, getattr(client, "auth_" + method))
            assert code == 235
            client.sendmail("alice@example.com", ["u@example.com"], "Subject: tls\r\n\r\nsecret\r\n")
        thread.join(5)
        assert thread.error is None
        [(envelope, _)] = thread.messages
        assert envelope.tls and envelope.auth_user == "alice"


async def test_aiosmtplib_pipelined_send_and_smtputf8() -> None:
    thread, sock = start_server(settings(local_domains=(), mailboxes=()))
    client = aiosmtplib.SMTP(sock=sock, hostname=None, start_tls=False, timeout=10)
    await client.connect()
    msg = EmailMessage()
    msg["From"] = "jörg@absender.test"
    msg["To"] = "ünïcode@empfänger.test"
    msg["Subject"] = "Grüße"
    msg.set_content("Hallo\n.\nZeile mit Punkt\n")
    errors, _ = await client.send_message(msg)
    assert errors == {}
    await client.quit()
    thread.join(5)
    assert thread.error is None
    [(envelope, data)] = thread.messages
    assert envelope.sender == "jörg@absender.test"
    assert "SMTPUTF8" in envelope.mail_params
    assert b"\r\n.\r\nZeile mit Punkt" in data  # the lone dot line survived stuffing/unstuffing
