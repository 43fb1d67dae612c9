"""Each bounce format module on small synthetic messages, plus robustness of the whole pipeline."""

from __future__ import annotations

import email
import json
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smtpdiag.bounce import analyze, analyze_report

CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"


def _dsn(per_recipient: str, human: str = "Delivery failed.", report_type: str = "delivery-status") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.org\r\n"
        "To: sender@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="BB"\r\n\r\n'
        "--BB\r\nContent-Type: text/plain\r\n\r\n"
        f"{human}\r\n"
        f"--BB\r\nContent-Type: message/{report_type}\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"{per_recipient}\r\n"
        "--BB\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: sender@example.com\r\nTo: someone@example.net\r\nSubject: Hello\r\n"
        "Message-ID: <orig-1@example.com>\r\n\r\n"
        "--BB--\r\n"
    ).encode()


def test_rfc3464_dsn() -> None:
    raw = _dsn(
        "Final-Recipient: rfc822; someone@example.net\r\n"
        "Original-Recipient: rfc822; Someone@Example.NET\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.net\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <someone@example.net>: Recipient address rejected: User unknown\r\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.reason, r.status, r.replycode, r.hardbounce) == (
        "someone@example.net",
        "userunknown",
        "5.1.1",
        "550",
        True,
    )
    assert r.format == "postfix"  # an RFC 3464 report, recognised as Postfix's by its subject
    assert r.action == "failed"
    # Nothing says which command failed (an echoed address and "Recipient address rejected" are
    # not evidence): the command stays unknown, and the 5.1.1 status alone says userunknown.
    assert r.command == ""
    assert r.original_message_id == "<orig-1@example.com>"
    assert r.original_subject == "Hello"
    assert r.remote_mta == "mx.example.net"


def test_rfc3464_several_recipients_and_a_delay() -> None:
    raw = _dsn(
        "Final-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n\r\n"
        "Final-Recipient: rfc822; b@example.net\r\nAction: delayed\r\nStatus: 4.4.7\r\n"
    )
    a, b = analyze(raw)
    assert (a.recipient, a.reason, a.hardbounce) == ("a@example.net", "mailboxfull", False)
    assert (b.recipient, b.reason, b.status) == ("b@example.net", "expired", "4.4.7")


def test_rfc6533_global_delivery_status() -> None:
    raw = _dsn(
        "Final-Recipient: utf-8; пользователь@пример.рф\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        report_type="global-delivery-status",
    )
    [r] = analyze(raw)
    assert r.reason == "userunknown"


def test_arf_feedback_report() -> None:
    raw = (
        b"From: fbl@isp.example\r\nTo: abuse@sender.example\r\nSubject: FW: spam\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="AA"\r\n\r\n'
        b"--AA\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
        b"--AA\r\nContent-Type: message/feedback-report\r\n\r\n"
        b"Feedback-Type: abuse\r\nUser-Agent: test/1.0\r\nVersion: 1\r\n"
        b"Original-Rcpt-To: <victim@isp.example>\r\n\r\n"
        b"--AA\r\nContent-Type: message/rfc822\r\n\r\nFrom: news@sender.example\r\nTo: victim@isp.example\r\n"
        b"Subject: Deals\r\n\r\nbody\r\n--AA--\r\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.reason, r.feedbacktype, r.hardbounce) == (
        "victim@isp.example",
        "feedback",
        "abuse",
        False,
    )


