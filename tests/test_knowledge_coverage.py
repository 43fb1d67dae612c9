"""Coverage of the knowledge base against the reference tables, printed and asserted at 100%.

Figures: codes of each reference table (tests/data/reference/*.csv) present in the knowledge base,
and entries whose English and Russian texts are complete.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from smtpdiag.knowledge import CodeEntry, load_entries, load_reasons
from smtpdiag.knowledge.lookup import InvalidCodeError, normalize_code

REFERENCE = Path(__file__).parent / "data" / "reference"
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
TEXT_FIELDS = ("title", "meaning", "sender_action", "admin_action", "retry_advice")


def _rows(name: str) -> list[dict[str, str]]:
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"reference table {name} is not in tests/data/reference")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _figure(capsys: pytest.CaptureFixture[str], label: str, have: int, total: int) -> float:
    """Print one figure even while pytest captures output (the figures are the point), return it."""
    pct = 100.0 * have / total if total else 100.0
    with capsys.disabled():
        print(f"\ncoverage: {label}: {have}/{total} ({pct:.1f}%)")
    return pct


def _complete(entry: CodeEntry) -> bool:
    for lang in ("en", "ru"):
        t = entry.texts.get(lang)
        if t is None or not all(getattr(t, f).strip() for f in TEXT_FIELDS) or not t.causes:
            return False
        if lang == "ru" and not CYRILLIC.search(t.meaning + t.title):
            return False
    return True


def _norm(code: str) -> str:
    try:
        return normalize_code(code).code
    except InvalidCodeError:
        return code.strip()


def test_basic_codes_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    wanted = {r["code"].strip() for r in _rows("basic_reply_codes.csv")}
    have = {e.code for e in load_entries("basic")}
    missing = sorted(wanted - have)
    assert (
        _figure(capsys, "basic reply codes in the knowledge base", len(wanted & have), len(wanted)) == 100.0
    ), missing


def test_enhanced_codes_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    wanted = {_norm(r["code"]) for r in _rows("enhanced_status_codes.csv")}
    have = {_norm(e.code) for e in load_entries("enhanced")}
    missing = sorted(wanted - have)
    assert (
        _figure(capsys, "enhanced status codes in the knowledge base", len(wanted & have), len(wanted))
        == 100.0
    ), missing


def test_vendor_replies_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows("vendor_codes.csv")
    wanted = {(r["key_phrase"].strip().lower(), r["enhanced_code"].strip()) for r in rows}
    have = {(e.key_phrase.strip().lower(), e.enhanced_code.strip()) for e in load_entries("vendor")}
    missing = sorted(wanted - have)
    assert (
        _figure(capsys, "vendor replies in the knowledge base", len(wanted & have), len(wanted)) == 100.0
    ), missing[:10]


def test_entries_with_complete_english_and_russian_texts(capsys: pytest.CaptureFixture[str]) -> None:
    entries = load_entries("basic") + load_entries("enhanced") + load_entries("vendor")
    complete = [e for e in entries if _complete(e)]
    incomplete = [e.code for e in entries if not _complete(e)]
    assert entries
    assert _figure(capsys, "entries with complete EN+RU texts", len(complete), len(entries)) == 100.0, (
        incomplete[:10]
    )


def test_reasons_used_by_entries_exist(capsys: pytest.CaptureFixture[str]) -> None:
    reasons = load_reasons()
    if not reasons:
        pytest.skip("reasons.toml is not there yet")
    used = {
        e.reason
        for e in load_entries("basic") + load_entries("enhanced") + load_entries("vendor")
        if e.reason
    }
    unknown = sorted(used - set(reasons))
    assert (
        _figure(capsys, "reason names used by entries that are defined", len(used) - len(unknown), len(used))
        == 100.0
    ), unknown


def test_reasons_with_complete_english_and_russian_texts(capsys: pytest.CaptureFixture[str]) -> None:
    reasons = load_reasons()
    if not reasons:
        pytest.skip("reasons.toml is not there yet")

    def complete(name: str) -> bool:
        en, ru = reasons[name].texts.get("en"), reasons[name].texts.get("ru")
        return bool(
            en
            and ru
            and all((en.title, en.meaning, en.sender_action, ru.title, ru.meaning, ru.sender_action))
            and CYRILLIC.search(ru.title + ru.meaning)
        )

    done = [n for n in reasons if complete(n)]
    missing = sorted(set(reasons) - set(done))
    assert _figure(capsys, "reasons with complete EN+RU texts", len(done), len(reasons)) == 100.0, missing
