"""The client's explanation step: the full diagnosis when it works, the classifier when it fails."""

from __future__ import annotations

import pytest

import smtpdiag.explain
from smtpdiag.client.explanation import explain_reply, explain_text
from smtpdiag.reply import Reply


def test_positive_replies_get_a_short_meaning() -> None:
    assert explain_reply(Reply(354, ("go",))).summary.startswith("go ahead")
    assert explain_reply(Reply(250, ("ok",))).reason == ""


def test_refusal_is_explained_in_the_chosen_language() -> None:
    reply = Reply(550, ("Recipient address rejected: User unknown",), "5.1.1")
    en = explain_reply(reply, command="RCPT", lang="en")
    ru = explain_reply(reply, command="RCPT", lang="ru")
    assert (en.reason, en.permanent, en.retry) == ("userunknown", True, "never")
    assert any("\u0400" <= ch <= "\u04ff" for ch in ru.summary)


def test_classifier_fallback_when_explain_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str, lang: str | None = None) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(smtpdiag.explain, "explain", broken)
    result = explain_reply(Reply(452, ("Mailbox full",), "4.2.2"), command="RCPT")
    assert result.permanent is False and result.summary.startswith("temporary failure")
    assert explain_text("anything") is None


def test_protocol_failure_text() -> None:
    summary = explain_text("SMTP protocol failure: 3-digit code not found: 'SSH-2.0-OpenSSH'", lang="en")
    assert summary and "protocol" in summary.lower()
