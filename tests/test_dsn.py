"""RFC 3464 DSNs: structure, fields, and a round trip through smtpdiag's own bounce analysis."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

from smtpdiag.bounce.pipeline import analyze
from smtpdiag.client.dsn import DSNRecipient, build_dsn, dsn_bytes, recipients_from_results, write_dsn
from smtpdiag.client.explanation import Explanation
from smtpdiag.client.send import RecipientResult
from smtpdiag.reply import Reply

ORIGINAL = (
    b"From: Alice <alice@x.test>\r\nTo: bob@y.test\r\nSubject: Quarterly report\r\n"
    b"Message-ID: <orig-1@x.test>\r\n\r\nSecret body text that must not come back.\r\n"
)
WHEN = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _results() -> list[RecipientResult]:
    return [
        RecipientResult(
            "bob@y.test",
            "permanent",
            "RCPT",
            reply=Reply(
                550,
                ("<bob@y.test>: Recipient address rejected: User unknown in local recipient table",),
                "5.1.1",
            ),
            server="mx.y.test",
            enhanced_status="5.1.1",
            explanation=Explanation("The address does not exist.", "userunknown", True, "never"),
        ),
        RecipientResult(
            "carol@z.test",
            "permanent",
            "DOT",
            reply=Reply(552, ("Requested mail action aborted: exceeded storage allocation",), "5.2.2"),
            server="mx.z.test",
            enhanced_status="5.2.2",
        ),
        RecipientResult("dave@y.test", "accepted", "DOT", reply=Reply(250, ("ok",), "2.0.0")),
    ]


def test_structure_and_fields() -> None:
    dsn = build_dsn(
        original=ORIGINAL,
        sender="alice@x.test",
        recipients=recipients_from_results(_results(), attempted_at=WHEN),
        reporting_mta="relay.x.test",
        arrival_date=WHEN,
    )
    parsed = email.message_from_bytes(dsn_bytes(dsn), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "delivery-status"
    assert parsed["To"] == "alice@x.test" and "MAILER-DAEMON@relay.x.test" in parsed["From"]
    parts = parsed.get_payload()
    assert isinstance(parts, list)
    assert [p.get_content_type() for p in parts] == [
        "text/plain",
        "message/delivery-status",
        "text/rfc822-headers",
    ]
    human = parts[0].get_content()
    assert "Each of the following recipients was rejected by a remote mail server" in human
    assert "<bob@y.test>" in human and "The address does not exist." in human
    assert "(in reply to RCPT TO command)" in human and "(in reply to end of DATA command)" in human
    assert "dave@y.test" not in human  # accepted recipients are not reported
    status_text = dsn_bytes(dsn).decode()
    assert "Reporting-MTA: dns; relay.x.test" in status_text
    assert "Arrival-Date: Sat, 28 Nov 2026 12:00:00 +0000" in status_text
    for field in (
        "Final-Recipient: rfc822; bob@y.test",
        "Action: failed",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx.y.test",
        "Diagnostic-Code: smtp; 550 5.1.1 <bob@y.test>: Recipient address rejected",
        "Last-Attempt-Date: Sat, 28 Nov 2026 12:00:00 +0000",
        "Final-Recipient: rfc822; carol@z.test",
        "Status: 5.2.2",
    ):
        assert field in status_text, field
    headers = parts[2].get_payload()
    assert "Subject: Quarterly report" in headers and "Message-ID: <orig-1@x.test>" in headers
    assert "Secret body text" not in status_text  # headers only, never the content


def test_expired_and_delayed_wording() -> None:
    dsn = build_dsn(
        original=ORIGINAL,
        sender="alice@x.test",
        recipients=[
            DSNRecipient("e@y.test", "failed", "4.7.1", diagnostic="451 4.7.1 greylisted", expired=True),
            DSNRecipient("f@y.test", "delayed", "4.2.2", diagnostic="452 4.2.2 full", will_retry_until=WHEN),
        ],
        reporting_mta="relay.x.test",
    )
    text = dsn_bytes(dsn).decode()
    parsed = email.message_from_bytes(dsn_bytes(dsn), policy=email.policy.default)
    human = " ".join(parsed.get_payload()[0].get_content().split())  # type: ignore[index]
    assert "given up" in human and "has been delayed" in human
    assert "Will-Retry-Until:" in text and "Action: delayed" in text


def test_header_injection_is_neutralised() -> None:
    dsn = build_dsn(
        original=ORIGINAL,
        sender="alice@x.test",
        recipients=[DSNRecipient("g@y.test", "failed", "5.0.0", diagnostic="550 bad\r\nBcc: evil@z.test")],
    )
    assert b"\r\nBcc: evil" not in dsn_bytes(dsn)


def test_write_dsn_atomically(tmp_path: Path) -> None:
    dsn = build_dsn(original=ORIGINAL, sender="a@x.test", recipients=recipients_from_results(_results()))
    path = write_dsn(dsn, tmp_path / "out")
    assert path.suffix == ".eml" and path.read_bytes() == dsn_bytes(dsn)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [path.name]  # no temp file left


def test_round_trip_through_bounce_analysis() -> None:
    dsn = build_dsn(
        original=ORIGINAL,
        sender="alice@x.test",
        recipients=recipients_from_results(_results(), attempted_at=WHEN),
        reporting_mta="relay.x.test",
        arrival_date=WHEN,
    )
    results = {r.recipient: r for r in analyze(dsn_bytes(dsn))}
    assert set(results) == {"bob@y.test", "carol@z.test"}
    bob, carol = results["bob@y.test"], results["carol@z.test"]
    assert (bob.status, bob.replycode, bob.reason, bob.hardbounce) == ("5.1.1", "550", "userunknown", True)
    assert bob.action == "failed" and bob.remote_mta == "mx.y.test"
    assert (bob.command, carol.command) == ("RCPT", "DATA")  # from "(in reply to ... command)"
    assert (carol.status, carol.replycode, carol.reason) == ("5.2.2", "552", "mailboxfull")
    assert bob.original_subject == "Quarterly report" or bob.original_message_id == "<orig-1@x.test>"
