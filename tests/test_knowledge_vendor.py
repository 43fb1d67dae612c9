"""vendor_codes.toml vs reference/vendor_codes.csv: every row present, in order, complete in EN and RU."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from smtpdiag.knowledge import CodeEntry, load_entries, load_reasons

CSV_PATH = Path(__file__).parent / "data" / "reference" / "vendor_codes.csv"

VENDOR_IDS = {
    "Google Gmail": "gmail",
    "Microsoft 365 / Exchange Online": "microsoft",
    "Microsoft Outlook.com": "microsoft",
    "Yahoo / AOL": "yahoo",
    "Apple iCloud": "apple",
    "Yandex": "yandex",
    "Mail.ru": "mailru",
}
ALLOWED_VENDORS = {"gmail", "microsoft", "yahoo", "apple", "yandex", "mailru"}
VENDOR_RETRIES = {"never", "later", "after-fix"}
TEXT_FIELDS = ("title", "meaning", "sender_action", "admin_action", "retry_advice")
CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def _key(vendor: str, reply_code: str, enhanced_code: str, key_phrase: str) -> tuple[str, str, str, str]:
    return (vendor.strip(), reply_code.strip(), enhanced_code.strip(), key_phrase.strip())


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with CSV_PATH.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def entries() -> tuple[CodeEntry, ...]:
    return load_entries("vendor")


def test_reference_table_is_the_expected_one(rows: list[dict[str, str]]) -> None:
    # Guards the comparison below against an empty or truncated copy of the table.
    assert len(rows) >= 200
    assert {r["vendor"] for r in rows} == set(VENDOR_IDS)


def test_one_entry_per_csv_row_in_order(rows: list[dict[str, str]], entries: tuple[CodeEntry, ...]) -> None:
    assert len(entries) == len(rows)
    for i, (row, entry) in enumerate(zip(rows, entries, strict=True)):
        want = _key(VENDOR_IDS[row["vendor"]], row["reply_code"], row["enhanced_code"], row["key_phrase"])
        got = _key(entry.vendor, entry.reply_code, entry.enhanced_code, entry.key_phrase)
        assert got == want, f"entry {i}"
        assert entry.vendor_name == row["vendor"], f"entry {i}"
        assert entry.category == row["category"], f"entry {i}"
        assert entry.source == row["source"], f"entry {i}"


def test_every_csv_row_present(rows: list[dict[str, str]], entries: tuple[CodeEntry, ...]) -> None:
    have = {_key(e.vendor, e.reply_code, e.enhanced_code, e.key_phrase) for e in entries}
    missing = [
        r
        for r in rows
        if _key(VENDOR_IDS[r["vendor"]], r["reply_code"], r["enhanced_code"], r["key_phrase"]) not in have
    ]
    assert not missing


def test_no_duplicate_rows(entries: tuple[CodeEntry, ...]) -> None:
    keys = [_key(e.vendor_name, e.reply_code, e.enhanced_code, e.key_phrase) for e in entries]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicates


def test_vendor_ids_in_allowed_set(entries: tuple[CodeEntry, ...]) -> None:
    assert {e.vendor for e in entries} <= ALLOWED_VENDORS
    assert all(e.kind == "vendor" for e in entries)


def test_key_phrase_nonempty(entries: tuple[CodeEntry, ...]) -> None:
    assert all(e.key_phrase.strip() for e in entries)


def test_reasons_are_known(entries: tuple[CodeEntry, ...]) -> None:
    known = set(load_reasons())
    assert known, "reasons.toml is empty"
    unknown = sorted({str(e.reason) for e in entries if e.reason not in known})
    assert not unknown


def test_retry_values(entries: tuple[CodeEntry, ...]) -> None:
    assert {e.retry for e in entries} <= VENDOR_RETRIES


def test_references_present_and_unique(entries: tuple[CodeEntry, ...]) -> None:
    for i, e in enumerate(entries):
        assert e.references, f"entry {i} has no references"
        assert all(isinstance(r, str) and r.strip() for r in e.references), f"entry {i}"
        assert len(set(e.references)) == len(e.references), f"entry {i} repeats a reference"


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_texts_complete(entries: tuple[CodeEntry, ...], lang: str) -> None:
    for i, e in enumerate(entries):
        t = e.texts[lang]
        for name in TEXT_FIELDS:
            assert getattr(t, name).strip(), f"entry {i} [{lang}] {name} empty"
        assert t.causes and all(c.strip() for c in t.causes), f"entry {i} [{lang}] causes"


def test_russian_is_russian_and_english_is_not(entries: tuple[CodeEntry, ...]) -> None:
    for i, e in enumerate(entries):
        en, ru = e.texts["en"], e.texts["ru"]
        for name in TEXT_FIELDS:
            assert CYRILLIC.search(getattr(ru, name)), f"entry {i} [ru] {name} has no Cyrillic"
            assert not CYRILLIC.search(getattr(en, name)), f"entry {i} [en] {name} has Cyrillic"
        assert all(CYRILLIC.search(c) for c in ru.causes), f"entry {i} [ru] causes"
        assert not any(CYRILLIC.search(c) for c in en.causes), f"entry {i} [en] causes"


def test_russian_typography(entries: tuple[CodeEntry, ...]) -> None:
    # Russian texts quote with «», not with straight or English curly quotes.
    for i, e in enumerate(entries):
        ru = e.texts["ru"]
        for text in (ru.title, ru.meaning, ru.sender_action, ru.admin_action, ru.retry_advice, *ru.causes):
            assert '"' not in text and "“" not in text, f"entry {i} [ru]: {text}"


def test_titles_distinct_within_vendor(entries: tuple[CodeEntry, ...]) -> None:
    # Rows may share causes and advice, but each row's title must fit its own key phrase.
    for lang in ("en", "ru"):
        seen: dict[tuple[str, str], int] = {}
        for i, e in enumerate(entries):
            key = (e.vendor, e.texts[lang].title)
            assert key not in seen, f"entries {seen[key]} and {i} share the {lang} title {key[1]!r}"
            seen[key] = i


def test_retry_fits_the_reply(entries: tuple[CodeEntry, ...]) -> None:
    # A transient (4xx / 4.x.x) reply is never "do not retry"; a vanished mailbox is never "retry later".
    for i, e in enumerate(entries):
        if e.reply_code.startswith("4") or e.enhanced_code.startswith("4"):
            assert e.retry != "never", f"entry {i} ({e.code}) is transient but says never"
        if e.reason in {"userunknown", "suspend", "hasmoved"}:
            assert e.retry != "later", f"entry {i} ({e.code}) says retry later for {e.reason}"
