"""The runtime policy (faults, quotas, AUTH throttle) and transcripts, without sockets."""

from __future__ import annotations

from smtpdiag.protocol.policy import DefaultPolicy, Session
from smtpdiag.server.faults import FaultEngine
from smtpdiag.server.policy import AuthThrottle, RuntimePolicy
from smtpdiag.server.settings import Settings
from smtpdiag.server.storage import MemoryStore
from smtpdiag.server.transcript import REDACTED, TranscriptLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_policy(rules: list[dict[str, object]] | None = None, **settings: object) -> RuntimePolicy:
    s = Settings().merge({"storage": "memory", **settings})
    return RuntimePolicy(
        s,
        DefaultPolicy(s),
        FaultEngine(rules or []),
        MemoryStore(quota=s.quota_per_mailbox or None),
        AuthThrottle(3, 60.0),
    )


def test_without_rules_the_configured_mailboxes_decide() -> None:
    policy = make_policy(local_domains=["local.test"])
    session = Session(peer="192.0.2.1")
    assert policy.on_rcpt(session, "a@local.test", {}).reply is None
    refused = policy.on_rcpt(session, "a@other.test", {}).reply
    assert refused is not None and (refused.code, refused.enhanced) == (554, "5.7.1")


def test_a_rule_overrides_and_a_delay_only_rule_keeps_the_normal_decision() -> None:
    policy = make_policy([{"stage": "rcpt", "recipient": "x@*", "code": 450, "enhanced": "4.2.1"}])
    session = Session(peer="192.0.2.1")
    decision = policy.on_rcpt(session, "x@local.test", {})
    assert decision.reply is not None and decision.reply.code == 450
    delayed = make_policy([{"stage": "mail", "action": "delay", "delay": 2}], local_domains=["l.test"])
    d = delayed.on_mail(session, "s@x.test", {})
    assert d.reply is None and d.delay_seconds == 2
    d = delayed.on_rcpt(session, "u@elsewhere.test", {})
    assert d.reply is not None and d.reply.code == 554


def test_drop_marks_the_transaction() -> None:
    policy = make_policy([{"stage": "rcpt", "recipient": "trap@*", "action": "drop"}])
    session = Session(peer="192.0.2.1")
    assert policy.on_rcpt(session, "ok@l.test", {}).reply is None and not policy.drop_message
    assert policy.on_rcpt(session, "trap@l.test", {}).reply is None and policy.drop_message


def test_garbage_is_raw_output_then_disconnect() -> None:
    policy = make_policy([{"stage": "ehlo", "action": "garbage", "text": "HTTP/1.1 400 Bad Request"}])
    d = policy.on_helo(Session(peer="192.0.2.1"), "c")
    assert d.reply is None and d.disconnect
    assert policy.raw_output == b"HTTP/1.1 400 Bad Request\r\n"


def test_quota_checked_at_rcpt() -> None:
    policy = make_policy(quota_per_mailbox=100)
    writer = policy.store.begin("s@x", ["full@l.test"])
    writer.write(b"x" * 200)
    writer.commit()
    d = policy.on_rcpt(Session(peer="1.2.3.4"), "full@l.test", {})
    assert d.reply is not None and (d.reply.code, d.reply.enhanced) == (452, "4.2.2")
    assert policy.on_rcpt(Session(peer="1.2.3.4"), "empty@l.test", {}).reply is None


def test_auth_throttle_per_ip_and_window() -> None:
    clock = Clock()
    throttle = AuthThrottle(3, 60.0, clock=clock)
    for _ in range(3):
        assert not throttle.blocked("10.0.0.1")
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1") and not throttle.blocked("10.0.0.2")
    clock.now += 61
    assert not throttle.blocked("10.0.0.1")


def test_auth_failures_feed_the_throttle() -> None:
    policy = make_policy(users={"bob": "pw"})
    session = Session(peer="10.9.9.9", tls_active=True)
    codes = [policy.on_auth(session, "PLAIN", "", "bob", "bad").reply for _ in range(4)]
    assert [r.code if r else 235 for r in codes] == [535, 535, 535, 454]
    assert policy.on_auth(Session(peer="10.9.9.8"), "PLAIN", "", "bob", "pw").reply is None


def test_transcript_redacts_auth_exchanges() -> None:
    log = TranscriptLog()
    t = log.open("s1", client="1.2.3.4:5")
    t.command("EHLO x")
    t.reply(b"250 ok\r\n")
    t.command("AUTH PLAIN AGJvYgBwdw==")
    t.reply(b"235 2.7.0 ok\r\n")
    t.command("AUTH LOGIN")
    t.reply(b"334 VXNlcm5hbWU6\r\n")
    t.command("Ym9i")
    t.reply(b"334 UGFzc3dvcmQ6\r\n")
    t.command("cHc=")
    t.reply(b"535 5.7.8 no\r\n")
    t.command("MAIL FROM:<a@b>")
    t.close()
    lines = [e["line"] for e in log.sessions()[0]["entries"] if e["dir"] == "c"]
    assert lines == ["EHLO x", f"AUTH PLAIN {REDACTED}", "AUTH LOGIN", REDACTED, REDACTED, "MAIL FROM:<a@b>"]


def test_transcript_log_is_bounded() -> None:
    log = TranscriptLog(keep=3)
    for i in range(10):
        log.open(f"s{i}").close()
    assert [s["id"] for s in log.sessions()] == ["s7", "s8", "s9"]
    t = log.open("big")
    for i in range(5000):
        t.command(f"NOOP {i}")
    assert len(t.entries) <= 2000
