"""probe against a scripted SMTP server and a loopback DNS server: each failure names its step."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dnsserver import LoopbackDNS, SilentDNS
from smtpdiag.cli import cli
from smtpdiag.client.dns import make_resolver
from smtpdiag.client.probe import probe_async
from smtpdiag.client.session import Timeouts
from test_client_support import ScriptedSMTP, make_certs, server_context

FAST = Timeouts(connect=2, initial=2, command=2, mail=2, rcpt=2, data_init=2, data_block=2, data_term=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_happy_probe_lists_extensions_and_says_ok() -> None:
    async with ScriptedSMTP() as server:
        result = await probe_async(server.address, timeouts=FAST, mail_from="a@x.test", rcpts=["b@y.test"])
    assert result.verdict.ok, result.verdict
    assert "PIPELINING" in result.extensions
    assert result.recipients == {"b@y.test": "250 2.1.5 Ok"}
    steps = [e.step for e in result.transcript if e.kind == "client"]
    assert steps == ["EHLO", "MAIL", "RCPT", "RSET", "QUIT"]  # no DATA without --data
    assert server.messages == []


async def test_rcpt_refusal_names_step_reason_and_explains() -> None:
    async with ScriptedSMTP(
        replies={"RCPT": "550 5.1.1 <b@y.test>: Recipient address rejected: User unknown"}
    ) as s:
        result = await probe_async(s.address, timeouts=FAST, mail_from="a@x.test", rcpts=["b@y.test"])
    v = result.verdict
    assert not v.ok and v.step == "RCPT" and v.transient is False
    assert v.reply is not None and v.reply.enhanced == "5.1.1"
    assert v.explanation is not None and v.explanation.reason == "userunknown"
    server_lines = [e for e in result.transcript if e.kind == "server" and e.step == "RCPT"]
    assert server_lines[-1].explanation is not None  # the reply is followed by its explanation


async def test_temporary_refusal_at_mail() -> None:
    async with ScriptedSMTP(replies={"MAIL": "451 4.3.0 Local error in processing"}) as s:
        result = await probe_async(s.address, timeouts=FAST, mail_from="a@x.test", rcpts=["b@y.test"])
    assert (result.verdict.step, result.verdict.transient) == ("MAIL", True)


async def test_refused_connection() -> None:
    result = await probe_async(f"127.0.0.1:{free_port()}", timeouts=FAST)
    assert (result.verdict.step, result.verdict.kind) == ("CONNECT", "refused")


async def test_silent_greeting_times_out_at_banner() -> None:
    async with ScriptedSMTP(silent={"BANNER"}) as s:
        result = await probe_async(s.address, timeouts=FAST.scaled(initial=0.3))
    assert (result.verdict.step, result.verdict.kind) == ("BANNER", "timeout")
    assert "0.3 s" in result.verdict.reason


async def test_silent_rcpt_times_out_at_rcpt() -> None:
    async with ScriptedSMTP(silent={"RCPT"}) as s:
        result = await probe_async(
            s.address, timeouts=FAST.scaled(rcpt=0.3), mail_from="a@x.test", rcpts=["b@x.test"]
        )
    assert (result.verdict.step, result.verdict.kind) == ("RCPT", "timeout")


async def test_garbage_greeting_is_not_smtp() -> None:
    async with ScriptedSMTP(banner="HTTP/1.1 400 Bad Request") as s:
        result = await probe_async(s.address, timeouts=FAST)
    assert (result.verdict.step, result.verdict.kind) == ("BANNER", "protocol")
    assert "3-digit code not found" in result.verdict.reason


async def test_554_greeting() -> None:
    async with ScriptedSMTP(banner="554 5.7.1 Your IP is listed on a blocklist") as s:
        result = await probe_async(s.address, timeouts=FAST)
    assert result.verdict.step == "BANNER" and result.verdict.transient is False


async def test_ehlo_refused_falls_back_to_helo() -> None:
    async with ScriptedSMTP(replies={"EHLO": "502 5.5.2 Error: command not recognized"}) as s:
        result = await probe_async(s.address, timeouts=FAST, mail_from="a@x.test", rcpts=["b@x.test"])
    assert result.verdict.ok
    assert any(c.startswith("HELO ") for c in s.commands)


async def test_connection_closed_at_mail() -> None:
    async with ScriptedSMTP(close_on={"MAIL"}) as s:
        result = await probe_async(s.address, timeouts=FAST, mail_from="a@x.test", rcpts=["b@x.test"])
    assert (result.verdict.step, result.verdict.kind) == ("MAIL", "closed")


async def test_data_is_sent_only_with_data(tmp_path: Path) -> None:
    async with ScriptedSMTP(replies={"DOT": "552 5.3.4 Message size exceeds fixed limit"}) as s:
        result = await probe_async(
            s.address,
            timeouts=FAST,
            mail_from="a@x.test",
            rcpts=["b@x.test"],
            data=b"Subject: t\r\n\r\nhi\r\n",
        )
    assert (result.verdict.step, result.verdict.transient) == ("DOT", False)


# -- STARTTLS and certificates ------------------------------------------------------------------
async def test_starttls_self_signed_is_reported_not_fatal(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    ctx = server_context(certs.self_signed_cert, certs.self_signed_key)
    async with ScriptedSMTP(tls_context=ctx) as s:
        result = await probe_async(s.address, timeouts=FAST, mail_from="a@x.test", rcpts=["b@x.test"])
    assert result.verdict.ok
    tls = result.tls
    assert tls is not None and tls.version.startswith("TLS")
    assert tls.self_signed and tls.subject == "CN=localhost"
    assert tls.verified is False and tls.verify_error
    assert s.connections == 2  # the main session and the separate verified handshake


async def test_starttls_certificate_validates_against_ca(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    async with ScriptedSMTP(tls_context=server_context(certs.cert, certs.key)) as s:
        result = await probe_async(f"localhost:{s.port}", timeouts=FAST, cafile=str(certs.ca))
    assert result.tls is not None
    assert result.tls.verified is True, result.tls.verify_error
    assert result.tls.issuer == "CN=smtpdiag test CA"


async def test_starttls_required_but_not_offered() -> None:
    async with ScriptedSMTP() as s:
        result = await probe_async(s.address, timeouts=FAST, starttls="require")
    assert (result.verdict.step, result.verdict.kind) == ("STARTTLS", "tls")


async def test_tls_handshake_failure_is_named(tmp_path: Path) -> None:
    # The server says 220 to STARTTLS but then speaks plaintext: the handshake fails.
    async with ScriptedSMTP(replies={"STARTTLS": "220 go ahead"}, ehlo_lines=("fake", "STARTTLS")) as s:
        result = await probe_async(s.address, timeouts=FAST.scaled(connect=1))
    assert result.verdict.step == "STARTTLS"
    assert result.verdict.kind == "tls"


# -- AUTH ---------------------------------------------------------------------------------------
async def test_auth_success_and_secret_never_in_transcript(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    ctx = server_context(certs.cert, certs.key)
    async with ScriptedSMTP(tls_context=ctx, auth=("alice", "s3cret-pw")) as s:
        result = await probe_async(s.address, timeouts=FAST, auth_user="alice", auth_password="s3cret-pw")
    assert result.verdict.ok, result.verdict
    dumped = json.dumps(result.to_json())
    assert "s3cret" not in dumped and "czNjcmV0" not in dumped  # nor its base64
    assert "AUTH PLAIN <redacted>" in dumped


async def test_auth_failure_names_auth(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    async with ScriptedSMTP(tls_context=server_context(certs.cert, certs.key), auth=("alice", "right")) as s:
        result = await probe_async(s.address, timeouts=FAST, auth_user="alice", auth_password="wrong")
    assert (result.verdict.step, result.verdict.transient) == ("AUTH", False)
    assert result.verdict.reply is not None and result.verdict.reply.code == 535


async def test_auth_is_not_sent_in_clear_by_default() -> None:
    async with ScriptedSMTP(auth=("alice", "pw")) as s:
        result = await probe_async(s.address, timeouts=FAST, auth_user="alice", auth_password="pw")
    assert result.verdict.step == "AUTH" and "unencrypted" in result.verdict.reason
    assert not any(c.startswith("AUTH") for c in s.commands)


async def test_auth_login_when_only_login_offered() -> None:
    async with ScriptedSMTP(auth=("bob", "pw")) as s:
        s.ehlo_lines = ("fake.test",)
        result = await probe_async(
            s.address, timeouts=FAST, auth_user="bob", auth_password="pw", allow_insecure_auth=True
        )
    assert result.verdict.ok


# -- DNS ----------------------------------------------------------------------------------------
ZONE = """
example.test.       60 IN MX 20 mx2.example.test.
example.test.       60 IN MX 10 mx1.example.test.
mx1.example.test.   60 IN A  127.0.0.1
mx2.example.test.   60 IN A  127.0.0.1
nomx.test.          60 IN A  127.0.0.1
null.test.          60 IN MX 0 .
noaddr.test.        60 IN TXT "no address"
deadmx.test.        60 IN MX 10 dead.deadmx.test.
deadmx.test.        60 IN MX 20 live.deadmx.test.
dead.deadmx.test.   60 IN A  127.0.0.1
live.deadmx.test.   60 IN A  127.0.0.1
"""


async def test_mx_in_preference_order() -> None:
    async with ScriptedSMTP() as s:
        with LoopbackDNS(ZONE) as dns_server:
            result = await probe_async(
                "example.test", port=s.port, dns_server=dns_server.address, timeouts=FAST
            )
    assert result.verdict.ok
    assert [(m.preference, m.host) for m in result.mx] == [(10, "mx1.example.test"), (20, "mx2.example.test")]
    assert result.host == "mx1.example.test"


async def test_missing_mx_falls_back_to_address() -> None:
    async with ScriptedSMTP() as s:
        with LoopbackDNS(ZONE) as dns_server:
            result = await probe_async("nomx.test", port=s.port, dns_server=dns_server.address, timeouts=FAST)
    assert result.verdict.ok
    assert result.mx[0].implicit and result.host == "nomx.test"


@pytest.mark.parametrize(
    ("domain", "kind", "phrase"),
    [
        ("missing.test", "nxdomain", "does not exist"),
        ("null.test", "nullmx", "null MX"),
        ("noaddr.test", "nomx", "no MX record"),
    ],
)
async def test_dns_failures_are_named(domain: str, kind: str, phrase: str) -> None:
    with LoopbackDNS(ZONE) as dns_server:
        result = await probe_async(domain, dns_server=dns_server.address, timeouts=FAST)
    assert (result.verdict.step, result.verdict.kind) == ("DNS", kind)
    assert phrase in result.verdict.reason
    assert result.verdict.transient is False


async def test_dns_timeout() -> None:
    with SilentDNS() as silent:
        resolver = make_resolver(silent.address, timeout=0.5)
        result = await probe_async("example.test", resolver=resolver, timeouts=FAST)
    assert (result.verdict.step, result.verdict.kind, result.verdict.transient) == ("DNS", "timeout", True)


async def test_unreachable_first_mx_goes_to_the_next() -> None:
    # Both MX names point at 127.0.0.1, so use per-host ports: the first MX is tried on a dead port
    # by giving it a 4xx greeting instead (RFC 5321: try the next MX).
    async with ScriptedSMTP(banner="421 4.3.2 Service shutting down") as s:
        with LoopbackDNS(ZONE) as dns_server:
            result = await probe_async(
                "deadmx.test", port=s.port, dns_server=dns_server.address, timeouts=FAST
            )
    notes = [e.text for e in result.transcript if e.kind == "info"]
    assert any("trying the next" in n for n in notes)
    assert s.connections == 2
    assert result.verdict.step == "BANNER" and result.verdict.transient is True


# -- CLI ----------------------------------------------------------------------------------------
def test_cli_probe_json_and_exit_codes() -> None:
    with LoopbackDNS(ZONE) as dns_server:
        runner = CliRunner()
        out = runner.invoke(cli, ["probe", "missing.test", "--dns-server", dns_server.address, "--json"])
        assert out.exit_code == 68, out.output
        data = json.loads(out.output)
        assert data["verdict"]["step"] == "DNS" and data["verdict"]["kind"] == "nxdomain"
        out = runner.invoke(cli, ["probe", "null.test", "--dns-server", dns_server.address])
        assert out.exit_code == 68
        assert "VERDICT: FAILED at DNS" in out.output and "null MX" in out.output


def test_cli_probe_usage_errors_exit_64() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["probe", "bad host name"]).exit_code == 64
    assert runner.invoke(cli, ["probe", "x.test", "--dns-server", "not-an-ip"]).exit_code == 64
    assert runner.invoke(cli, ["probe", "x.test", "--rcpt", "no-at-sign"]).exit_code == 64
    assert runner.invoke(cli, ["probe", "x.test", "--bogus"]).exit_code == 64


def test_cli_probe_refused_exit_75() -> None:
    out = CliRunner().invoke(cli, ["probe", f"127.0.0.1:{free_port()}", "--timeout-connect", "2"])
    assert out.exit_code == 75
    assert "FAILED at CONNECT" in out.output and "refused" in out.output


async def test_refused_first_mx_then_the_next_one() -> None:
    zone = """
    two.test.       60 IN MX 10 down.two.test.
    two.test.       60 IN MX 20 up.two.test.
    down.two.test.  60 IN A 127.0.0.2
    up.two.test.    60 IN A 127.0.0.1
    """
    async with ScriptedSMTP() as s:  # listens on 127.0.0.1 only: 127.0.0.2 refuses
        with LoopbackDNS(zone) as dns_server:
            result = await probe_async("two.test", port=s.port, dns_server=dns_server.address, timeouts=FAST)
    assert result.verdict.ok and result.host == "up.two.test"
    errors = [e for e in result.transcript if e.kind == "error"]
    assert errors and errors[0].step == "CONNECT" and "refused" in errors[0].text


def test_cli_probe_with_data_auth_from_env_and_russian(tmp_path: Path) -> None:
    import asyncio

    certs = make_certs(tmp_path)
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: hi\n\nbody\n")

    async def scenario() -> tuple[Any, ScriptedSMTP]:
        ctx = server_context(certs.cert, certs.key)
        async with ScriptedSMTP(
            tls_context=ctx, auth=("alice", "pw-123"), replies={"DOT": "554 5.7.1 spam"}
        ) as s:
            args = ["probe", s.address, "--auth", "alice", "--from", "a@x.test", "--rcpt", "b@y.test"]
            args += ["--data", str(message), "--lang", "ru", "--cafile", str(certs.ca)]
            runner = CliRunner(env={"SMTPDIAG_PASSWORD": "pw-123"})
            out = await asyncio.to_thread(runner.invoke, cli, args)
            return out, s

    out, server = asyncio.run(scenario())
    assert out.exit_code == 69, out.output
    assert "VERDICT: FAILED at DOT" in out.output
    assert "pw-123" not in out.output and "AUTH PLAIN <redacted>" in out.output
    assert any("\u0400" <= ch <= "\u04ff" for ch in out.output)  # the explanation is in Russian
    assert "validates for" in out.output  # CA-signed certificate checked against --cafile
    assert len(server.commands) > 0


def test_cli_probe_auth_without_password_source_is_usage_error() -> None:
    out = CliRunner().invoke(cli, ["probe", "127.0.0.1:1", "--auth", "alice"])
    assert out.exit_code == 64 and "SMTPDIAG_PASSWORD" in out.output


async def test_implicit_tls(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    ctx = server_context(certs.cert, certs.key)
    async with ScriptedSMTP(tls_context=ctx, implicit_tls=True) as s:
        result = await probe_async(
            f"localhost:{s.port}", implicit_tls=True, cafile=str(certs.ca), timeouts=FAST
        )
        plain = await probe_async(f"localhost:{s.port}", timeouts=FAST.scaled(initial=0.5))
    assert result.verdict.ok, result.verdict
    assert result.tls is not None and result.tls.verified is True
    assert "STARTTLS" not in [e.step for e in result.transcript if e.kind == "client"]
    # Plaintext to a TLS port: the server waits for a ClientHello and never greets.
    assert plain.verdict.step == "BANNER" and not plain.verdict.ok and "try --tls" in plain.verdict.reason


async def test_implicit_tls_to_a_plaintext_port() -> None:
    async with ScriptedSMTP() as s:
        result = await probe_async(s.address, implicit_tls=True, timeouts=FAST)
    assert (result.verdict.step, result.verdict.kind) == ("CONNECT", "tls")
    assert "drop --tls" in result.verdict.reason
