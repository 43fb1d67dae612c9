"""Bounce-level conventions (Sisimai's, which the corpus labels follow), on synthetic messages.

The SMTP command comes only from explicit evidence; mail systems' fixed messages name their
reasons; local delivery agents' messages are read as such; a refusal at the greeting is CONN.
"""

from __future__ import annotations

from smtpdiag.bounce import analyze
from smtpdiag.bounce.fields import infer_command
from smtpdiag.bounce.formats.systems import reason_hint


def _dsn(per_recipient: str, human: str, subject: str = "Undelivered Mail Returned to Sender") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.org\r\n"
        "To: sender@example.com\r\n"
        f"Subject: {subject}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"\r\n\r\n'
        "--BB\r\nContent-Type: text/plain\r\n\r\n"
        f"{human}\r\n"
        "--BB\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"{per_recipient}\r\n"
        "--BB\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: sender@example.com\r\nTo: bob@example.net\r\nSubject: Hello\r\n\r\n"
        "--BB--\r\n"
    ).encode()


BLOCK = (
    "Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.0.0\r\n"
    "Remote-MTA: dns; mx.example.net\r\n"
    "Diagnostic-Code: smtp; 550 <bob@example.net>: Recipient address rejected: no such user\r\n"
)


# -- the command: explicit evidence only ------------------------------------------------------


def test_an_echoed_address_is_no_evidence_of_rcpt() -> None:
    [r] = analyze(_dsn(BLOCK, "I could not deliver your message."))
    assert (r.command, r.reason, r.hardbounce) == ("", "filtered", False)


def test_a_folded_in_reply_to_rcpt_in_the_human_text_is_evidence() -> None:
    human = (
        "<bob@example.net>: host mx.example.net[192.0.2.1] said: 550\r\n"
        "    <bob@example.net>: Recipient address rejected: no such user (in reply to\r\n"
        "    RCPT TO command)"
    )
    [r] = analyze(_dsn(BLOCK, human))
    assert (r.command, r.reason, r.hardbounce) == ("RCPT", "userunknown", True)


def test_explicit_command_phrases() -> None:
    assert infer_command("mx.example.net [192.0.2.1] did not like our RCPT TO: 550 no such user") == "RCPT"
    assert infer_command("SMTP:RCPT host 192.0.2.1: 553 5.3.0 <bob@example.net>... No such user") == "RCPT"
    assert infer_command(">>> MAIL From:<a@example.com> <<< 550 sender rejected") == "MAIL"
    assert infer_command("--> DATA <-- 554 rejected") == "DATA"
    assert infer_command("hMailServer sent: RCPT TO:<bob@example.net>") == "RCPT"
    # Not evidence: an echoed recipient, "Recipient address rejected", an envelope listing.
    assert infer_command("550 <bob@example.net>: Recipient address rejected: User unknown") == ""
    assert infer_command("RCPT TO: bob@example.net From: a@example.com 550 no such user here") == ""


PLAIN = (
    b"From: MAILER-DAEMON@mail.example.org\nTo: sender@example.com\nSubject: Returned mail\n\n"
    b"This message could not be delivered to one or more recipients.\n\n"
)


def test_a_transcript_rcpt_line_is_evidence_but_an_envelope_listing_is_not() -> None:
    transcript = PLAIN + (
        b"While talking to mx.example.net:\n>>> RCPT To:<bob@example.net>\n<<< 550 No such user here\n"
    )
    [r] = analyze(transcript)
    assert (r.recipient, r.command, r.reason) == ("bob@example.net", "RCPT", "userunknown")
    listing = PLAIN + (
        b"Error message below:\n550 - Requested action not taken: no such user here\n\n"
        b"Message details:\n  MAIL FROM: sender@example.com\n  RCPT TO: bob@example.net\n"
    )
    [r2] = analyze(listing)
    assert (r2.recipient, r2.command, r2.reason) == ("bob@example.net", "", "filtered")


