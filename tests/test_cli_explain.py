"""`smtpdiag explain`, `smtpdiag code`, `smtpdiag codes` through click's CliRunner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpdiag.cli import cli

SEED_SPAM = "550 5.7.1 This message is rejected by our SPAM filters."


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_explain_argument_human_output() -> None:
    code, out, _ = run("explain", "--lang", "en", SEED_SPAM)
    assert code == 0
    assert out.startswith("550 5.7.1")
    assert "What to do" in out
    assert "\x1b[" not in out  # no colour when the output is not a terminal


def test_explain_words_are_joined_and_stdin_is_read() -> None:
    code, out, _ = run("explain", "--lang", "en", "550", "5.1.1", "User", "unknown")
    assert code == 0 and "550 5.1.1" in out
    code, out, _ = run("explain", "--lang", "en", "--json", input="452 4.2.2 Mailbox full\n")
    assert code == 0
    assert json.loads(out)["reply_code"] == 452
    code, out, _ = run("explain", "--json", "-", input="421 4.7.0 try later\n")
    assert code == 0 and json.loads(out)["reply_code"] == 421


def test_explain_json_schema_keys() -> None:
    code, out, _ = run("explain", "--json", "--lang", "ru", SEED_SPAM)
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "smtpdiag.diagnosis/1"
    assert data["lang"] == "ru"
    for key in (
        "reply_code",
        "enhanced_code",
        "reason",
        "permanent",
        "hardbounce",
        "retry",
        "summary",
        "entries",
    ):
        assert key in data


def test_explain_russian_text() -> None:
    code, out, _ = run("explain", "--lang", "ru", SEED_SPAM)
    assert code == 0
    assert "Что делать" in out


def test_explain_exit_1_when_nothing_could_be_diagnosed() -> None:
    code, out, _ = run("explain", "--lang", "en", "hello there")
    assert code == 1
    assert "No SMTP reply found" in out


def test_explain_protocol_failure_is_diagnosed() -> None:
    code, out, _ = run(
        "explain", "--lang", "en", "SMTP protocol failure: syntax error: 3-digit code not found;"
    )
    assert code == 0
    assert "did not speak SMTP" in out


def test_explain_empty_input_is_a_usage_error() -> None:
    code, out, err = run("explain", input="   \n")
    assert code == 2
    assert "empty" in err
    assert out == ""


def test_explain_bad_language_is_a_usage_error() -> None:
    code, _, err = run("explain", "--lang", "de", "550 x")
    assert code == 2
    assert "Traceback" not in err


def test_code_basic_and_enhanced() -> None:
    code, out, _ = run("code", "550", "--lang", "en")
    assert code == 0
    assert out.startswith("550")
    assert "Likely causes" in out and "What the server admin should do" in out
    code, out, _ = run("code", "5.1.1", "--json", "--lang", "en")
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "smtpdiag.code/1"
    assert data["query"] == "5.1.1"
    assert data["entry"]["code"] == "X.1.1"
    assert {
        "title",
        "meaning",
        "causes",
        "sender_action",
        "admin_action",
        "retry_advice",
        "references",
    } <= set(data["entry"])
    # the vendors' own meanings of 5.1.1 come along
    assert any(v["vendor_id"] == "gmail" for v in data["vendor_entries"])


def test_code_vendor_filter() -> None:
    code, out, _ = run("code", "5.7.26", "--vendor", "gmail", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["entry"] is None
    assert data["vendor_entries"] and all(v["vendor_id"] == "gmail" for v in data["vendor_entries"])


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("55", "exactly three digits"),
        ("abc", "not an SMTP code"),
        ("5.7", "not an SMTP code"),
        ("599", "not in the knowledge base"),
    ],
)
def test_code_bad_or_unknown_code_exit_2_with_message(arg: str, message: str) -> None:
    code, out, err = run("code", arg)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_code_unknown_vendor() -> None:
    code, _, err = run("code", "550", "--vendor", "nosuch")
    assert code == 2 and "unknown vendor" in err


def test_codes_table_and_filters() -> None:
    code, out, _ = run("codes", "--lang", "en")
    assert code == 0 and "550" in out
    code, out, _ = run("codes", "--class", "4", "--kind", "basic", "--json")
    data = json.loads(out)
    assert data["schema"] == "smtpdiag.codes/1"
    assert data["count"] == len(data["entries"]) > 0
    assert all(e["code"].startswith("4") and e["kind"] == "basic" for e in data["entries"])
    code, out, _ = run("codes", "--nonstandard", "--json")
    assert all(e["standing"] != "standard" for e in json.loads(out)["entries"])
    code, out, _ = run("codes", "--standard", "--kind", "enhanced", "--json")
    assert all(e["standing"] == "standard" for e in json.loads(out)["entries"])
    code, out, _ = run("codes", "--vendor", "gmail", "--json")
    entries = json.loads(out)["entries"]
    assert entries and all(e["vendor"] == "gmail" for e in entries)
    code, out, _ = run("codes", "--vendor", "gmail", "--lang", "ru")
    assert code == 0 and "Провайдер" in out


def test_codes_bad_options_are_usage_errors() -> None:
    assert run("codes", "--class", "7")[0] == 2
    assert run("codes", "--kind", "weird")[0] == 2
    code, _, err = run("codes", "--vendor", "nosuch")
    assert code == 2 and "unknown vendor" in err


def test_language_from_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    _, out, _ = run("explain", "--json", "550 5.1.1 x")
    assert json.loads(out)["lang"] == "ru"


EXIM_TWO = (
    "  kijitora@example.jp\n"
    "    SMTP error from remote mail server after RCPT TO:<kijitora@example.jp>:\n"
    "    host mx.example.jp [192.0.2.153]: 550 5.1.1 <kijitora@example.jp>... User Unknown\n"
    "  sabatora@example.jp\n"
    "    SMTP error from remote mail server after RCPT TO:<sabatora@example.jp>:\n"
    "    host mx.example.jp [192.0.2.153]: 452 4.2.2 <sabatora@example.jp>... Mailbox full\n"
)


def test_explain_all_gives_one_diagnosis_per_recipient() -> None:
    code, out, _ = run("explain", "--all", "--json", "--lang", "en", input=EXIM_TWO)
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "smtpdiag.diagnoses/1"
    found = [(d["recipient"], d["reason"], d["hardbounce"]) for d in data["diagnoses"]]
    assert found == [
        ("kijitora@example.jp", "userunknown", True),
        ("sabatora@example.jp", "mailboxfull", False),
    ]
    code, out, _ = run("explain", "--all", "--lang", "en", input=EXIM_TWO)
    assert code == 0 and "kijitora@example.jp" in out and "sabatora@example.jp" in out


def test_code_accepts_a_providers_tag() -> None:
    code, out, _ = run("code", "[TSS04]", "--json", "--lang", "en")
    assert code == 0
    data = json.loads(out)
    assert data["query"] == "TSS04"
    assert data["entry"] is None
    assert data["vendor_entries"][0]["vendor_id"] == "yahoo"
    code, out, _ = run("code", "sc-001")
    assert code == 0 and "SC-001" in out
    assert run("code", "XYZ99")[0] == 2


@given(st.text(max_size=300))
@settings(max_examples=60, deadline=None)
def test_explain_command_never_tracebacks(text: str) -> None:
    result = CliRunner().invoke(cli, ["explain", "--json", "--lang", "en", "--", text])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
