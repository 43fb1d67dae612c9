"""PhraseIndex gives exactly the answer of trying every reason table in order."""

from __future__ import annotations

import random
import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpdiag.classify import phrases
from smtpdiag.classify.phraseindex import (
    PhraseIndex,
    PhraseScanner,
    _shortened,
    longest_match_regex,
    pattern_gate,
    required_literals,
)
from smtpdiag.classify.phrases import REASON_ORDER, ReasonPhrases

CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"


def in_order(text: str, tables: tuple[ReasonPhrases, ...] = REASON_ORDER) -> tuple[str, str] | None:
    """The definition: each table's own find(), tables in priority order."""
    for table in tables:
        hit = table.find(text)
        if hit is not None:
            return table.reason, hit
    return None


def _corpus_texts() -> list[str]:
    texts = []
    for path in sorted(CORPUS.glob("*.eml")):
        raw = path.read_bytes().decode("utf-8", "replace").lower()
        texts.extend(" ".join(line.split()) for line in raw.splitlines() if line.strip())
        texts.append(" ".join(raw.split())[:4000])
    return texts


def test_corpus_lines_and_whole_messages() -> None:
    hits = 0
    for text in _corpus_texts():
        expected = in_order(text)
        hits += expected is not None
        assert phrases.match_reason(text) == expected, text
    assert hits > 300


def test_every_phrase_alone_and_in_context() -> None:
    rng = random.Random(7)
    all_phrases = [p for t in REASON_ORDER for p in t.phrases]
    for phrase in all_phrases:
        for text in (phrase, f"x{phrase}y", f"550 5.1.1 {phrase} (in reply to rcpt to command)"):
            assert phrases.match_reason(text) == in_order(text), text
        mixed = " ".join([phrase, *rng.sample(all_phrases, 2)])
        assert phrases.match_reason(mixed) == in_order(mixed), mixed


def test_required_literals() -> None:
    def lits(pattern: str) -> tuple[str, ...]:
        return required_literals(re.compile(pattern))

    assert lits(r"\bhost \S{1,255} not found") == (" not found", "host ")
    assert lits(r"\bconnections? .{0,40}limit") == ("connection", "limit", " ")
    assert lits(r"\bmax(?:imum)? size") == (" size", "max")
    assert lits(r"5\.1\.1 x") == ("5.1.1 x",)
    assert lits(r"a\.b?c") == ("a.", "c")
    assert lits(r"a\sb") == ("a", "b")
    assert lits(r"\bab|cd") == ()
    assert lits(r"ab(?:c|d)") == ("ab",)
    assert lits(r"ab[|]") == ("ab",)
    assert lits(r"(?:a|b)c") == ("c",)
    assert lits(r"host") == ("host",)
    assert required_literals(re.compile("host", re.IGNORECASE)) == ()
    assert lits(r"ab{2}") == ("a",)
    assert lits(r"ab*c") == ("a", "c")
    assert lits(r"ab+c") == ("ab", "c")
    assert lits(r"a*?b") == ("b",)
    assert lits(r"[]a]b") == ("b",)
    assert lits(r"x[^]y]z") == ("x", "z")
    assert pattern_gate(re.compile(r"(?:delivered|undelivered) for \d{1,4} (?:day|hour)")) == " for "
    assert pattern_gate(re.compile(r"\d+")) == ""


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab c.|()?*+{}[]^$\\", max_size=12), st.text(alphabet="ab c.", max_size=30))
def test_required_literals_are_in_every_match(pattern: str, text: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set" and the like
            rx = re.compile(pattern)
    except re.error:
        return
    for m in rx.finditer(text):
        for lit in required_literals(rx):
            assert lit in m.group(0), (pattern, text, lit)


def test_order_inside_and_between_tables() -> None:
    first = ReasonPhrases("first", ("zz top", "mailbox is full"), (re.compile(r"\bquota \d"),))
    second = ReasonPhrases("second", ("is full", "full"))
    index = PhraseIndex((first, second))
    for text in ("mailbox is full", "zz top mailbox is full", "quota 5 full", "is full", "xfull", "none"):
        assert index.match(text) == in_order(text, (first, second)), text


WORDS = sorted({w for t in REASON_ORDER for p in t.phrases for w in p.split(" ") if w})


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*WORDS, "", " ", "x", "550", "5.1.1"]), max_size=14))
def test_generated_texts(words: list[str]) -> None:
    for text in (" ".join(words), "".join(words)):
        assert phrases.match_reason(text) == in_order(text), text


def test_weak_tables_and_shared_scan() -> None:
    for text in _corpus_texts()[:3000]:
        found = phrases.scan(text)
        assert phrases.match_reason(text, found) == in_order(text), text
        assert phrases.match_weak(text, found) == in_order(text, phrases.WEAK_ORDER), text
        assert phrases.temporary_phrase(found) == next(
            (p for p in phrases.TEMPORARY_PHRASES if p in text), None
        )


