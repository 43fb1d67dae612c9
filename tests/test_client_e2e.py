"""End to end against the real `smtpdiag serve` (pytest fixture `smtpdiag_server`): every named
scenario is provoked, and both `send` and `probe` name the step that failed, whether it is
temporary, and (where the reply leaves no doubt) the reason."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from smtpdiag.client.probe import probe
from smtpdiag.client.queue import Queue
from smtpdiag.client.send import SendResult, send
from smtpdiag.client.session import Timeouts
from smtpdiag.server.scenarios import SCENARIOS

FAST = Timeouts(connect=3, initial=3, command=3, mail=3, rcpt=3, data_init=3, data_block=3, data_term=3)
MSG = b"From: app@example.test\r\nTo: user@example.test\r\nSubject: e2e\r\n\r\nhello\r\n"


@pytest.fixture
def smtpdiag_settings() -> dict[str, Any]:
    return {"users": {"alice": "correct horse"}}


@dataclass(frozen=True)
class Expect:
    step: str  # the step send and probe must name
    outcome: str  # accepted | transient | permanent
    reason: str | None = None  # the explanation's reason, where the reply leaves no doubt
    kind: str = "reply"  # probe verdict kind: reply | timeout | closed | protocol
    options: tuple[tuple[str, Any], ...] = ()  # extra send/probe options
    repeat: int = 0  # sends before the one that is checked (rate limits)


EXPECT: dict[str, Expect] = {
    "mailbox-full": Expect("RCPT", "transient", "mailboxfull"),
    "mailbox-full-permanent": Expect("RCPT", "permanent", "mailboxfull"),
    "spam-rejected": Expect("DOT", "permanent", "spamdetected"),
    "auth-required": Expect("MAIL", "permanent"),
    "auth-failed": Expect(
        "AUTH", "permanent", "securityerror", options=(("auth_user", "alice"), ("auth_password", "wrong"))
    ),
    "relay-denied": Expect("RCPT", "permanent", "norelaying"),
    "access-denied": Expect("RCPT", "permanent"),
    "sender-rejected": Expect("MAIL", "permanent"),
    "greylisting": Expect("RCPT", "transient"),
    "message-too-big": Expect("DOT", "permanent", "mesgtoobig"),
    "user-unknown": Expect("RCPT", "permanent", "userunknown"),
    "mailbox-unavailable": Expect("RCPT", "permanent"),
    "mailbox-busy": Expect("RCPT", "transient"),
    "domain-not-found": Expect("RCPT", "permanent", "hostunknown"),
    "invalid-address": Expect("RCPT", "permanent"),
    "rate-limited": Expect("MAIL", "transient", repeat=3),
    "service-unavailable": Expect("BANNER", "transient"),
    "blocked": Expect("BANNER", "permanent", "blocked"),
    "local-error": Expect("DOT", "transient"),
    "storage-full": Expect("MAIL", "transient"),
    "transaction-failed": Expect("DOT", "permanent"),
    "tls-required": Expect("MAIL", "permanent", options=(("starttls", "never"),)),
    "timeout": Expect(
        "DOT", "transient", kind="timeout", options=(("timeouts", FAST.scaled(data_term=0.5)),)
    ),
    "slow": Expect("BANNER", "transient", kind="timeout", options=(("timeouts", FAST.scaled(initial=0.5)),)),
    "disconnect": Expect("DATA", "transient", kind="closed"),
    "blackhole": Expect("", "accepted"),
    "not-smtp": Expect("BANNER", "transient", kind="protocol"),
}


def test_every_server_scenario_is_covered() -> None:
    assert set(EXPECT) == set(SCENARIOS)


def _send(server: Any, options: dict[str, Any]) -> SendResult:
    return send(
        MSG,
        sender="app@example.test",
        recipients=["user@example.test"],
        server=f"{server.host}:{server.port}",
        **{"timeouts": FAST, **options},
    )


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_scenario_seen_by_send_and_probe(smtpdiag_server: Any, name: str) -> None:
    expect = EXPECT[name]
    options = dict(expect.options)
    smtpdiag_server.scenario(name)
    for _ in range(expect.repeat):
        assert _send(smtpdiag_server, options).ok
    result = _send(smtpdiag_server, options)
    (r,) = result.recipients
    assert (r.status, r.step if r.status != "accepted" else "") == (expect.outcome, expect.step), r
    if expect.reason:
        assert r.explanation is not None and r.explanation.reason == expect.reason, r.explanation
    if expect.outcome == "accepted":
        assert result.exit_code == 0
        assert smtpdiag_server.messages == []  # blackhole: "sent" is not "delivered"
        return
    assert result.exit_code == (75 if expect.outcome == "transient" else 69)

    probe_options = {k: v for k, v in options.items() if k != "auth_password"}
    if "auth_user" in options:
        probe_options["auth_password"] = options["auth_password"]
    found = probe(
        f"{smtpdiag_server.host}:{smtpdiag_server.port}",
        mail_from="app@example.test",
        rcpts=["user@example.test"],
        data=MSG,
        **{"timeouts": FAST, **probe_options},
    )
    verdict = found.verdict
    assert (verdict.ok, verdict.step, verdict.kind) == (False, expect.step, expect.kind), verdict
    if expect.kind == "reply":
        assert verdict.transient is (expect.outcome == "transient")
        assert verdict.explanation is not None and verdict.explanation.summary
    if expect.reason:
        assert verdict.explanation is not None and verdict.explanation.reason == expect.reason


def test_probe_reports_server_tls_and_auth(smtpdiag_server: Any) -> None:
    result = probe(
        f"{smtpdiag_server.host}:{smtpdiag_server.port}",
        auth_user="alice",
        auth_password="correct horse",
        timeouts=FAST,
    )
    assert result.verdict.ok, result.verdict
    assert result.tls is not None and result.tls.version.startswith("TLS")
    assert result.tls.verified is False and result.tls.verify_error  # the generated self-signed cert
    assert "PLAIN" in result.auth_mechanisms
    assert "correct horse" not in str(result.to_json())


def test_tls_required_is_solved_by_starttls(smtpdiag_server: Any) -> None:
    smtpdiag_server.scenario("tls-required")
    assert _send(smtpdiag_server, {"starttls": "require"}).ok


def test_greylisted_send_is_queued_and_delivered_by_retry(smtpdiag_server: Any, tmp_path: Any) -> None:
    smtpdiag_server.add_rule(stage="rcpt", action="greylist", greylist_seconds=1)
    result = _send(smtpdiag_server, {})
    assert result.exit_code == 75
    queue = Queue(tmp_path / "q.db", first_retry=1, max_interval=1)
    queue.enqueue(
        sender=result.sender,
        message=MSG,
        recipients=result.transient,
        options={"server": f"{smtpdiag_server.host}:{smtpdiag_server.port}"},
    )
    import asyncio

    assert asyncio.run(queue.retry(send_options={"timeouts": FAST})).attempted == 0  # not due yet
    time.sleep(1.2)
    report = asyncio.run(queue.retry(send_options={"timeouts": FAST}))
    assert report.delivered == ["user@example.test"]
    assert len(smtpdiag_server.messages) == 1


def test_readme_demo_with_real_processes(tmp_path: Any) -> None:
    """The docs' demo, literally: `smtpdiag serve --scenario` in one process, probe/send in others."""
    import json
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    smtpdiag = [sys.executable, "-m", "smtpdiag"]
    serve_args = ["serve", "--memory", "--scenario", "user-unknown", "--listen", f"127.0.0.1:{port}", "-q"]
    serve = subprocess.Popen([*smtpdiag, *serve_args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert serve.poll() is None, serve.stderr.read() if serve.stderr else b""
                assert time.monotonic() < deadline, "smtpdiag serve did not start"
                time.sleep(0.1)
        target = f"127.0.0.1:{port}"
        common = ["--timeout-initial", "10", "--timeout-command", "10"]
        probe_args = ["probe", target, "--from", "app@example.test", "--rcpt", "user@example.test", "--json"]
        probe_run = subprocess.run([*smtpdiag, *probe_args, *common], capture_output=True, timeout=60)
        assert probe_run.returncode == 69, probe_run.stderr
        verdict = json.loads(probe_run.stdout)["verdict"]
        assert (verdict["step"], verdict["code"], verdict["enhanced"]) == ("RCPT", 550, "5.1.1")
        assert verdict["explanation"]["reason"] == "userunknown"
        send_args = ["send", "--from", "app@example.test", "--to", "user@example.test", "--server", target]
        send_args += ["--queue-db", str(tmp_path / "q.db"), "--dsn-dir", str(tmp_path / "dsn")]
        send_run = subprocess.run([*smtpdiag, *send_args, *common], capture_output=True, timeout=60)
        assert send_run.returncode == 69, send_run.stderr
        assert b"permanent  <user@example.test>  at RCPT: 550 5.1.1" in send_run.stdout
        assert len(list((tmp_path / "dsn").glob("*.eml"))) == 1
    finally:
        serve.terminate()
        serve.wait(10)
