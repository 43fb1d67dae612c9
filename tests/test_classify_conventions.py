"""Sisimai's general conventions, as the classifier and its tables apply them (synthetic texts).

Each test pins one rule that the corpus labels follow; the texts are made up, not corpus files.
"""

from __future__ import annotations

import pytest

from smtpdiag.classify import classify
from smtpdiag.classify.lda import local_agent_reason
from smtpdiag.classify.providers import host_phrase

# -- "user unknown" and the SMTP command ------------------------------------------------------


def test_user_unknown_at_rcpt_is_userunknown() -> None:
    c = classify("550 No such user here", reply_code=550, command="RCPT", in_bounce=True)
    assert (c.reason, c.hardbounce) == ("userunknown", True)


@pytest.mark.parametrize("command", [None, "DATA"])
def test_user_unknown_not_known_to_be_at_rcpt_is_a_filter(command: str | None) -> None:
    c = classify("550 No such user here", reply_code=550, command=command, in_bounce=True)
    assert (c.reason, c.hardbounce) == ("filtered", False)


def test_user_unknown_without_a_reply_code_or_command_is_a_filter_too() -> None:
    # A mail system's own words, no SMTP reply: the same convention (its fixed messages are read
    # by its format module before the classifier is asked).
    assert classify("Recipient mailbox was not found", in_bounce=True).reason == "filtered"


def test_a_user_unknown_status_decides_whatever_the_command() -> None:
    c = classify("550 5.1.1 No such user here", reply_code=550, status="5.1.1", in_bounce=True)
    assert c.reason == "userunknown"


def test_outside_a_bounce_user_unknown_stays_userunknown() -> None:
    assert classify("550 No such user here", reply_code=550).reason == "userunknown"


# -- phrases read as Sisimai reads them -------------------------------------------------------


def test_unverified_sending_identity_is_norelaying() -> None:
    text = "554 Message rejected: Email address is not verified. The identities failed the check."
    assert classify(text, reply_code=554, in_bounce=True).reason == "norelaying"


def test_header_error_is_a_policy_refusal() -> None:
    c = classify("554 5.7.0 Header error", reply_code=554, status="5.7.0", command="DATA", in_bounce=True)
    assert c.reason == "policyviolation"


def test_a_bare_policy_violation_under_a_security_code_is_securityerror() -> None:
    text = "550 5.7.0 <bob@example.net>: Recipient address rejected: Policy violation"
    c = classify(text, reply_code=550, status="5.7.0", command="RCPT", in_bounce=True)
    assert c.reason == "securityerror"
    local = "550 5.7.0 Local policy violation detected"
    assert classify(local, reply_code=550, status="5.7.0", in_bounce=True).reason == "policyviolation"


def test_bare_rejected_does_not_beat_a_media_code() -> None:
    text = "550 5.6.0 <bob@example.net>: Recipient address rejected: Media error"
    c = classify(text, reply_code=550, status="5.6.0", command="RCPT", in_bounce=True)
    assert c.reason == "contenterror"
    # At MAIL FROM a bare "rejected" still refuses the sender.
    sender = "550 5.7.0 Sender address rejected"
    assert classify(sender, reply_code=550, status="5.7.0", command="MAIL").reason == "rejected"


def test_unwanted_messages_from_the_ip_blocks_the_host() -> None:
    text = (
        "550 Unfortunately, messages from 192.0.2.1 weren't sent. Too many unwanted messages have "
        "been sent from the following IP address above."
    )
    assert classify(text, reply_code=550, in_bounce=True).reason == "blocked"


# -- local delivery agents --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("mail.local: unknown user: alice", "userunknown"),
        ("mail.local: Disc quota exceeded", "mailboxfull"),
        ('554 "|exec /usr/bin/procmail -f-"... Service unavailable', "systemerror"),
        ('procmail: Couldn\'t create "/var/mail/alice"', "mailererror"),
        ("maildrop: maildir over quota.", "mailboxfull"),
        ("vdelivermail: account is locked email bounced", "suspend"),
        ("Your message to <alice@example.org> was automatically rejected: Quota exceeded", "mailboxfull"),
        ("550 No such user here", ""),  # not a local delivery agent's message
    ],
)
def test_local_delivery_agent_messages(text: str, reason: str) -> None:
    assert local_agent_reason(text) == reason


def test_local_delivery_agent_reading_needs_local_delivery() -> None:
    # Refused at RCPT, the text is a remote server's, whatever it mentions.
    assert local_agent_reason("mail.local: unknown user: alice", "RCPT") == ""
    assert local_agent_reason("mail.local: unknown user: alice", "DATA") == "userunknown"
    assert local_agent_reason("", "") == ""


# -- replies read by who says them ------------------------------------------------------------

AOL_MX = "Name service error for name=example.org type=MX: Malformed or unexpected name server reply"
YAHOO_TSS09 = "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred"


@pytest.mark.parametrize(
    ("host", "text", "reason"),
    [
        ("lsean.ezweb.ne.jp", "550 <bob@ezweb.ne.jp>: User unknown", "userunknown"),
        ("msmx.au.com", "550 : User unknown", "filtered"),
        ("mx.example.net", "550 <bob@ezweb.ne.jp>: User unknown", None),
        ("omr-m1.mx.aol.com", AOL_MX, "notaccept"),
        ("mta5.am0.yahoodns.net", YAHOO_TSS09, "rejected"),
        ("mx.zoho.com", "554 5.7.1 Email cannot be delivered. Reason: Email flagged as Spam.", "rejected"),
        ("eu-smtp-1.mimecast.com", "554 Email rejected due to security policies - MCSpam", "virusdetected"),
        ("mx.example.com", "554 Email rejected due to security policies", None),
    ],
)
def test_provider_replies_by_host(host: str, text: str, reason: str | None) -> None:
    assert host_phrase(host, text) == reason


def test_a_refusal_of_the_connection_is_blocked_unless_the_ptr_rule_is_named() -> None:
    text = (
        "SMTP error from remote mail server after initial connection: 554 5.7.1 [C14] Missing "
        "reverse DNS for 192.0.2.1"
    )
    assert classify(text, reply_code=554, status="5.7.1", command="CONN", in_bounce=True).reason == "blocked"
    ptr = "550 5.7.25 Reverse DNS required for 192.0.2.1"
    assert classify(ptr, reply_code=550, in_bounce=True).reason == "requireptr"


def test_an_envelope_address_type_is_not_an_rfc_complaint() -> None:
    text = "RCPT TO:<bob@example.net> ORCPT=rfc822;bob@example.net 451 4.3.0 Error: queue file write error"
    assert classify(text, reply_code=451, status="4.3.0", in_bounce=True).reason == "systemerror"
    assert classify("550 5.6.0 Message is not RFC 5322 compliant", in_bounce=True).reason == "notcompliantrfc"
