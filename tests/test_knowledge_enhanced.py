"""The enhanced status code knowledge (enhanced_codes.toml) against the IANA registry table.

The reference table is a copy of the project's fact sheet, kept in tests/data/reference so that the
suite runs from a plain clone.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from smtpdiag.knowledge import CodeEntry, load_entries, load_reasons

REFERENCE = Path(__file__).parent / "data" / "reference" / "enhanced_status_codes.csv"

# The Sisimai bounce-reason vocabulary; reasons.toml, once it exists, must agree with it too.
SISIMAI_REASONS = frozenset(
    [
        "authfailure",
        "badreputation",
        "blocked",
        "contenterror",
        "delivered",
        "exceedlimit",
        "expired",
        "failedstarttls",
        "feedback",
        "filtered",
        "hasmoved",
        "hostunknown",
        "mailboxfull",
        "mailererror",
        "mesgtoobig",
        "networkerror",
        "norelaying",
        "notaccept",
        "notcompliantrfc",
        "onhold",
        "policyviolation",
        "ratelimited",
        "rejected",
        "requireptr",
        "securityerror",
        "spamdetected",
        "suppressed",
        "suspend",
        "syntaxerror",
        "systemerror",
        "systemfull",
        "toomanyconn",
        "undefined",
        "userunknown",
        "vacation",
        "virusdetected",
    ]
)

KIND_OF_ROW = {"class": "enhanced-class", "subject": "enhanced-subject", "detail": "enhanced"}
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
TEXT_FIELDS = ("title", "meaning", "sender_action", "admin_action", "retry_advice")


def _rows() -> list[dict[str, str]]:
    with REFERENCE.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = _rows()
ENTRIES = load_entries("enhanced")
BY_CODE: dict[str, CodeEntry] = {e.code: e for e in ENTRIES}


def _standing_of_row(status: str) -> str:
    if status == "registered":
        return "standard"
    if status.startswith("not registered"):
        return "unregistered"
    if status == "deprecated":
        return "registry-only"  # still listed by IANA, but only as a retired duplicate
    raise AssertionError(f"unexpected registry_status {status!r}")


def _basic_codes_of_row(cell: str) -> list[str]:
    """The associated basic codes of a registry cell: "421, 451, 456 (proposed)" -> [421, 451, 456]."""
    without_notes = re.sub(r"\([^)]{0,80}\)", "", cell)
    tokens = re.split(r",| or ", without_notes)
    return [t.strip() for t in tokens if t.strip() and t.strip() not in {"Any", "n/a", "Not given"}]


def _references_of_row(cell: str) -> list[str]:
    """RFC3463; RFC7504 -> ["RFC 3463", "RFC 7504"]; drafts keep their name."""
    out = []
    for part in cell.split(";"):
        part = re.sub(r"\([^)]{0,80}\)", "", part).strip()
        out.append(re.sub(r"^RFC(\d+)$", r"RFC \1", part))
    return out


def test_reference_table_is_the_iana_registry() -> None:
    codes = [r["code"] for r in ROWS]
    assert len(codes) == len(set(codes))
    assert {"2.X.X", "4.X.X", "5.X.X", "X.0.0", "X.1.1", "X.7.30", "X.4.8"} <= set(codes)


def test_no_duplicate_codes() -> None:
    codes = [e.code for e in ENTRIES]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)


def test_every_registry_row_present_and_nothing_else_in_registry_order() -> None:
    assert [e.code for e in ENTRIES] == [r["code"] for r in ROWS]


@pytest.mark.parametrize("row", ROWS, ids=[r["code"] for r in ROWS])
def test_entry_facts_match_registry(row: dict[str, str]) -> None:
    entry = BY_CODE[row["code"]]
    assert entry.kind == KIND_OF_ROW[row["kind"]]
    assert entry.standing == _standing_of_row(row["registry_status"])
    # X.6.10 has no sample text in the registry; the table notes that in parentheses
    sample = "" if row["sample_text"].startswith("(none") else row["sample_text"]
    assert entry.sample_text == sample
    assert list(entry.associated_basic_codes) == _basic_codes_of_row(row["associated_basic_codes"])
    for ref in _references_of_row(row["reference"]):
        assert any(r.startswith(ref) for r in entry.references), (ref, entry.references)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.code for e in ENTRIES])
def test_both_languages_complete_and_in_their_language(entry: CodeEntry) -> None:
    assert set(entry.texts) == {"en", "ru"}
    for lang, texts in entry.texts.items():
        values = [getattr(texts, f) for f in TEXT_FIELDS] + list(texts.causes)
        assert texts.causes, f"{entry.code} [{lang}] has no causes"
        assert len(set(texts.causes)) == len(texts.causes), f"{entry.code} [{lang}] repeats a cause"
        assert len(texts.title) <= 90, f"{entry.code} [{lang}] title too long"
        for value in values:
            assert value.strip() == value and value, f"{entry.code} [{lang}] empty or unstripped text"
            if lang == "ru":
                assert CYRILLIC.search(value), f"{entry.code} [ru] not Russian: {value!r}"
                assert '"' not in value, f"{entry.code} [ru] uses straight quotes, want « »: {value!r}"
            else:
                assert not CYRILLIC.search(value), f"{entry.code} [en] contains Cyrillic: {value!r}"


def test_texts_differ_between_entries() -> None:
    for lang in ("en", "ru"):
        meanings = [e.text(lang).meaning for e in ENTRIES]
        assert len(meanings) == len(set(meanings)), f"[{lang}] two entries share one meaning"
        titles = [e.text(lang).title for e in ENTRIES]
        assert len(titles) == len(set(titles)), f"[{lang}] two entries share one title"


def test_reasons_are_from_the_vocabulary() -> None:
    known = load_reasons()
    for entry in ENTRIES:
        if entry.reason is None:
            continue
        assert entry.reason in SISIMAI_REASONS, (entry.code, entry.reason)
        if known:  # reasons.toml exists: it must define every reason we use
            assert entry.reason in known, (entry.code, entry.reason)


def test_class_and_subject_rows_carry_no_reason() -> None:
    for entry in ENTRIES:
        if entry.kind != "enhanced":
            assert entry.reason is None, entry.code


def test_every_detail_code_has_its_class_and_subject_entries() -> None:
    details = [e for e in ENTRIES if e.kind == "enhanced"]
    assert len(details) == sum(1 for r in ROWS if r["kind"] == "detail")
    for entry in details:
        assert re.fullmatch(r"X\.[0-7]\.\d{1,3}", entry.code), entry.code
        subject = entry.code.split(".")[1]
        assert BY_CODE[f"X.{subject}.X"].kind == "enhanced-subject"
    for cls in ("2", "4", "5"):
        assert BY_CODE[f"{cls}.X.X"].kind == "enhanced-class"


def test_class_retry_follows_class_semantics() -> None:
    assert BY_CODE["2.X.X"].retry == "n/a"
    assert BY_CODE["4.X.X"].retry == "later"
    assert BY_CODE["5.X.X"].retry in {"after-fix", "never"}


def test_well_known_codes_map_to_their_bounce_reason() -> None:
    expected = {
        "X.1.1": "userunknown",
        "X.1.2": "hostunknown",
        "X.1.6": "hasmoved",
        "X.2.2": "mailboxfull",
        "X.3.4": "mesgtoobig",
        "X.4.7": "expired",
        "X.7.25": "requireptr",
        "X.7.26": "authfailure",
    }
    assert {code: BY_CODE[code].reason for code in expected} == expected
    # 5.7.1 is the catch-all refusal (spam filter, relay, blocklist): no single reason fits
    assert BY_CODE["X.7.1"].reason is None


def test_address_codes_are_not_worth_retrying_unchanged() -> None:
    for code in ("X.1.1", "X.1.2", "X.1.3", "X.1.6", "X.1.10"):
        assert BY_CODE[code].retry == "never", code
    for code in ("X.2.2", "X.3.1", "X.4.5"):
        assert BY_CODE[code].retry == "later", code


def test_references_look_like_references() -> None:
    pattern = re.compile(r"(RFC \d{3,4}( §\d+(\.\d+)*)?|draft-[a-z0-9-]+)")
    for entry in ENTRIES:
        assert entry.references, entry.code
        for ref in entry.references:
            assert pattern.fullmatch(ref), (entry.code, ref)
