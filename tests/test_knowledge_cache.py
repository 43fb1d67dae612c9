"""The parsed-data cache: used when valid, ignored when stale or damaged, optional."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smtpdiag.knowledge import loader


def read(monkeypatch: pytest.MonkeyPatch, cache: str) -> dict[str, object]:
    monkeypatch.setenv("SMTPDIAG_CACHE_DIR", cache)
    return loader._read("reasons.toml")


def test_cache_is_written_and_then_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = read(monkeypatch, str(tmp_path))
    (cache_file,) = tmp_path.glob("knowledge-reasons.*.json")
    assert json.loads(cache_file.read_text(encoding="utf-8")) == first
    # prove the cache is what the second read returns
    cache_file.write_text(json.dumps({"reason": []}), encoding="utf-8")
    assert read(monkeypatch, str(tmp_path)) == {"reason": []}


def test_damaged_cache_falls_back_to_the_data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = read(monkeypatch, "")
    read(monkeypatch, str(tmp_path))
    (cache_file,) = tmp_path.glob("knowledge-reasons.*.json")
    cache_file.write_bytes(b"{not json")
    assert read(monkeypatch, str(tmp_path)) == expected


def test_stale_caches_are_keyed_by_content_and_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "knowledge-reasons-0000.json"
    stale.write_text(json.dumps({"reason": []}), encoding="utf-8")
    data = read(monkeypatch, str(tmp_path))
    assert data["reason"], "a cache for other file contents must not be used"
    assert not stale.exists()


def test_unwritable_cache_dir_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert read(monkeypatch, str(blocker / "sub"))["reason"]


def test_other_files_caches_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    others = [
        tmp_path / "knowledge-vendor_codes.1-2.json",
        tmp_path / "regex-classifier-scanner-0.1-2.bin",
        tmp_path / "knowledge-reasonsx.1-2.json",
    ]
    for other in others:
        other.write_text("{}", encoding="utf-8")
    read(monkeypatch, str(tmp_path))
    assert all(other.exists() for other in others)
    assert len(list(tmp_path.glob("knowledge-reasons.*.json"))) == 1
