"""compile_cached: the same regex as re.compile, from the cache when it is valid, never worse."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpdiag.classify import phrases
from smtpdiag.classify.phraseindex import longest_match_regex
from smtpdiag.classify.regexcache import compile_cached

CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMTPDIAG_CACHE_DIR", str(tmp_path))
    return tmp_path


def _texts() -> list[str]:
    texts = []
    for path in sorted(CORPUS.glob("*.eml"))[::4]:
        raw = path.read_bytes().decode("utf-8", "replace").lower()
        texts.append(" ".join(raw.split())[:4000])
    return texts


def _all_matches(rx: re.Pattern[str], text: str) -> list[tuple[int, int, tuple[str | None, ...]]]:
    out = []
    m = rx.search(text)
    while m is not None:
        out.append((m.start(), m.end(), m.groups()))
        m = rx.search(text, m.start() + 1)
    return out


def _same_regex(got: re.Pattern[str], pattern: str, texts: list[str]) -> None:
    expected = re.compile(pattern)
    assert (got.pattern, got.flags, got.groups, got.groupindex) == (
        expected.pattern,
        expected.flags,
        expected.groups,
        expected.groupindex,
    )
    for text in texts:
        assert _all_matches(got, text) == _all_matches(expected, text), text


def test_scanner_regex_fresh_then_from_the_cache(cache_dir: Path) -> None:
    pattern = longest_match_regex(phrases.vocabulary())
    texts = _texts()
    fresh = compile_cached(pattern, "test")
    (stored,) = cache_dir.glob("regex-test.*.bin")
    loaded = compile_cached(pattern, "test")
    assert loaded is not fresh
    _same_regex(fresh, pattern, texts)
    _same_regex(loaded, pattern, texts)
    assert [p.name for p in cache_dir.glob("regex-test.*")] == [stored.name]


def _compare_in_a_fresh_cache(pattern: str, texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory, pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SMTPDIAG_CACHE_DIR", directory)
        for _ in range(2):  # a fresh compile, then the cached one
            _same_regex(compile_cached(pattern, "sample"), pattern, texts)
        assert list(Path(directory).glob("regex-sample.*.bin"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="ab c.|()", min_size=1, max_size=6), min_size=1, max_size=12),
    st.text(alphabet="ab c.|()", max_size=30),
)
def test_trie_regexes_behave_as_re_compile(words: list[str], text: str) -> None:
    _compare_in_a_fresh_cache(longest_match_regex(words), [text, "".join(words), " ".join(words)])


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a)(b)?|c",
        r"\bquota \d{1,3}\b",
        r"[^a-c]+x$",
        r"^(?:ab|a)*?c",
        r"(?:mailbox|user) (?:full|unknown)(?!\w)",
        r"(?<=x)y|\s+",
        r"(a|b)\1",
    ],
)
def test_other_regexes_behave_as_re_compile(pattern: str) -> None:
    _compare_in_a_fresh_cache(pattern, ["ab c quota 5 xy aa bb mailbox full  user unknownz", "aabbc", ""])


def test_a_bad_pattern_still_raises(cache_dir: Path) -> None:
    with pytest.raises(re.error):
        compile_cached("(a", "bad")


def test_inline_flags_are_kept_and_named_groups_not_cached(cache_dir: Path) -> None:
    _same_regex(compile_cached(r"(?i)ab", "flags"), r"(?i)ab", ["xaAbB", "ab"])
    _same_regex(compile_cached(r"(?i)ab", "flags"), r"(?i)ab", ["xaAbB", "ab"])
    assert list(cache_dir.glob("regex-flags.*.bin"))
    _same_regex(compile_cached(r"(?P<x>a)b", "named"), r"(?P<x>a)b", ["xab", "ab"])
    assert not list(cache_dir.glob("regex-named.*"))


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "odd length":
        path.write_bytes(data + b"x")
    elif how == "flipped":
        i = len(data) - 40
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x55]) + data[i + 1 :])
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["truncated", "odd length", "flipped", "empty"])
def test_a_damaged_cache_file_is_not_used(cache_dir: Path, how: str) -> None:
    pattern = longest_match_regex(["mailbox full", "mailbox unavailable", "user unknown", "quota"])
    compile_cached(pattern, "damaged")
    (stored,) = cache_dir.glob("regex-damaged.*.bin")
    _damage(stored, how)
    _same_regex(compile_cached(pattern, "damaged"), pattern, ["the mailbox unavailable, user unknown"])
    assert compile_cached(pattern, "damaged").pattern == pattern


def test_another_patterns_program_is_not_used(cache_dir: Path) -> None:
    first, second = "mailbox (?:full|busy)", "user (?:unknown|gone)"
    compile_cached(first, "a")
    compile_cached(second, "b")
    (a_file,) = cache_dir.glob("regex-a.*.bin")
    (b_file,) = cache_dir.glob("regex-b.*.bin")
    b_file.write_bytes(a_file.read_bytes())  # as if two patterns' keys collided
    _same_regex(compile_cached(second, "b"), second, ["user unknown", "mailbox full"])


def test_no_cache_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMTPDIAG_CACHE_DIR", "")
    _same_regex(compile_cached("ab?c", "none"), "ab?c", ["abc ac"])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SMTPDIAG_CACHE_DIR", str(blocker / "sub"))
    _same_regex(compile_cached("ab?c", "none"), "ab?c", ["abc ac"])