def test_rfc3834_vacation_reply() -> None:
    raw = (
        b"From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: Out of Office: meeting\r\n"
        b"Auto-Submitted: auto-replied\r\n\r\nI am on vacation until Monday.\r\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.reason) == ("alice@example.org", "vacation")


def test_plain_text_postfix_style() -> None:
    raw = (
        b"From: MAILER-DAEMON (Mail Delivery System)\r\nTo: sender@example.com\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n\r\n"
        b"I'm sorry to have to inform you that your message could not\r\nbe delivered.\r\n\r\n"
        b"<bob@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 <bob@example.net>:\r\n"
        b"    Recipient address rejected: User unknown in local recipient table (in reply to\r\n"
        b"    RCPT TO command)\r\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.reason, r.status, r.replycode, r.command) == (
        "bob@example.net",
        "userunknown",
        "5.1.1",
        "550",
        "RCPT",
    )
    assert r.format == "postfix"


def test_plain_text_qmail_style_two_recipients() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\r\nTo: sender@example.com\r\nSubject: failure notice\r\n\r\n"
        b"Hi. This is the qmail-send program at mx.example.org.\r\n"
        b"I'm afraid I wasn't able to deliver your message to the following\r\naddresses.\r\n\r\n"
        b"<a@example.net>:\r\n192.0.2.1 does not like recipient.\r\n"
        b"Remote host said: 552 5.2.2 <a@example.net>... Mailbox over quota\r\n"
        b"Giving up on 192.0.2.1.\r\n\r\n"
        b"<b@example.net>:\r\nSorry, I couldn't find any host named example.net. (#5.1.2)\r\n\r\n"
        b"--- Below this line is a copy of the message.\r\n\r\nTo: a@example.net, b@example.net\r\n"
    )
    a, b = analyze(raw)
    assert (a.recipient, a.reason, a.status) == ("a@example.net", "mailboxfull", "5.2.2")
    assert (b.recipient, b.reason, b.status, b.hardbounce) == ("b@example.net", "hostunknown", "5.1.2", True)
    assert a.original_to == "a@example.net, b@example.net"  # from the copy returned inline


def test_plain_text_exim_style_sender_rejected_at_mail_from() -> None:
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\nTo: sender@example.com\r\n"
        b"Subject: Mail delivery failed: returning message to sender\r\n\r\n"
        b"A message that you sent could not be delivered to one or more of its\r\n"
        b"recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        b"  carol@example.net\r\n"
        b"    SMTP error from remote mail server after MAIL FROM:<sender@example.com>:\r\n"
        b"    host mx.example.net [192.0.2.2]: 553 5.1.8 Sender address domain does not exist\r\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.reason, r.command, r.hardbounce) == (
        "carol@example.net",
        "rejected",
        "MAIL",
        False,
    )


def test_amazon_ses_json_notification() -> None:
    event = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [
                {
                    "emailAddress": "x@example.net",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "reportingMTA": "dsn; a1.smtp-out.amazonses.com",
        },
    }
    envelope = {"Type": "Notification", "Message": json.dumps(event)}
    raw = (
        b"From: no-reply@sns.amazonaws.com\r\nSubject: AWS Notification Message\r\n\r\n"
        + json.dumps(envelope).encode()
    )
    [r] = analyze(raw)
    assert (r.recipient, r.reason, r.status, r.replycode, r.format) == (
        "x@example.net",
        "userunknown",
        "5.1.1",
        "550",
        "amazonses",
    )