def test_server_replies_without_a_command_are_a_refusal_at_the_greeting() -> None:
    human = (
        "   ----- Transcript of session follows -----\r\n"
        "... while talking to mx.example.net.:\r\n"
        "<<< 554 IP=192.0.2.1 - A problem occurred. (Ask your postmaster for help)\r\n"
        "554 5.0.0 Service unavailable"
    )
    block = (
        "Final-Recipient: RFC822; bob@example.net\r\nAction: failed\r\nStatus: 5.5.0\r\n"
        "Diagnostic-Code: SMTP; 554 IP=192.0.2.1 - A problem occurred. (Ask your postmaster for help)\r\n"
    )
    [r] = analyze(_dsn(block, human, subject="Returned mail: see transcript for details"))
    assert (r.command, r.reason) == ("CONN", "blocked")


# -- local delivery agents and mail systems' fixed messages -----------------------------------


def test_a_local_delivery_agents_message_names_the_reason() -> None:
    human = "   ----- Transcript of session follows -----\r\nmail.local: unknown user: bob\r\n"
    block = (
        "Final-Recipient: RFC822; bob@example.net\r\nAction: failed\r\nStatus: 5.5.0\r\n"
        "Diagnostic-Code: X-Unix; mail.local: unknown user: bob\r\n"
    )
    [r] = analyze(_dsn(block, human, subject="Returned mail: see transcript for details"))
    assert (r.reason, r.hardbounce) == ("userunknown", True)


def test_a_program_delivery_failing_with_service_unavailable_is_a_system_error() -> None:
    block = (
        'Final-Recipient: RFC822; "|/usr/bin/procmail -f-"\r\nX-Actual-Recipient: rfc822; bob@example.net\r\n'
        "Action: failed\r\nStatus: 5.5.0\r\n"
        'Diagnostic-Code: X-Unix; 554 "|exec /usr/bin/procmail -f-"... Service unavailable\r\n'
    )
    [r] = analyze(_dsn(block, "The message could not be delivered."))
    assert r.reason == "systemerror"


def test_mail_systems_fixed_messages() -> None:
    assert (
        reason_hint("exchange", "MSEXCH:IMS:EXAMPLE:SITE:SERVER 0 (000C05A6) Unknown Recipient")
        == "userunknown"
    )
    assert (
        reason_hint("exchange", "MSEXCH:IMS:EXAMPLE:SITE:SERVER 0 (000C0595) Ambiguous Recipient")
        == "filtered"
    )
    assert reason_hint("verizon", "550 - Requested action not taken: no such user here") == "userunknown"
    assert reason_hint("notes", "User bob (bob@example.net) not listed in Domino Directory") == "userunknown"
    assert reason_hint("notes", "bob@example.net\nディレクトリのリストにありません") == "userunknown"
    assert reason_hint("imailserver", "Unknown user: bob@example.net") == "userunknown"
    google = (
        "Your message wasn't delivered to bob@example.net because the address couldn't be found. "
        "Check for typos or unnecessary spaces and try again."
    )
    assert reason_hint("gmail", google) == "userunknown"
    # A phrase of one system says nothing for another.
    assert reason_hint("postfix", "550 - Requested action not taken: no such user here") == ""
    assert reason_hint("no-such-system", "anything") == ""


def test_a_verizon_gateway_bounce() -> None:
    raw = (
        b"From: post_master@vtext.com\nTo: sender@example.com\nSubject: Re: Hello\n\n"
        b"Error: Invalid user address\n\nError message below:\n"
        b"550 - Requested action not taken: no such user here\n\n"
        b"Message details:\n  MAIL FROM: sender@example.com\n  RCPT TO: 5551234567@vtext.com\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.format, r.reason, r.hardbounce) == (
        "5551234567@vtext.com",
        "verizon",
        "userunknown",
        True,
    )


