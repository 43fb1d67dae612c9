"""The asyncio server over real loopback sockets, with Python's smtplib and aiosmtplib as clients."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from smtpdiag.server.runtime import ServerThread, SmtpServer
from smtpdiag.server.settings import Settings

MESSAGE = "From: a@sender.test\r\nTo: u@local.test\r\nSubject: hello\r\n\r\nHello there.\r\n"


@contextmanager
def running(**settings: Any) -> Iterator[SmtpServer]:
    values: dict[str, Any] = {"listen": "127.0.0.1:0", "storage": "memory", "hostname": "mx.local.test"}
    values.update(settings)
    rules = values.pop("rules", ())
    thread = ServerThread(Settings().merge(values), rules=rules, seed=1)
    server = thread.start()
    try:
        yield server
    finally:
        thread.stop(grace=0.5)


def client_tls_context(server: SmtpServer) -> ssl.SSLContext:
    """A context that verifies the server's generated certificate (no verification shortcuts)."""
    assert server.tls_certificate is not None
    ctx = ssl.create_default_context(cadata=server.tls_certificate.cert_pem.decode())
    return ctx


class Raw:
    """A line-oriented raw client, for what smtplib cannot say."""

    def __init__(self, server: SmtpServer, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> str:
        """One complete (possibly multi-line) reply, as text."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed; got " + repr(self.buf))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode())
            if len(line) < 4 or line[3:4] != b"-":
                return "\r\n".join(lines)

    def closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, TimeoutError):
            return True

    def close(self) -> None:
        self.sock.close()


# --- interoperation --------------------------------------------------------------------------------


def test_smtplib_send_ehlo_and_capture() -> None:
    with running() as server, smtplib.SMTP(server.host, server.port, timeout=5) as client:
        code, _ = client.ehlo("client.test")
        assert code == 250
        for keyword in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls"):
            assert client.has_extn(keyword), keyword
        assert client.sendmail("a@sender.test", ["u@local.test", "v@local.test"], MESSAGE) == {}
        [msg] = server.store.list()
        assert msg.sender == "a@sender.test" and msg.recipients == ("u@local.test", "v@local.test")
        assert msg.helo == "client.test" and msg.subject == "hello"
        stored = server.store.get(msg.id)
        assert stored is not None and stored.data is not None and stored.data.endswith(MESSAGE.encode())


def test_starttls_with_generated_certificate_then_auth() -> None:
    with (
        running(users={"alice": "s3cret"}) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.ehlo()
        assert not client.has_extn("auth")  # AUTH only over TLS by default
        code, _ = client.starttls(context=client_tls_context(server))
        assert code == 220
        client.ehlo()
        assert client.has_extn("auth") and not client.has_extn("starttls")
        assert "PLAIN" in client.esmtp_features["auth"]
        with pytest.raises(smtplib.SMTPAuthenticationError) as bad:
            client.login("alice", "wrong")
        assert bad.value.smtp_code == 535
        assert client.login("alice", "s3cret")[0] == 235
        client.sendmail("a@sender.test", ["u@local.test"], MESSAGE)
    assert len(server.store.list()) == 1
    transcript = server.transcripts.sessions()[-1]["entries"]
    lines = " ".join(e["line"] for e in transcript)
    assert "s3cret" not in lines and "wrong" not in lines and "AUTH PLAIN ***" in lines


def test_auth_before_tls_is_refused_538() -> None:
    with running(users={"alice": "pw"}) as server:
        raw = Raw(server)
        raw.reply()
        raw.send(b"EHLO c.test\r\n")
        raw.reply()
        raw.send(b"AUTH PLAIN AGFsaWNlAHB3\r\n")
        assert raw.reply().startswith("538 5.7.11")
        raw.close()


def plain_login(server: SmtpServer, user: str, password: str) -> int:
    """One AUTH PLAIN attempt on a new TLS session (smtplib.login would try every mechanism)."""
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.starttls(context=client_tls_context(server))
        client.ehlo()
        client.user, client.password = user, password
        try:
            return client.auth("PLAIN", client.auth_plain)[0]
        except smtplib.SMTPAuthenticationError as exc:
            return exc.smtp_code


def test_auth_brute_force_is_throttled_per_client() -> None:
    with running(users={"alice": "pw"}, auth_failure_limit=3) as server:
        codes = [plain_login(server, "alice", "nope") for _ in range(5)]
        assert codes == [535, 535, 535, 454, 454]
        # the right password is refused too while throttled
        assert plain_login(server, "alice", "pw") == 454
    with running(users={"alice": "pw"}, auth_failure_limit=3) as server:
        assert plain_login(server, "alice", "pw") == 235


def test_size_limit_at_mail_and_end_of_data() -> None:
    with (
        running(max_message_size=2000) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.ehlo()
        assert client.esmtp_features["size"] == "2000"
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            client.sendmail("a@sender.test", ["u@local.test"], "x" * 3000)
        assert info.value.smtp_code == 552 and info.value.smtp_error.startswith(b"5.3.4")
        # without SIZE= the size is found at end of data; the data is read and discarded
        client.rset()
        client.mail("a@sender.test")
        client.rcpt("u@local.test")
        code, text = client.data(("y" * 70 + "\r\n") * 60)
        assert code == 552 and text.startswith(b"5.3.4")
        assert client.noop()[0] == 250  # session still usable
    assert server.store.count() == 0


async def test_aiosmtplib_pipelined_sends() -> None:
    with running() as server:
        client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=5, start_tls=False)
        await client.connect()
        await client.ehlo()
        assert client.supports_extension("pipelining")
        for i in range(20):
            errors, _ = await client.sendmail("a@sender.test", [f"u{i}@local.test", "w@local.test"], MESSAGE)
            assert errors == {}
        await client.quit()
        assert server.store.count() == 20


async def test_aiosmtplib_starttls() -> None:
    with running() as server:
        ctx = client_tls_context(server)
        client = aiosmtplib.SMTP(
            hostname=server.host, port=server.port, timeout=5, tls_context=ctx, start_tls=True
        )
        await client.connect()
        assert client.get_transport_info("sslcontext") is not None
        await client.sendmail("a@sender.test", ["u@local.test"], MESSAGE)
        await client.quit()
        assert server.store.count() == 1


def test_pipelined_commands_in_one_write() -> None:
    with running() as server:
        raw = Raw(server)
        assert raw.reply().startswith("220 mx.local.test")
        raw.send(
            b"EHLO c.test\r\nMAIL FROM:<a@s.test>\r\n"
            b"RCPT TO:<u@local.test>\r\nRCPT TO:<v@local.test>\r\nDATA\r\n"
        )
        assert raw.reply().startswith("250-mx.local.test")
        assert [raw.reply()[:3] for _ in range(4)] == ["250", "250", "250", "354"]
        raw.send(b"Subject: p\r\n\r\nbody\r\n.\r\nMAIL FROM:<b@s.test>\r\nRCPT TO:<u@local.test>\r\nDATA\r\n")
        assert raw.reply().startswith("250 2.0.0")
        assert [raw.reply()[:3] for _ in range(3)] == ["250", "250", "354"]
        raw.send(b"second\r\n.\r\nQUIT\r\n")
        assert raw.reply().startswith("250 2.0.0")
        assert raw.reply().startswith("221")
        raw.close()
    assert server.store.count() == 2


def test_bdat_chunking() -> None:
    with running() as server:
        raw = Raw(server)
        raw.reply()
        raw.send(b"EHLO c.test\r\n")
        assert "CHUNKING" in raw.reply()
        raw.send(b"MAIL FROM:<a@s.test>\r\nRCPT TO:<u@local.test>\r\n")
        raw.reply()
        raw.reply()
        part1 = b"Subject: bdat\r\n\r\n"
        part2 = b"line one\r\n.not a terminator\r\n"
        raw.send(b"BDAT %d\r\n" % len(part1) + part1)
        assert raw.reply().startswith("250")
        raw.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        assert raw.reply().startswith("250 2.0.0")
        raw.close()
    [msg] = server.store.list()
    got = server.store.get(msg.id)
    assert got is not None and got.data is not None and got.data.endswith(part1 + part2)


def test_smuggling_sequences_never_make_a_second_message() -> None:
    with running() as server:
        for seq in (b"\n.\n", b"\n.\r\n", b"\r.\n", b"\r.\r", b"\r\n.\r", b"\r\n\x00.\r\n"):
            raw = Raw(server)
            raw.reply()
            raw.send(b"EHLO c.test\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<u@local.test>\r\nDATA\r\n")
            for _ in range(4):
                raw.reply()
            smuggled = b"MAIL FROM:<evil@s.test>\r\nRCPT TO:<victim@local.test>\r\nDATA\r\nsmuggled\r\n"
            raw.send(b"Subject: s\r\n\r\nhello" + seq + smuggled + b".\r\n")
            final = raw.reply()
            assert final[:1] in ("2", "5"), final
            raw.send(b"QUIT\r\n")
            assert raw.reply().startswith("221")  # nothing smuggled got a reply of its own
            raw.close()
        for msg in server.store.list():
            assert msg.sender == "a@s.test" and msg.recipients == ("u@local.test",)


# --- local delivery rules, quotas ------------------------------------------------------------------


def test_relay_denied_unknown_user_and_local_domains() -> None:
    with (
        running(local_domains=["local.test"], mailboxes=["only@closed.test"]) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.ehlo()
        client.mail("a@sender.test")
        assert client.rcpt("anyone@local.test")[0] == 250
        assert client.rcpt("only@closed.test")[0] == 250
        code, text = client.rcpt("other@closed.test")
        assert (code, text[:5]) == (550, b"5.1.1")
        code, text = client.rcpt("someone@elsewhere.test")
        assert (code, text[:5]) == (554, b"5.7.1") and b"Relay access denied" in text


def test_quota_gives_452_422(tmp_path: Path) -> None:
    with (
        running(storage="maildir", maildir=str(tmp_path / "mail"), quota_per_mailbox=1000) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.sendmail("a@s.test", ["u@local.test"], "x" * 500)  # ~650 octets with the envelope lines
        # the second would go over: refused at end of data
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail("a@s.test", ["u@local.test"], "y" * 500)
        assert info.value.smtp_code == 452 and info.value.smtp_error.startswith(b"4.2.2")
        client.sendmail("a@s.test", ["u@local.test"], "z" * 300)  # fits; now the mailbox is full
        # so the next is refused at RCPT already
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("a@s.test", ["u@local.test"], "w")
        assert refused.value.recipients["u@local.test"][0] == 452
        client.sendmail("a@s.test", ["other@local.test"], "fine")
    assert server.store.count() == 3


# --- limits and timeouts ---------------------------------------------------------------------------


def test_connection_limit_per_ip() -> None:
    with running(max_connections_per_ip=2) as server:
        a, b = Raw(server), Raw(server)
        assert a.reply().startswith("220") and b.reply().startswith("220")
        c = Raw(server)
        assert c.reply().startswith("421 4.7.0") and c.closed()
        a.close()
        time.sleep(0.2)
        d = Raw(server)
        assert d.reply().startswith("220")
        for r in (b, c, d):
            r.close()


def test_command_timeout_says_421_442() -> None:
    with running(command_timeout=0.3) as server:
        raw = Raw(server)
        raw.reply()
        start = time.monotonic()
        assert raw.reply().startswith("421 4.4.2")
        assert 0.2 < time.monotonic() - start < 3
        assert raw.closed()


def test_data_timeout() -> None:
    with running(data_timeout=0.3, command_timeout=30) as server:
        raw = Raw(server)
        raw.reply()
        raw.send(b"EHLO c\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<u@local.test>\r\nDATA\r\n")
        for _ in range(4):
            raw.reply()
        raw.send(b"Subject: slow\r\n")
        assert raw.reply().startswith("421 4.4.2")
    assert server.store.count() == 0


def test_graceful_shutdown_says_421_432() -> None:
    values = {"listen": "127.0.0.1:0", "storage": "memory"}
    thread = ServerThread(Settings().merge(values))
    server = thread.start()
    raw = Raw(server)
    raw.reply()
    raw.send(b"EHLO c\r\n")
    raw.reply()
    thread.stop(grace=0.5)
    assert raw.reply().startswith("421 4.3.2")
    assert raw.closed()


def test_unknown_and_bad_sequence_commands() -> None:
    with running() as server:
        raw = Raw(server)
        raw.reply()
        raw.send(b"FOO\r\n")
        assert raw.reply().startswith("500 5.5.1")
        raw.send(b"MAIL FROM:<a@s.test>\r\n")
        assert raw.reply().startswith("503 5.5.1")
        raw.send(b"EHLO c\r\n")
        raw.reply()
        raw.send(b"X" * 600 + b"\r\n")
        assert raw.reply().startswith("500 5.5.6")
        raw.close()


def test_minimum_data_rate() -> None:
    with running(data_timeout=0.3, min_data_rate=1000) as server:
        raw = Raw(server)
        raw.reply()
        raw.send(b"EHLO c\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<u@local.test>\r\nDATA\r\n")
        for _ in range(4):
            raw.reply()
        start = time.monotonic()
        got = ""
        while time.monotonic() - start < 5:  # a slow drip: 10 octets every 50 ms = 200 octets/s
            try:
                raw.send(b"x" * 8 + b"\r\n")
            except OSError:
                break
            raw.sock.settimeout(0.05)
            try:
                got = raw.reply()
                break
            except (TimeoutError, ConnectionError):
                continue
        assert got.startswith("421 4.4.2"), got
        assert 0.3 <= time.monotonic() - start < 3
    assert server.store.count() == 0


def test_transcripts_written_as_json_lines(tmp_path: Path) -> None:
    import json

    with (
        running(transcript_dir=str(tmp_path / "t"), users={"bob": "hunter2"}) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.starttls(context=client_tls_context(server))
        client.ehlo()
        client.user, client.password = "bob", "hunter2"
        client.auth("LOGIN", client.auth_login)
        client.sendmail("a@s.test", ["u@local.test"], MESSAGE)
    time.sleep(0.2)
    [path] = list((tmp_path / "t").iterdir())
    text = path.read_text()
    assert "hunter2" not in text and "aHVudGVyMg" not in text and "Ym9i" not in text  # nor base64
    entries = [json.loads(line) for line in text.splitlines()]
    assert entries[0]["line"] == "connect" and entries[-1]["line"] == "close"
    assert all(isinstance(e["t"], float) for e in entries)
    commands = [e["line"] for e in entries if e["dir"] == "c"]
    assert commands[0].upper().startswith("EHLO") and "STARTTLS" in commands
    assert any(e["dir"] == "s" and e["line"].startswith("235") for e in entries)
    assert any(e["dir"] == "event" and e["line"] == "stored" for e in entries)


def test_uvloop_event_loop_with_starttls() -> None:
    pytest.importorskip("uvloop")
    values = {"listen": "127.0.0.1:0", "storage": "memory", "users": {"u": "p"}}
    thread = ServerThread(Settings().merge(values), use_uvloop=True)
    server = thread.start()
    try:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.starttls(context=client_tls_context(server))
            client.login("u", "p")
            client.sendmail("a@s.test", ["u@local.test"], MESSAGE)
            client.sendmail("a@s.test", ["v@local.test"], MESSAGE)
        assert server.store.count() == 2
    finally:
        thread.stop(grace=0.5)


def test_http_api_on_the_running_server() -> None:
    import json
    import urllib.request

    with running(http_listen="127.0.0.1:0") as server:
        assert server.http_port
        base = f"http://127.0.0.1:{server.http_port}"
        req = urllib.request.Request(
            f"{base}/rules",
            data=json.dumps({"stage": "rcpt", "recipient": "x@*", "code": 550, "enhanced": "5.1.1"}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 201
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            refused = client.sendmail("a@s.test", ["x@local.test", "y@local.test"], MESSAGE)
            assert refused["x@local.test"][0] == 550
        with urllib.request.urlopen(f"{base}/messages", timeout=5) as resp:
            body = json.load(resp)
        assert body["count"] == 1 and body["messages"][0]["recipients"] == ["y@local.test"]
        with urllib.request.urlopen(f"{base}/sessions", timeout=5) as resp:
            sessions = json.load(resp)["sessions"]
        assert any(e["line"].startswith("550 5.1.1") for s in sessions for e in s["entries"])
        with urllib.request.urlopen(f"{base}/status", timeout=5) as resp:
            status = json.load(resp)
        assert status["messages_stored"] == 1 and status["connections_total"] == 1 and status["rules"] == 1
        assert status["settings"]["max_message_size"] == 10_240_000


def test_plaintext_pipelined_after_starttls_is_discarded() -> None:
    with running() as server:
        raw = Raw(server)
        raw.reply()
        raw.send(b"EHLO c\r\n")
        raw.reply()
        raw.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
        assert raw.reply().startswith("220 2.0.0")
        assert raw.buf == b""
        tls_sock = client_tls_context(server).wrap_socket(raw.sock, server_hostname="127.0.0.1")
        tls_sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            tls_sock.recv(100)  # no reply to the injected MAIL, in plaintext or in TLS
        tls_sock.settimeout(5)
        tls_sock.sendall(b"RCPT TO:<u@local.test>\r\n")  # the injected MAIL did not start a transaction
        assert tls_sock.recv(1000).startswith(b"503")
        tls_sock.sendall(b"EHLO c\r\nMAIL FROM:<a@s.test>\r\n")
        data = b""
        while data.count(b"\r\n250 ") < 2:
            data += tls_sock.recv(1000)
        assert b"250 2.1.0" in data
        tls_sock.close()


@pytest.mark.parametrize("storage", ["memory", "maildir"])
def test_shutdown_lets_the_message_under_way_finish(storage: str, tmp_path: Path) -> None:
    import threading

    values = {"listen": "127.0.0.1:0", "storage": storage, "maildir": str(tmp_path / "m")}
    thread = ServerThread(Settings().merge(values))
    server = thread.start()
    raw = Raw(server)
    raw.reply()
    raw.send(b"EHLO c\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<u@local.test>\r\nDATA\r\n")
    for _ in range(4):
        raw.reply()
    raw.send(b"Subject: under way\r\n\r\n")
    stopper = threading.Thread(target=thread.stop, kwargs={"grace": 3.0})
    stopper.start()
    time.sleep(0.3)
    raw.send(b"last line\r\n.\r\n")
    assert raw.reply().startswith("250 2.0.0")
    assert raw.reply().startswith("421 4.3.2")
    stopper.join(10)
    assert server.store.count() == 1


def test_failed_tls_handshake_closes_only_that_session() -> None:
    with running() as server:
        raw = Raw(server)
        raw.reply()
        raw.send(b"EHLO c\r\n")
        raw.reply()
        raw.send(b"STARTTLS\r\n")
        assert raw.reply().startswith("220")
        raw.send(b"this is not a TLS ClientHello\r\n" * 4)
        assert raw.closed()
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            assert client.noop()[0] == 250
        deadline = time.monotonic() + 2
        while server.per_ip and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.per_ip == {} and not server.sessions  # both slots given back


def test_an_internal_error_ends_only_that_session_with_421() -> None:
    with running() as server:

        def broken(*args: object, **kwargs: object) -> None:
            raise ZeroDivisionError("simulated bug")

        original = server.store.begin
        server.store.begin = broken  # type: ignore[method-assign,assignment]
        raw = Raw(server)
        raw.reply()
        raw.send(b"EHLO c\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<u@local.test>\r\nDATA\r\n")
        replies = [raw.reply() for _ in range(5)]  # the 354 went out before the bug struck
        assert replies[-1].startswith("421 4.3.0"), replies
        assert raw.closed()
        server.store.begin = original  # type: ignore[method-assign]
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            assert client.sendmail("a@s.test", ["u@local.test"], MESSAGE) == {}