def test_google_groups_refusal() -> None:
    raw = (
        b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        b"To: poster@example.com\r\nSubject: Delivery Status Notification (Failure)\r\n"
        b"X-Failed-Recipients: team@googlegroups.com\r\n\r\n"
        b"Hello poster@example.com,\r\n"
        b"\r\nThe group you tried to contact (team) may not exist, or you may not"
        b" have permission to post messages to the group.\r\n\r\nhttps://groups.google.com/support/\r\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.reason, r.format) == ("team@googlegroups.com", "rejected", "googlegroups")


def test_charsets_are_decoded() -> None:
    body = "<bob@example.jp>: host mx said: 550 5.1.1 ユーザーが存在しません (in reply to RCPT TO command)"
    for charset in ("iso-2022-jp", "shift_jis", "utf-8", "utf-7", "euc-jp"):
        raw = (
            "From: MAILER-DAEMON@mx.example.org\r\nTo: s@example.com\r\nSubject: Undelivered Mail\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset={charset}\r\n\r\n"
        ).encode() + body.encode(charset)
        [r] = analyze(raw)
        assert r.reason == "userunknown"
        assert "ユーザー" in r.diagnostic


def test_mbox_from_line_and_lf_line_endings() -> None:
    raw = (
        b"From MAILER-DAEMON Thu Apr 29 23:34:45 2010\n"
        b"From: MAILER-DAEMON@mx.example.org\nTo: s@example.com\nSubject: Returned mail\n\n"
        b"<bob@example.net>: host mx said: 552 5.2.2 Mailbox full (in reply to RCPT TO command)\n"
    )
    [r] = analyze(raw)
    assert r.reason == "mailboxfull"


def test_accepts_a_parsed_message() -> None:
    raw = (CORPUS / "lhost-postfix-04.eml").read_bytes()
    assert analyze(email.message_from_bytes(raw)) == analyze(raw)


def test_not_a_bounce_gives_nothing() -> None:
    raw = b"From: friend@example.org\r\nTo: me@example.com\r\nSubject: lunch?\r\n\r\nTomorrow at noon?\r\n"
    assert analyze(raw) == []


def test_bad_input_never_raises() -> None:
    assert analyze(b"") == []
    assert analyze(b"\x00\xff" * 1000) == []
    assert analyze("not bytes") == []  # type: ignore[arg-type]
    rep = analyze_report("not bytes")  # type: ignore[arg-type]
    assert rep.error


def test_adversarial_long_lines_are_fast() -> None:
    hostile_lines = [
        b"a@" * 500_000,
        b"<" * 1_000_000,
        b" " * 1_000_000 + b"x",
        b"550-" * 250_000,
        (b"user@example.com " * 60_000),
        b"Final-Recipient: " + b"x" * 1_000_000,
    ]
    for line in hostile_lines:
        raw = b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail\r\n\r\n" + line + b"\r\n"
        t0 = time.perf_counter()
        analyze(raw)
        assert time.perf_counter() - t0 < 5.0, line[:20]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert isinstance(analyze(b"From: MAILER-DAEMON@x\r\nSubject: failure notice\r\n\r\n" + data), list)
    assert isinstance(analyze(data), list)


def _corpus_samples() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))[::23]]


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_corpus_emails_never_raise(data: st.DataObject) -> None:
    samples = _corpus_samples()
    raw = bytearray(data.draw(st.sampled_from(samples)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=20))):
        pos = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "dup"]))
        if op == "flip":
            raw[pos] = data.draw(st.integers(min_value=0, max_value=255))
        elif op == "cut":
            del raw[pos : pos + data.draw(st.integers(min_value=1, max_value=200))]
        else:
            raw[pos:pos] = raw[pos : pos + 100]
        if not raw:
            break
    assert isinstance(analyze(bytes(raw)), list)


# Layouts of mail systems that have no module of their own (none of them is in the corpus).
UNKNOWN_SYSTEMS = {
    "mdaemon-transcript": (
        b"From: MDaemon@mail.example.com\nTo: sender@example.com\nSubject: Permanent Delivery Failure\n\n"
        b"The attached message had PERMANENT fatal delivery errors!\n\n--- Session Transcript ---\n"
        b" Tue 2023-01-10 10:00:00: Parsing message <x@example.com>\n"
        b" Tue 2023-01-10 10:00:00: *  To: bob@example.net\n"
        b" Tue 2023-01-10 10:00:01: --> RCPT To:<bob@example.net>\n"
        b" Tue 2023-01-10 10:00:01: <-- 550 5.1.1 <bob@example.net>: Recipient address rejected:"
        b" User unknown\n"
        b"--- End Transcript ---\n",
        ("bob@example.net", "userunknown", "5.1.1", "550", "RCPT"),
    ),
    "hmailserver": (
        b"From: mailer-daemon@mail.example.com\nTo: sender@example.com\n"
        b"Subject: Message undeliverable: hello\n\n"
        b"Your message did not reach some or all of the intended recipients.\n\n"
        b"The following recipient(s) could not be reached:\n\nbob@example.net\n   Error Type: SMTP\n"
        b"   Remote server (192.0.2.1) issued an error.\n   hMailServer sent: RCPT TO:<bob@example.net>\n"
        b"   Remote server replied: 552 5.2.2 Mailbox full\n",
        ("bob@example.net", "mailboxfull", "5.2.2", "552", "RCPT"),
    ),
    "courier-transcript": (
        b"From: Courier mail server at mx.example.org <@>\nTo: sender@example.com\n"
        b"Subject: NOTICE: mail delivery status.\n\n"
        b"This is a delivery status notification from mx.example.org.\n\n<erin@example.net>:\n"
        b"    mx.example.net [192.0.2.9]:\n>>> DATA\n"
        b"<<< 554 5.7.1 Message rejected because it contains a virus (Eicar-Test-Signature)\n",
        ("erin@example.net", "virusdetected", "5.7.1", "554", "DATA"),
    ),
    "russian-utf8": (
        "From: MAILER-DAEMON@mx.example.ru\nTo: sender@example.com\nSubject: Undelivered\n"
        "Content-Type: text/plain; charset=utf-8\n\nСообщение не доставлено следующим адресатам:\n\n"
        "<ivan@example.ru>: 552 5.2.2 Почтовый ящик переполнен\n".encode(),
        ("ivan@example.ru", "mailboxfull", "5.2.2", "552", ""),
    ),
}