SCAN_WORDS = sorted({w for p in phrases.vocabulary() for w in p.split(" ") if w})


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*SCAN_WORDS, " ", ".", "x", "e"]), max_size=12))
def test_scanner_finds_exactly_the_phrases_in_a_text(words: list[str]) -> None:
    vocabulary = phrases.vocabulary()
    scanner = PhraseScanner([*vocabulary, " for ", ".example.com", ". x"])
    for text in (" ".join(words), "".join(words), "." + " ".join(words)):
        expected = {p for p in (*vocabulary, " for ", ".example.com", ". x") if p and p in text}
        assert scanner.found(text) == expected, text


def test_scanner_on_the_corpus() -> None:
    scanner = PhraseScanner(phrases.vocabulary())
    known = sorted(scanner.known)
    for text in _corpus_texts()[::3]:
        assert scanner.found(text) == {p for p in known if p in text}, text


def test_a_scanner_must_know_the_tables_phrases() -> None:
    table = ReasonPhrases("x", ("zz top",), (re.compile(r"quota \d"),))
    with pytest.raises(ValueError):
        PhraseIndex((table,), PhraseScanner(["zz top"]))  # the regex's gate "quota " is missing
    assert PhraseIndex((table,), PhraseScanner(["zz top", "quota "])).match("quota 5") == ("x", "quota 5")


def _trie_regex_reference(phrases: list[str]) -> str:
    """The trie written out one character per node (the regex `longest_match_regex` compresses)."""
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(c) + emit(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" not in node:
            return body
        return ("(?:" + body + ")" if len(branches) == 1 else body) + "?"

    return emit(root)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab c.|", min_size=1, max_size=6), min_size=1, max_size=10))
def test_longest_match_regex_is_the_trie(words: list[str]) -> None:
    assert longest_match_regex(words) == _trie_regex_reference(sorted(set(words)))
    rx = re.compile(longest_match_regex(words))
    for text in ("".join(words), " ".join(words), "".join(reversed(words))):
        for i in range(len(text) + 1):
            m = rx.match(text, i)
            longest = max((w for w in words if text.startswith(w, i)), key=len, default=None)
            assert (m.group() if m else None) == longest, (words, text, i)


def test_longest_match_regex_of_the_classifier_phrases() -> None:
    vocabulary = sorted(set(phrases.vocabulary()))
    assert longest_match_regex(vocabulary) == _trie_regex_reference(vocabulary)


def _classifier_vocabulary() -> list[str]:
    from smtpdiag.vendors import scan_vocabulary

    return sorted({*phrases.vocabulary(), *scan_vocabulary()} - {""})


def test_long_phrases_are_scanned_by_a_cut_key() -> None:
    vocabulary = _classifier_vocabulary()
    keys = sorted({p.lstrip(" .etaos") or p for p in vocabulary})
    cut = _shortened(keys)
    assert len(set(cut.values())) == len(keys), "cut keys stay distinct"
    for key, short in cut.items():
        assert key.startswith(short)
        if short != key:  # a cut key is the start of its own key only
            assert not any(k != key and k.startswith(short) for k in keys), (key, short)
    assert sum(len(v) for v in cut.values()) < 0.8 * sum(map(len, keys)), "long keys are cut"


def _near_misses(phrase: str) -> list[str]:
    """Texts that have all but a bit of `phrase`: its start with another end, its end alone ..."""
    half = len(phrase) // 2
    return [
        phrase[:-1],
        phrase[:-1] + ("x" if phrase[-1] != "x" else "y"),
        phrase[1:],
        phrase[:half] + " " + phrase[half:],
        "x" + phrase[:half],
        phrase[:half] + phrase,  # a false start, then the phrase
        phrase + phrase[:-2],
    ]


def test_classifier_scanner_on_every_phrase_and_near_misses() -> None:
    vocabulary = _classifier_vocabulary()
    scanner = PhraseScanner(vocabulary)
    for phrase in vocabulary:
        for text in (phrase, f"550 {phrase}.", *_near_misses(phrase)):
            assert scanner.found(text) == {p for p in vocabulary if p in text}, text


def test_classifier_scanner_on_the_corpus() -> None:
    vocabulary = _classifier_vocabulary()
    scanner = PhraseScanner(vocabulary)
    for text in _corpus_texts()[::2]:
        assert scanner.found(text) == {p for p in vocabulary if p in text}, text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_classifier_vocabulary()), max_size=5), st.integers(0, 40))
def test_classifier_scanner_on_overlapping_phrases(picked: list[str], cut: int) -> None:
    vocabulary = _classifier_vocabulary()
    scanner = _classifier_scanner()
    # phrases run together, and each cut short: a phrase's start found where the phrase is not
    for text in ("".join(picked), " ".join(p[:cut] for p in picked), "".join(p[cut:] for p in picked)):
        assert scanner.found(text) == {p for p in vocabulary if p in text}, text


@cache
def _classifier_scanner() -> PhraseScanner:
    return PhraseScanner(_classifier_vocabulary())
