"""Every named scenario, seen from Python's smtplib; greylisting and rate rules end to end."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from smtpdiag.server.runtime import ServerThread, SmtpServer
from smtpdiag.server.scenarios import SCENARIOS
from smtpdiag.server.settings import Settings

MESSAGE = "From: a@sender.test\r\nSubject: s\r\n\r\nbody\r\n"


@contextmanager
def running(scenario: str | None = None, **settings: Any) -> Iterator[SmtpServer]:
    values: dict[str, Any] = {"listen": "127.0.0.1:0", "storage": "memory", "users": {"alice": "pw"}}
    values.update(settings)
    thread = ServerThread(Settings().merge(values), seed=3)
    server = thread.start()
    if scenario:
        server.scenario(scenario)
    try:
        yield server
    finally:
        thread.stop(grace=0.5)


def tls(server: SmtpServer) -> ssl.SSLContext:
    assert server.tls_certificate is not None
    return ssl.create_default_context(cadata=server.tls_certificate.cert_pem.decode())


def send(server: SmtpServer, *, login: bool = False, starttls: bool = False, timeout: float = 5) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=timeout) as client:
        if starttls or login:
            client.starttls(context=tls(server))
        if login:
            client.login("alice", "pw")
        client.sendmail("a@sender.test", ["u@local.test"], MESSAGE)


# scenario -> (exception smtplib raises, reply code, enhanced code prefix of the text)
EXPECTED: dict[str, tuple[type[Exception], int, str]] = {
    "mailbox-full": (smtplib.SMTPRecipientsRefused, 452, "4.2.2"),
    "mailbox-full-permanent": (smtplib.SMTPRecipientsRefused, 552, "5.2.2"),
    "spam-rejected": (smtplib.SMTPDataError, 550, "5.7.1"),
    "auth-required": (smtplib.SMTPSenderRefused, 530, "5.7.0"),
    "relay-denied": (smtplib.SMTPRecipientsRefused, 554, "5.7.1"),
    "access-denied": (smtplib.SMTPRecipientsRefused, 550, "5.7.1"),
    "sender-rejected": (smtplib.SMTPSenderRefused, 553, "5.7.1"),
    "greylisting": (smtplib.SMTPRecipientsRefused, 450, "4.7.1"),
    "message-too-big": (smtplib.SMTPDataError, 552, "5.3.4"),
    "user-unknown": (smtplib.SMTPRecipientsRefused, 550, "5.1.1"),
    "mailbox-unavailable": (smtplib.SMTPRecipientsRefused, 550, "5.2.1"),
    "mailbox-busy": (smtplib.SMTPRecipientsRefused, 450, "4.2.1"),
    "domain-not-found": (smtplib.SMTPRecipientsRefused, 550, "5.1.2"),
    "invalid-address": (smtplib.SMTPRecipientsRefused, 553, "5.1.3"),
    "service-unavailable": (smtplib.SMTPConnectError, 421, "4.3.2"),
    "blocked": (smtplib.SMTPConnectError, 554, "5.7.1"),
    "local-error": (smtplib.SMTPDataError, 451, "4.3.0"),
    "storage-full": (smtplib.SMTPSenderRefused, 452, "4.3.1"),
    "transaction-failed": (smtplib.SMTPDataError, 554, "5.0.0"),
    "tls-required": (smtplib.SMTPSenderRefused, 530, "5.7.0"),
}


def error_code_and_text(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        [(code, text)] = exc.recipients.values()
        return code, text.decode()
    assert isinstance(exc, smtplib.SMTPResponseException)
    text = exc.smtp_error.decode() if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return exc.smtp_code, text


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_reply_seen_by_smtplib(name: str) -> None:
    exc_type, code, enhanced = EXPECTED[name]
    with running(name) as server:
        with pytest.raises(exc_type) as info:
            send(server)
        got_code, text = error_code_and_text(info.value)
        assert (got_code, text[:5]) == (code, enhanced), text
        assert server.store.count() == 0


def test_every_scenario_is_covered_by_a_test() -> None:
    covered = set(EXPECTED) | {
        "auth-failed",
        "rate-limited",
        "timeout",
        "slow",
        "disconnect",
        "blackhole",
        "not-smtp",
    }
    assert covered == set(SCENARIOS)


def test_auth_required_passes_after_login_and_tls_required_after_starttls() -> None:
    with running("auth-required") as server:
        send(server, login=True)
        assert server.store.count() == 1
    with running("tls-required") as server:
        send(server, starttls=True)
        assert server.store.count() == 1


def test_auth_failed() -> None:
    with running("auth-failed") as server, smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.starttls(context=tls(server))
        client.ehlo()
        client.user, client.password = "alice", "pw"
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            client.auth("PLAIN", client.auth_plain)
        assert info.value.smtp_code == 535 and info.value.smtp_error.startswith(b"5.7.8")


def test_rate_limited_after_three_messages_a_minute() -> None:
    with running("rate-limited") as server:
        for _ in range(3):
            send(server)
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            send(server)
        assert info.value.smtp_code == 421 and info.value.smtp_error.startswith(b"4.7.0")
        assert server.store.count() == 3


def test_rate_rule_421_closes_the_connection() -> None:
    with running() as server:
        server.faults.add({"stage": "mail", "rate": 1})
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.sendmail("a@s.test", ["u@local.test"], MESSAGE)
            code, _ = client.mail("a@s.test")
            assert code == 421
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.noop()


def test_greylisting_defers_then_accepts_the_retry() -> None:
    with running() as server:
        server.faults.add({"stage": "rcpt", "action": "greylist", "greylist_seconds": 0.5})
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            send(server)
        assert info.value.recipients["u@local.test"][0] == 450
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(server)  # too soon
        time.sleep(0.6)
        send(server)  # the retry after the wait passes
        send(server)  # and the triplet stays accepted
        assert server.store.count() == 2


def test_timeout_scenario_client_times_out() -> None:
    with running("timeout") as server:
        start = time.monotonic()
        with pytest.raises((TimeoutError, socket.timeout, smtplib.SMTPServerDisconnected)):
            send(server, timeout=0.5)
        assert time.monotonic() - start < 5
        assert server.store.count() == 0


def test_slow_scenario_delays_the_greeting() -> None:
    with running() as server:
        server.faults.add({"stage": "connect", "action": "delay", "delay": 0.4})
        start = time.monotonic()
        send(server)
        assert time.monotonic() - start >= 0.4
    assert SCENARIOS["slow"].rules[0].delay >= 1


def test_disconnect_scenario() -> None:
    with running("disconnect") as server:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            send(server)
        assert server.store.count() == 0


def test_blackhole_scenario_accepts_and_drops() -> None:
    with running("blackhole") as server:
        send(server)  # 250: the sender believes it was delivered
        assert server.store.count() == 0
        assert any(e["line"] == "dropped" for s in server.transcripts.sessions() for e in s["entries"])


def test_not_smtp_scenario_greets_with_garbage() -> None:
    with running("not-smtp") as server:
        with pytest.raises(smtplib.SMTPConnectError) as info:
            smtplib.SMTP(server.host, server.port, timeout=5)
        assert info.value.smtp_code == -1  # smtplib: no 3-digit code in the greeting
        sock = socket.create_connection((server.host, server.port), timeout=5)
        data = sock.recv(1000)
        assert data == b"* OK IMAP4rev1 server ready\r\n"
        assert sock.recv(1000) == b""  # then closed
        sock.close()


def test_probability_rule_is_reproducible_with_a_seed() -> None:
    def outcomes() -> list[int]:
        with running(soft_error_limit=100, hard_error_limit=100) as server:  # no error throttling here
            server.faults.add({"stage": "rcpt", "probability": 0.5, "code": 451, "enhanced": "4.3.0"})
            codes = []
            with smtplib.SMTP(server.host, server.port, timeout=5) as client:
                client.ehlo()
                client.mail("a@s.test")
                for i in range(30):
                    codes.append(client.rcpt(f"u{i}@local.test")[0])
            return codes

    first = outcomes()
    assert set(first) == {250, 451}
    assert outcomes() == first