def test_mail_systems_without_a_module() -> None:
    for name, (raw, expected) in UNKNOWN_SYSTEMS.items():
        got = [(r.recipient, r.reason, r.status, r.replycode, r.command) for r in analyze(raw)]
        assert got == [expected], name


def test_mail_system_is_named_and_unknown_ones_stay_generic() -> None:
    exim = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\nTo: s@example.com\r\n"
        b"Subject: Mail delivery failed\r\n\r\n"
        b"This message was created automatically by mail delivery software.\r\n\r\n"
        b"  a@example.net\r\n    SMTP error from remote mail server after RCPT TO:<a@example.net>:\r\n"
        b"    host mx.example.net [192.0.2.1]: 550 5.1.1 No such user\r\n"
    )
    [r] = analyze(exim)
    assert (r.format, r.command, r.reason) == ("exim", "RCPT", "userunknown")
    qmail = (
        b"From: MAILER-DAEMON@mx.example.org\r\nTo: s@example.com\r\nSubject: failure notice\r\n\r\n"
        b"Hi. This is the qmail-send program at mx.example.org.\r\n\r\n<b@example.net>:\r\n"
        b"192.0.2.1 failed after I sent the message.\r\nRemote host said: 554 5.7.1 Message refused\r\n"
    )
    [q] = analyze(qmail)
    assert (q.format, q.command) == ("qmail", "DATA")
    unknown = (
        b"From: robot@mx.example.org\r\nTo: s@example.com\r\nSubject: Delivery failure\r\n\r\n"
        b"Delivery failed: c@example.net\r\nReason: 550 5.2.2 Mailbox full\r\n"
    )
    [u] = analyze(unknown)
    assert (u.format, u.reason) == ("generic", "mailboxfull")


COMMON_LAYOUTS = {
    "office365-text": (
        b"From: Microsoft Outlook <MicrosoftExchange329e71ec@contoso.com>\nTo: sender@example.com\n"
        b"Subject: Undeliverable: hello\n\nYour message to bob@contoso.com couldn't be delivered.\n\n"
        b"bob wasn't found at contoso.com.\n\nDiagnostic information for administrators:\n\n"
        b"Generating server: BN8PR12MB1234.namprd12.prod.outlook.com\n\nbob@contoso.com\n"
        b"Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP"
        b" address lookup'\n\nOriginal message headers:\n\nReceived: from x by y\n",
        ("bob@contoso.com", "userunknown", "5.1.10", "550", "failed", "office365"),
    ),
    "gmail-address-not-found": (
        b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nTo: sender@example.com\n"
        b"Subject: Delivery Status Notification (Failure)\n\n** Address not found **\n\n"
        b"Your message wasn't delivered to bob@example.com because the address couldn't be found, or is"
        b" unable to receive mail.\n\nThe response from the remote server was:\n"
        b"550 5.1.1 The email account that you tried to reach does not exist. - gsmtp\n",
        ("bob@example.com", "userunknown", "5.1.1", "550", "failed", "gmail"),
    ),
    "postfix-delay-warning": (
        b"From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\nTo: sender@example.com\n"
        b"Subject: Delayed Mail (still being retried)\n\nThis is the mail system at host mx.example.org.\n\n"
        b"# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n\n"
        b"Your message could not be delivered for more than 4 hour(s).\n\n"
        b"<bob@example.net>: connect to mx.example.net[192.0.2.1]:25: Connection timed out\n",
        ("bob@example.net", "expired", "4.0.0", "", "delayed", "postfix"),
    ),
    "exim-quota": (
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: sender@example.com\n"
        b"Subject: Mail delivery failed: returning message to sender\n"
        b"X-Failed-Recipients: bob@example.net\n\n"
        b"This message was created automatically by mail delivery software.\n\n"
        b"A message that you sent could not be delivered to one or more of its\n"
        b"recipients. This is a permanent error. The following address(es) failed:\n\n"
        b"  bob@example.net\n    mailbox is full: retry timeout exceeded\n",
        ("bob@example.net", "mailboxfull", "", "", "failed", "exim"),
    ),
}


