"""explain(): the seed readers' cases end to end, code/text disagreements, languages, robustness."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smtpdiag
from smtpdiag.explain import SCHEMA_ID, Diagnosis, explain
from smtpdiag.language import default_language, resolve_language

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{4,}\b")

SEED_SPAM = (
    "550 5.7.1 This message is rejected by our SPAM filters. Please refer "
    "https://support.mailhostbox.com/email-administrators-guide-error-codes/ for more information"
)
SEED_AUP_PERMANENT = "Error: \u201c552 5.2.0 ESMTP server not available AUP#I-1340\u2033\u2026"
SEED_AUP_TEMPORARY = "452 4.1.0 ESMTP server temporarily unavailable AUP#I-1370"
SEED_NO_CODE = "SMTP protocol failure: syntax error: 3-digit code not found; "


def test_public_api_smtpdiag_explain_is_callable() -> None:
    # `smtpdiag.explain` resolves to the submodule once it is imported; it must still be callable
    d = smtpdiag.explain(SEED_SPAM, "en")
    assert isinstance(d, Diagnosis)
    assert d.reply_code == 550


def test_seed_spam_filter_rejection() -> None:
    d = explain(SEED_SPAM, "en")
    assert d.found == "reply"
    assert (d.reply_code, d.enhanced_code) == (550, "5.7.1")
    assert d.permanent is True
    assert d.hardbounce is False  # the address is fine; the message was refused
    assert d.retry in ("after-fix", "never")
    assert d.summary.startswith("550 5.7.1")
    assert [e.code for e in d.entries][:2] == ["X.7.1", "550"]
    assert d.what_to_do


@pytest.mark.parametrize(("text", "permanent"), [(SEED_AUP_PERMANENT, True), (SEED_AUP_TEMPORARY, False)])
def test_seed_aup_codes_are_a_providers_policy_refusal(text: str, permanent: bool) -> None:
    # AUP#I-13xx: Spectrum (Charter) refusing too many connections/messages from the sending IP;
    # the words "server not available" and the 5.2.0/4.1.0 codes are not what happened
    d = explain(text, "en")
    assert d.reason == "ratelimited"
    assert d.hardbounce is False  # about the sender, never the recipient's address
    assert d.permanent is permanent
    assert d.retry == "later"
    assert d.vendor == "spectrum"
    assert "Spectrum" in d.summary
    assert any("AUP#I-13" in n and "Acceptable Use Policy" in n and "rate limit" in n for n in d.notes)
    ru = explain(text, "ru")
    assert any("Spectrum" in n and CYRILLIC.search(n) for n in ru.notes)


def test_aup_code_without_a_table_entry_is_still_a_policy_block() -> None:
    d = explain("554 5.7.1 ESMTP server not available AUP#ZZTOP", "en")
    assert d.vendor == "cox"
    assert d.reason not in ("undefined", "onhold", "userunknown")
    assert d.hardbounce is False
    assert any("AUP#ZZTOP" in n for n in d.notes)


def test_seed_three_digit_code_not_found_means_no_smtp_peer() -> None:
    d = explain(SEED_NO_CODE, "en")
    assert d.found == "protocol-failure"
    assert d.failure == "not-smtp"
    assert d.diagnosed
    assert d.reply_code is None
    assert "did not speak SMTP" in d.summary
    for hint in ("465", "587", "proxy", "antivirus", "firewall", "crashed"):
        assert hint in d.what_to_do, hint
    ru = explain(SEED_NO_CODE, "ru")
    assert CYRILLIC.search(ru.summary) and "465" in ru.what_to_do


def test_550_whose_text_says_mailbox_full_follows_the_text() -> None:
    d = explain("550 Mailbox full, message rejected", "en")
    assert d.reason == "mailboxfull"
    assert d.hardbounce is False
    assert d.retry == "later"
    # the 550 entry alone would say "mailbox unavailable"; the note says the text decided
    assert any("text" in n and "decides" in n for n in d.notes), d.notes


def test_5xx_saying_try_again_later_is_treated_as_temporary() -> None:
    d = explain("554 5.7.1 Service unavailable; try again later", "en")
    assert d.permanent is False
    assert d.retry == "later"
    assert d.conflict
    assert any("temporary" in n for n in d.notes)
    ru = explain("554 5.7.1 Service unavailable; try again later", "ru")
    assert any("временн" in n for n in ru.notes)


def test_user_unknown_is_a_hard_bounce_with_never_retry() -> None:
    d = explain(
        "<a@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1 User unknown"
        " (in reply to RCPT TO command)"
    )
    assert (d.reason, d.hardbounce, d.retry, d.command) == ("userunknown", True, "never", "RCPT")
    assert (d.recipient, d.remote_host) == ("a@example.com", "mx.example.com")
    assert d.source == "postfix"


def test_vendor_reply_gets_the_vendor_meaning() -> None:
    d = explain(
        "550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all "
        "senders to authenticate with either SPF or DKIM. - gsmtp",
        "en",
    )
    assert d.vendor == "gmail"
    assert d.vendor_name == "Google Gmail"
    assert d.entries[0].kind == "vendor"
    assert "Google Gmail" in d.summary
    assert any("Google Gmail" in n for n in d.notes)


def test_class_mismatch_between_reply_code_and_enhanced_code_is_noted() -> None:
    d = explain("421 5.7.32 Your email has been rate limited because the From: header isn't aligned")
    assert any("421" in n and "5.7.32" in n for n in d.notes)


def test_positive_reply_is_success() -> None:
    d = explain("250 2.0.0 Ok: queued as ABC123", "en")
    assert d.found == "reply"
    assert d.reason == "delivered"
    assert "Success" in d.summary
    assert d.hardbounce is False


def test_unregistered_enhanced_code_still_gets_subject_and_class() -> None:
    d = explain("550 5.7.999 Some new policy refusal", "en")
    codes = [e.code for e in d.entries]
    assert "X.7.X" in codes and "5.X.X" in codes
    assert any("5.7.999" in n for n in d.notes)


def test_text_without_any_reply_is_not_diagnosed() -> None:
    d = explain("hello, my mail does not work", "en")
    assert d.found == "none"
    assert not d.diagnosed
    assert d.entries == ()


def test_several_replies_are_counted_and_the_failure_is_explained() -> None:
    d = explain("250 2.1.0 Sender OK\n550 5.1.1 <b@example.com>: User unknown")
    assert d.replies_found == 2
    assert d.reply_code == 550
    assert any("2" in n for n in d.notes)


def test_russian_output_is_russian() -> None:
    d = explain("550 5.1.1 <a@example.com>: User unknown", "ru")
    assert d.lang == "ru"
    for text in (d.summary, d.retry_advice, d.what_to_do, d.reason_title, *[e.title for e in d.entries]):
        assert CYRILLIC.search(text), text
    # the summary is Russian prose, not English with a Russian word: few Latin words besides codes
    latin = [w for w in LATIN_WORD.findall(d.summary) if w not in ("SMTP", "RFC")]
    assert len(latin) <= 2, latin


def test_english_output_has_no_cyrillic() -> None:
    d = explain("550 5.1.1 <a@example.com>: User unknown", "en")
    blob = json.dumps(d.to_json(), ensure_ascii=False)
    assert not CYRILLIC.search(blob)


def test_json_schema_is_stable() -> None:
    data = explain(SEED_SPAM, "en").to_json()
    assert data["schema"] == SCHEMA_ID
    assert set(data) == {
        "schema", "lang", "found", "diagnosed", "reply_code", "enhanced_code", "text", "command",
        "remote_host", "recipient", "vendor", "vendor_name", "reason", "reason_title", "reason_meaning",
        "permanent", "hardbounce", "retry", "retry_advice", "summary", "what_to_do", "entries", "notes",
        "evidence", "conflict", "failure", "source", "replies_found",
    }  # fmt: skip
    assert set(data["entries"][0]) == {
        "kind", "code", "standing", "vendor", "title", "meaning", "causes", "sender_action",
        "admin_action", "retry_advice", "references",
    }  # fmt: skip
    json.dumps(data)  # serialisable as is


def test_diagnosis_is_frozen() -> None:
    d = explain(SEED_SPAM, "en")
    assert isinstance(d, Diagnosis)
    with pytest.raises(AttributeError):
        d.reason = "other"  # type: ignore[misc]


def test_language_from_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert default_language() == "en"
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    assert default_language() == "ru"
    assert explain("550 5.1.1 x").lang == "ru"
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")  # LC_ALL wins over LANG
    assert default_language() == "en"
    assert resolve_language("RU") == "ru"
    with pytest.raises(ValueError, match="unsupported language"):
        resolve_language("de")


def test_bytes_input_is_accepted() -> None:
    assert explain(b"550 5.1.1 \xff\xfe User unknown", "en").reply_code == 550


@given(st.text(max_size=1500))
@settings(max_examples=300, deadline=None)
def test_explain_never_raises(text: str) -> None:
    d = explain(text, "en")
    assert d.summary
    json.dumps(d.to_json())


@given(st.binary(max_size=600))
@settings(max_examples=150, deadline=None)
def test_explain_never_raises_on_bytes(data: bytes) -> None:
    explain(data, "ru")


def test_provider_code_outside_the_registry_is_not_called_unknown() -> None:
    d = explain(
        "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. "
        "[DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]",
        "en",
    )
    assert d.vendor == "microsoft"
    assert d.entries[0].kind == "vendor"
    assert not any("not in the IANA registry" in n for n in d.notes)


def test_wording_alone_can_still_be_diagnosed() -> None:
    d = explain("Sorry, the mailbox is full", "en")
    assert d.found == "none"
    assert d.diagnosed
    assert d.reason == "mailboxfull"
    assert any("wording alone" in n for n in d.notes)
    undiagnosed = explain("hello, my mail does not work", "en")
    assert undiagnosed.retry == "n/a" and undiagnosed.retry_advice == ""


def test_explain_all_gives_each_failed_recipient() -> None:
    from smtpdiag.explain import explain_all

    text = (
        "smtplib.SMTPRecipientsRefused: {'a@example.com': (550, b'5.1.1 <a@example.com>: User unknown'), "
        "'b@example.com': (452, b'4.2.2 Mailbox full')}"
    )
    found = [(d.recipient, d.reason, d.permanent) for d in explain_all(text, "en")]
    assert found == [("a@example.com", "userunknown", True), ("b@example.com", "mailboxfull", False)]
    only_text = explain_all("hello", "en")
    assert len(only_text) == 1 and only_text[0].found == "none"


def test_whole_email_points_to_the_bounce_command() -> None:
    email = (
        "Return-Path: <>\nReceived: from mx.example.jp\nContent-Type: text/plain\n\n"
        "<kijitora@example.jp>: host mx.example.jp[192.0.2.1] said: 550 5.1.1 User unknown\n"
    )
    d = explain(email, "en")
    assert d.reply_code == 550
    assert any("smtpdiag bounce" in n for n in d.notes)
    assert not any("smtpdiag bounce" in n for n in explain("550 5.1.1 User unknown", "en").notes)


def test_vendor_note_is_in_the_chosen_language() -> None:
    text = "550 5.7.26 This mail has been blocked because the sender is unauthenticated. - gsmtp"
    ru = [n for n in explain(text, "ru").notes if "Google Gmail" in n]
    assert ru and "ключевая фраза" in ru[0] and "key phrase" not in ru[0]
    en = [n for n in explain(text, "en").notes if "Google Gmail" in n]
    assert en and "key phrase" in en[0]


def test_provider_error_code_leads_the_explanation() -> None:
    # Orange's OFR_416 means "invalid recipient" whatever the 5.7.1 around it says
    d = explain("550 5.7.1 Message rejected OFR_416", "en")
    assert (d.vendor, d.vendor_name, d.reason, d.hardbounce) == ("orange", "Orange", "userunknown", True)
    assert any("Orange" in n and "own error code" in n for n in d.notes)


def test_two_form_retry_advice_keeps_the_form_of_the_reply() -> None:
    from smtpdiag.explain import advice_for_class

    both = "5.7.1: not until the reason is fixed. 4.7.1: a temporary deferral; it often passes."
    assert advice_for_class(both, "5") == "Not until the reason is fixed."
    assert advice_for_class(both, "4") == "A temporary deferral; it often passes."
    ru = "4.3.2 — да, позже. 5.3.2 (часто с 521) — нет, сервер не принимает почту."
    assert advice_for_class(ru, "5") == "Нет, сервер не принимает почту."
    single = "Not as it is. Retry only after fixing the cause (see 5.1.1: the address)."
    assert advice_for_class(single, "4") == single  # one form only: unchanged
    d = explain("550 5.7.1 This message is rejected by our SPAM filters", lang="en")
    assert "4.7.1" not in d.retry_advice


def test_greylisting_is_explained_in_both_languages() -> None:
    en = explain("451 4.7.1 Greylisted, try again later", lang="en")
    assert "greylisting" in en.reason_meaning and "Greylisted" in en.summary
    assert "retry" in en.what_to_do
    ru = explain("450 4.7.1 <a@example.org>: Recipient address rejected: Greylisted", lang="ru")
    assert "грейлистинг" in ru.reason_meaning.lower() and "Грейлистинг" in ru.summary
    assert en.permanent is False
    # a permanent refusal that merely mentions a greylist is not presented as greylisting
    hard = explain("554 5.7.1 Service unavailable; client host blocked using greylist.example", lang="en")
    assert "Greylisted" not in hard.summary
