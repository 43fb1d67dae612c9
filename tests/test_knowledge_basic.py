"""Validate basic_codes.toml and reasons.toml against the reference table and against each other."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from smtpdiag.knowledge import CodeEntry, load_entries, load_reasons


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


REFERENCE_CSV = Path(__file__).parent / "data" / "reference" / "basic_reply_codes.csv"

# The codes the seed article lists (its English code list, plus the codes its Russian
# section describes by their English reply texts: 512, 513, 523, 530, 535, 541, ...).
SEED_CODES = _words(
    "211 214 220 221 250 251 252 253 354 355 421 432 450 451 452 453 454 458 459 "
    "500 501 502 503 504 510 512 513 515 517 521 522 523 530 531 533 534 535 538 "
    "540 541 542 543 546 547 550 551 552 553 554"
)

# The Sisimai bounce-reason vocabulary (the names the bounce corpus labels use, plus the
# ones Sisimai 5 added or renamed). "emailtoolarge" is deliberately absent: we use "mesgtoobig".
SISIMAI_REASONS = _words(
    "authfailure badreputation blocked contenterror delivered exceedlimit expired failedstarttls "
    "feedback filtered hasmoved hostunknown mailboxfull mailererror mesgtoobig networkerror "
    "norelaying notaccept notcompliantrfc onhold policyviolation ratelimited rejected requireptr "
    "securityerror spamdetected suppressed suspend syntaxerror systemerror systemfull toomanyconn "
    "undefined userunknown vacation virusdetected"
)
HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept"})

STANDING_OF_CSV = {"yes": "standard", "registry-only": "registry-only", "no": "non-standard"}
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
TEXT_FIELDS = ("title", "meaning", "sender_action", "admin_action", "retry_advice")


def _reference_rows() -> dict[str, dict[str, str]]:
    with REFERENCE_CSV.open(encoding="utf-8", newline="") as fh:
        return {row["code"]: row for row in csv.DictReader(fh)}


def _entries() -> dict[str, CodeEntry]:
    return {e.code: e for e in load_entries("basic")}


def test_reference_table_is_the_expected_one() -> None:
    rows = _reference_rows()
    assert len(rows) == 69
    assert {"421", "550", "556", "101", "355"} <= rows.keys()


def test_every_reference_code_is_present_and_nothing_else() -> None:
    entries = _entries()
    reference = _reference_rows().keys()
    assert sorted(reference - entries.keys()) == []
    assert sorted(entries.keys() - reference) == []


def test_no_duplicate_codes() -> None:
    codes = [e.code for e in load_entries("basic")]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    assert duplicates == []


def test_codes_are_three_digit_basic_codes_of_kind_basic() -> None:
    for entry in load_entries("basic"):
        assert re.fullmatch(r"[1-5][0-9][0-9]", entry.code), entry.code
        assert entry.kind == "basic", entry.code


def test_standing_matches_reference_table() -> None:
    entries = _entries()
    for code, row in _reference_rows().items():
        assert entries[code].standing == STANDING_OF_CSV[row["standard"]], code


def test_seed_codes_are_flagged_and_present() -> None:
    entries = _entries()
    assert sorted(SEED_CODES - entries.keys()) == []
    flagged = {c for c, e in entries.items() if e.in_seed}
    assert flagged == SEED_CODES


@pytest.mark.parametrize("code", sorted(_reference_rows()))
def test_both_languages_complete(code: str) -> None:
    entry = _entries()[code]
    assert set(entry.texts) == {"en", "ru"}
    for lang, texts in entry.texts.items():
        values = [getattr(texts, f) for f in TEXT_FIELDS] + list(texts.causes)
        assert texts.causes, f"{code} {lang}: no causes"
        for value in values:
            assert value.strip(), f"{code} {lang}: empty text"
            if lang == "ru":
                assert CYRILLIC.search(value), f"{code} ru: no Cyrillic in {value!r}"
                # Russian typography: «ёлочки», not straight quotes
                assert '"' not in value, f"{code} ru: straight quote in {value!r}"
            else:
                assert not CYRILLIC.search(value), f"{code} en: Cyrillic in {value!r}"
        assert len(texts.title) <= 80, f"{code} {lang}: title too long"
        assert texts.meaning != texts.title, f"{code} {lang}: meaning repeats the title"


def test_code_itself_is_not_the_whole_title() -> None:
    for entry in load_entries("basic"):
        for texts in entry.texts.values():
            assert texts.title.strip() != entry.code


def test_non_standard_codes_say_no_rfc_defines_them() -> None:
    for entry in load_entries("basic"):
        if entry.standing != "non-standard":
            continue
        assert re.search(r"\bRFC\b", entry.text("en").meaning), entry.code
        assert re.search(r"\bRFC\b", entry.text("ru").meaning), entry.code


def test_references_present_for_defined_codes() -> None:
    for entry in load_entries("basic"):
        if entry.standing in ("standard", "registry-only"):
            assert entry.references, entry.code
            assert all(r.strip() for r in entry.references), entry.code


def test_retry_fits_the_reply_class() -> None:
    for entry in load_entries("basic"):
        if entry.code[0] in "23":
            assert entry.retry == "n/a", entry.code
        else:
            assert entry.retry != "n/a", entry.code
        if entry.code[0] == "4" and entry.standing == "standard":
            # a transient reply: the standard says the same command may succeed later
            assert entry.retry in ("later", "after-fix"), entry.code


def test_positive_codes_carry_no_bounce_reason() -> None:
    # 1xx here are folk codes for client-side connection failures, not positive replies
    for entry in load_entries("basic"):
        if entry.code[0] in "23":
            assert entry.reason is None, entry.code


def test_ambiguous_codes_carry_no_reason() -> None:
    # these codes are used for several unrelated failures: only the text and the
    # enhanced status code can decide, so the code alone must not suggest one reason
    entries = _entries()
    for code in ("421", "450", "451", "452", "550", "552", "553", "554"):
        assert entries[code].reason is None, code


def test_well_known_code_facts() -> None:
    entries = _entries()
    assert entries["521"].reason == "notaccept"
    assert entries["556"].reason == "notaccept"
    assert entries["530"].reason == "securityerror"
    assert entries["535"].reason == "securityerror"
    # RFC 5321 4.5.3.1.10: 552 for too many recipients is to be treated as 452
    en_552 = entries["552"].text("en")
    assert "452" in en_552.meaning + en_552.retry_advice
    # 421 may answer any command and the server then closes the channel
    assert "clos" in entries["421"].text("en").meaning.lower()
    # 550 covers both unknown users and policy rejection
    causes_550 = " ".join(entries["550"].text("en").causes).lower()
    assert "does not exist" in causes_550 and "spam" in causes_550


def test_every_reason_used_exists() -> None:
    reasons = load_reasons()
    for entry in load_entries("basic"):
        if entry.reason is not None:
            assert entry.reason in reasons, (entry.code, entry.reason)


def test_reason_vocabulary_is_complete() -> None:
    reasons = load_reasons()
    assert sorted(SISIMAI_REASONS - reasons.keys()) == []
    assert "emailtoolarge" not in reasons


def test_hardbounce_only_for_bad_addresses() -> None:
    hard = {name for name, r in load_reasons().items() if r.hardbounce}
    assert hard == HARD_REASONS


def test_notaccept_text_notes_it_is_hard_only_when_permanent() -> None:
    notaccept = load_reasons()["notaccept"]
    assert "4xx" in notaccept.text("en").meaning
    assert "4xx" in notaccept.text("ru").meaning


@pytest.mark.parametrize("name", sorted(SISIMAI_REASONS))
def test_reason_texts_complete(name: str) -> None:
    reason = load_reasons()[name]
    assert set(reason.texts) == {"en", "ru"}
    for lang, texts in reason.texts.items():
        for value in (texts.title, texts.meaning, texts.sender_action):
            assert value.strip(), f"{name} {lang}: empty"
            if lang == "ru":
                assert CYRILLIC.search(value), f"{name} ru: no Cyrillic"
                assert '"' not in value, f"{name} ru: straight quote"
            else:
                assert not CYRILLIC.search(value), f"{name} en: Cyrillic"


def test_reason_retry_is_consistent_with_hardness() -> None:
    for name, reason in load_reasons().items():
        if reason.hardbounce:
            assert reason.retry == "never", name
    reasons = load_reasons()
    assert reasons["delivered"].retry == "n/a"
    assert reasons["mailboxfull"].retry == "later"
    assert reasons["ratelimited"].retry == "later"


def test_codes_of_the_article_list_are_flagged_in_seed() -> None:
    entries = _entries()
    listed = {c for c, row in _reference_rows().items() if row["in_nonstandard_article_list"] == "yes"}
    assert listed
    assert sorted(c for c in listed if not entries[c].in_seed) == []


def test_reasons_used_by_the_bounce_corpus_exist() -> None:
    labels = Path(__file__).parent / "data" / "bounces" / "labels.jsonl"
    used: set[str] = set()
    with labels.open(encoding="utf-8") as fh:
        for line in fh:
            used.update(e["reason"] for e in json.loads(line)["expected"])
    assert len(used) > 20
    assert sorted(used - load_reasons().keys()) == []