def test_common_layouts() -> None:
    for name, (raw, expected) in COMMON_LAYOUTS.items():
        got = [(r.recipient, r.reason, r.status, r.replycode, r.action, r.format) for r in analyze(raw)]
        assert got == [expected], name


def test_last_resort_recipients_come_from_the_returned_message() -> None:
    raw = (
        b"From: Mail Delivery Subsystem <mailer-daemon@example.org>\r\nTo: sender@example.com\r\n"
        b"Subject: Delivery Status Notification (Failure)\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain\r\n\r\nYour message was not delivered: the mailbox is full.\r\n"
        b"--XX\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: sender@example.com\r\nTo: Friend <friend@example.net>\r\nSubject: hi\r\n\r\n"
        b"hello\r\n--XX--\r\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.reason, r.original_subject) == ("friend@example.net", "mailboxfull", "hi")


def test_one_click_unsubscribe_is_opt_out_feedback() -> None:
    raw = (
        b"From: user@icloud.example\r\nTo: opt-out-123@list.example.org\r\nSubject: unsubscribe\r\n"
        b"Auto-Submitted: auto-replied\r\nX-Apple-Unsubscribe: true\r\n\r\n"
        b"Apple Mail sent this email to unsubscribe from the message.\r\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.reason, r.feedbacktype) == ("user@icloud.example", "feedback", "opt-out")


def test_auto_reply_announcing_a_closed_mailbox_is_not_a_vacation() -> None:
    raw = (
        b"From: noreply@example.org\r\nTo: bob@example.com\r\nSubject: Automatic reply: hello\r\n"
        b"Auto-Submitted: auto-replied\r\n\r\n"
        b"This email inbox kim@example.org is no longer in use. Please contact someone else.\r\n"
    )
    [r] = analyze(raw)
    assert (r.reason, r.format) == ("suspend", "rfc3834")


MORE_LAYOUTS = {
    "reason-after-a-colon-line": (
        b"From: Mail Delivery System <mailer-daemon@mx.example.de>\nTo: sender@example.com\n"
        b"Subject: Mail delivery failed: returning message to sender\n\n"
        b"A message that you sent could not be delivered to one or more of\n"
        b"its recipients. The following address\n"
        b'failed:\n\n"kijitora@example.jp":\n\nFor the following reason:\n\nMail size limit exceeded.\n\n'
        b"--- The header of the original message is following. ---\n",
        ("kijitora@example.jp", "mesgtoobig"),
    ),
    "domino": (
        b"From: Postmaster@notes.example.net\nTo: sender@example.com\nSubject: DELIVERY FAILURE\n\n"
        b"Your message\n\n  Subject: Nyaan\n\nwas not delivered to:\n\n  kijitora@example.net\n\n"
        b"because:\n\n"
        b"  User kijitora (kijitora@example.net) not listed in Domino Directory\n",
        ("kijitora@example.net", "userunknown"),
    ),
    "recipient-inside-a-sentence": (
        b"From: mailer-daemon@example.jp\nTo: sender@example.com\nSubject: Delivery failure\n\n"
        b"1 error(s):\n\n"
        b"SMTP Server <mta2.example.jp> rejected recipient <kijitora@example.co.jp> (Error following RCPT"
        b" command). It responded as follows: [550 5.1.1 User unknown]\n",
        ("kijitora@example.co.jp", "userunknown"),
    ),
    "arrows-reversed-transcript": (
        b"From: MAILER-DAEMON@example.jp\nTo: sender@example.com\nSubject: Mail could not be delivered\n\n"
        b"Sent <<< RCPT TO:<kijitora@example.co.jp>\n"
        b"Received >>> 550 5.1.1 <kijitora@example.co.jp>... user unknown\n",
        ("kijitora@example.co.jp", "userunknown"),
    ),
}


def test_more_layouts() -> None:
    for name, (raw, expected) in MORE_LAYOUTS.items():
        got = [(r.recipient, r.reason) for r in analyze(raw)]
        assert got == [expected], name


def test_automated_notifications_are_not_bounces() -> None:
    raw = (
        b"From: notifications@ci.example.org\r\nTo: dev@example.com\r\nSubject: Build #42 passed\r\n"
        b"Auto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: OOF, AutoReply\r\n\r\n"
        b"All 1234 tests passed. See https://ci.example.org/42\r\n"
    )
    assert analyze(raw) == []
