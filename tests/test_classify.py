"""The classifier: codes, phrases, how conflicts between them are weighed, and robustness."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpdiag.classify import Classification, classify


@pytest.mark.parametrize(
    ("text", "code", "status", "reason"),
    [
        ("550 5.1.1 <a@b.example>: Recipient address rejected: User unknown", 550, "5.1.1", "userunknown"),
        ("552 5.2.2 Mailbox full", 552, "5.2.2", "mailboxfull"),
        ("550 5.1.2 Host unknown", 550, "5.1.2", "hostunknown"),
        ("552 5.3.4 Message too big for system", 552, "5.3.4", "mesgtoobig"),
        ("554 5.7.1 Relay access denied", 554, "5.7.1", "norelaying"),
        ("550 5.7.1 Client host rejected: blocked using zen.spamhaus.org", 550, "5.7.1", "blocked"),
        (
            "550 5.7.25 The IP address sending this message does not have a PTR record",
            550,
            "5.7.25",
            "requireptr",
        ),
        (
            "550 5.7.26 Unauthenticated email is not accepted due to domain's DMARC policy",
            550,
            "5.7.26",
            "authfailure",
        ),
        ("554 5.7.1 Message rejected as spam by Content Filtering", 554, "5.7.1", "spamdetected"),
        ("550 5.2.1 The email account that you tried to reach is disabled", 550, "5.2.1", "suspend"),
        ("421 4.7.0 Too many connections from your IP, slow down", 421, "4.7.0", "ratelimited"),
        ("554 5.6.0 Message contains a virus", 554, "5.6.0", "virusdetected"),
        ("550 5.1.10 Recipient address has null MX", 550, "5.1.10", "notaccept"),
    ],
)
def test_reason_from_code_and_text(text: str, code: int, status: str, reason: str) -> None:
    assert classify(text, reply_code=code, status=status).reason == reason


def test_text_beats_a_contradicting_code_and_says_so() -> None:
    c = classify("550 5.1.1 Mailbox full", reply_code=550, status="5.1.1")
    assert c.reason == "mailboxfull"
    assert c.conflict_key == "text-reason-overrides-code"
    assert c.conflict and "mailboxfull" in c.conflict
    assert c.hardbounce is False


def test_permanent_code_with_temporary_text_is_temporary() -> None:
    c = classify("550 Service busy, please try again later", reply_code=550)
    assert c.permanent is False
    assert c.retry == "later"
    assert c.conflict_key == "permanent-code-temporary-text"
    assert c.conflict and "temporary" in c.conflict


def test_a_specific_code_beats_a_vague_word() -> None:
    # "rejected" alone says little; 5.1.1 says the mailbox does not exist.
    c = classify("550 5.1.1 Rejected", reply_code=550, status="5.1.1")
    assert c.reason == "userunknown"
    assert c.conflict is None


def test_hard_and_soft_bounces() -> None:
    assert classify("550 5.1.1 user unknown", reply_code=550, status="5.1.1").hardbounce
    assert classify("550 5.1.2 host not found", reply_code=550, status="5.1.2").hardbounce
    assert not classify("452 4.2.2 mailbox full", reply_code=452, status="4.2.2").hardbounce
    assert classify("556 5.1.10 null MX", reply_code=556, status="5.1.10").hardbounce
    assert not classify("421 4.3.2 shutting down", reply_code=421, status="4.3.2").hardbounce


def test_transient_lookup_failure_is_a_network_error_not_a_missing_host() -> None:
    c = classify(
        "DNS Error: lookup of example.jp responded with NXDOMAIN Domain name not found", status="4.0.0"
    )
    assert c.reason == "networkerror"
    assert not c.hardbounce


def test_command_decides_whose_problem_it_is() -> None:
    # A "does not exist" at MAIL FROM is about the sender's address, not the recipient's.
    assert classify(
        "553 5.1.8 Domain of sender address does not exist", reply_code=553, command="MAIL"
    ).reason == ("rejected")
    assert classify("554 Access denied", reply_code=554, command="EHLO").reason == "blocked"


def test_user_unknown_after_data_in_a_bounce_is_filtered() -> None:
    assert classify("550 User unknown", reply_code=550, command="DATA").reason == "filtered"
    assert classify("550 User unknown", reply_code=550, command="RCPT").reason == "userunknown"


def test_delivered_and_fallbacks() -> None:
    assert classify("250 2.1.5 OK", reply_code=250, status="2.1.5").reason == "delivered"
    assert classify("").reason == "undefined"
    assert classify("554 5.6.9 something odd", status="5.6.9").reason == "contenterror"
    assert classify("503 Improper sequence of commands", reply_code=503).reason == "syntaxerror"
    assert classify("Delivery to this host is not going well", status="5.4.0").reason == "onhold"


def test_multiline_reply_prefixes_do_not_hide_phrases() -> None:
    text = "550-5.7.1 Messages with multiple\n550-5.7.1 addresses in From: header are not accepted.\n"
    assert classify(text, reply_code=550, status="5.7.1").reason == "notcompliantrfc"


def test_vendor_reply_is_recognised() -> None:
    c = classify(
        "550-5.7.26 Unauthenticated email from example.jp is not accepted due to domain's DMARC policy",
        reply_code=550,
        status="5.7.26",
    )
    assert c.vendor == "gmail"
    assert c.reason == "authfailure"


def test_hostile_input_is_fast() -> None:
    hostile = ("550 " + "a" * 1_000_000 + " user unknown " + "5." * 100_000) * 1
    t0 = time.perf_counter()
    c = classify(hostile, reply_code=550)
    assert time.perf_counter() - t0 < 2.0
    assert isinstance(c, Classification)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(max_size=300),
    code=st.one_of(st.none(), st.integers(min_value=-5, max_value=1000)),
    status=st.one_of(st.none(), st.text(max_size=20)),
    command=st.one_of(st.none(), st.sampled_from(["RCPT", "MAIL", "DATA", "EHLO", "x", ""])),
)
def test_never_raises(text: str, code: int | None, status: str | None, command: str | None) -> None:
    c = classify(text, reply_code=code, status=status, command=command)
    assert c.reason
    assert c.retry in ("never", "later", "after-fix", "n/a")


@pytest.mark.parametrize(
    ("text", "provider", "reason"),
    [
        ("552 5.2.0 ESMTP server not available AUP#I-1340", "spectrum", "ratelimited"),
        ("452 4.1.0 ESMTP server temporarily unavailable AUP#I-1370", "spectrum", "ratelimited"),
        ("550 5.1.0 sender rejected AUP#In-1010", "spectrum", "rejected"),
        ("554 5.7.1 blocked. Refer to Error Codes section. AUP#CXBL", "cox", "blocked"),
        ("554 not allowed AUP#IPBL0010", "cox", "blocked"),
        (
            "550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]",
            "orange",
            "userunknown",
        ),
        (
            "552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]",
            "orange",
            "mailboxfull",
        ),
        ("550 5.5.0 Boite du destinataire archivee. Archived recipient. LPN007_420", "orange", "suspend"),
        (
            "550 5.1.1 <a@b.example> - 203.0.113.2 has sent to too many recipients this hour. IB607",
            "godaddy",
            "ratelimited",
        ),
    ],
)
def test_provider_error_codes(text: str, provider: str, reason: str) -> None:
    c = classify(text, reply_code=int(text[:3]))
    assert (c.vendor, c.reason) == (provider, reason)


def test_numbers_that_only_look_like_provider_codes_are_ignored() -> None:
    assert (
        classify("550 5.1.1 user unknown; ticket IB9999, ref OFR-12", reply_code=550, status="5.1.1").vendor
        is None
    )


def test_a_temporary_condition_that_outlasted_the_queue_is_expired() -> None:
    text = "Resources temporarily unavailable, please try again later [#4.1.9]. I'm not going to try again;"
    text += " this message has been in the queue too long."
    assert classify(text, status="4.1.9").reason == "expired"
    # ... but a network error keeps its name: it says what to fix.
    text = "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1) I'm not going to try again"
    assert classify(text, status="4.4.1").reason == "networkerror"