def test_an_au_notice_states_the_account_state_for_all_its_recipients() -> None:
    raw = (
        b"From: Postmaster@ezweb.ne.jp\nTo: sender@example.com\n"
        b"Subject: Mail System Error - Returned Mail\n\n"
        b"The user(s) account is disabled.\n\n\n"
        b"<bob@ezweb.ne.jp>: 550 user unknown (in reply to RCPT TO command)\n"
    )
    [r] = analyze(raw)
    assert (r.recipient, r.format, r.reason, r.hardbounce) == ("bob@ezweb.ne.jp", "ezweb", "suspend", False)
    # The same sentence in another system's notice says nothing.
    assert reason_hint("postfix", "", "the user(s) account is disabled.") == ""


def test_in_a_quoted_session_the_failure_not_the_earlier_success_is_the_reply() -> None:
    from smtpdiag.bounce.fields import find_reply_code, find_status

    session = (
        "In: RCPT TO:<bob@example.net> ORCPT=rfc822;bob@example.net Out: 250 2.1.5 Ok In: DATA "
        "Out: 354 End data with <CR><LF>.<CR><LF> Out: 451 4.3.0 Error: queue file write error"
    )
    assert (find_reply_code(session), find_status(session)) == ("451", "4.3.0")
    # Only a success: it stays the reply (a delivery report).
    assert (find_reply_code("250 2.1.5 Ok"), find_status("250 2.1.5 Ok")) == ("250", "2.1.5")


def test_status_field_or_reply_code_preference() -> None:
    from smtpdiag.bounce.pipeline import prefer_status

    # Classes differ: the one the reply code shares.
    assert prefer_status("5.0.0", "4.2.2", "452") == "4.2.2"
    assert prefer_status("4.4.7", "5.1.1", "421") == "4.4.7"
    # A generic field yields to a specific code; a generic code to a specific field.
    assert prefer_status("5.0.0", "5.1.1", "550") == "5.1.1"
    assert prefer_status("5.2.0", "5.2.2", "552") == "5.2.2"
    assert prefer_status("5.2.2", "5.0.0", "552") == "5.2.2"
    # A relay's "5.1.1" summary yields to what the remote server said...
    assert prefer_status("5.1.1", "5.7.1", "550") == "5.7.1"
    # ... and the queue's 4.4.7 and a system 5.3.Z field yield too; otherwise the field stands.
    assert prefer_status("4.4.7", "4.4.2", "421") == "4.4.2"
    assert prefer_status("5.3.0", "5.2.2", "552") == "5.2.2"
    assert prefer_status("5.2.2", "5.7.1", "550") == "5.2.2"
    assert prefer_status("", "5.1.1", "550") == "5.1.1"
    assert prefer_status("5.1.1", "", "") == "5.1.1"


FML_NOTICE = (
    b"From: list-admin@example.org\nTo: poster@example.com\n"
    b"Subject: You poster@example.com are not member (list ML)\n"
    b"Message-ID: <200504292334.FMLAAAA0001.list@example.org>\n"
    b"X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\n\n"
    b"You are not a member of this mailing list <list@example.org>.\n\n"
    b"Original mail as follows:\n\nFrom: poster@example.com\nSubject: hello\n"
)


def test_an_fml_notice_is_read_by_its_words() -> None:
    [r] = analyze(FML_NOTICE)
    assert (r.recipient, r.format, r.reason, r.hardbounce) == ("list@example.org", "fml", "rejected", False)
    loop = FML_NOTICE.replace(
        b"You poster@example.com are not member (list ML)", b"Loop Alert: dup (list ML)"
    )
    loop = loop.replace(b"You are not a member of this mailing list", b"Duplicated Message-ID in")
    [r2] = analyze(loop)
    assert r2.reason == "systemerror"
    # Without fml's marks it is not fml's notice.
    assert all(r.format != "fml" for r in analyze(FML_NOTICE.replace(b"X-MLServer", b"X-Other")))
