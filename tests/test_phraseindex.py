"""PhraseIndex gives exactly the answer of trying every reason table in order."""

from __future__ import annotations

import random
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smtpdiag.classify import phrases
from smtpdiag.classify.phraseindex import PhraseIndex, literal_prefix
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


def test_literal_prefix() -> None:
    assert literal_prefix(re.compile(r"\bhost \S{1,255} not found")) == "host "
    assert literal_prefix(re.compile(r"\bconnections? .{0,40}limit")) == "connection"
    assert literal_prefix(re.compile(r"\bmax(?:imum)? size")) == "max"
    assert literal_prefix(re.compile(r"5\.1\.1 x")) == "5.1.1 x"
    assert literal_prefix(re.compile(r"a\.b?c")) == "a."
    assert literal_prefix(re.compile(r"a\sb")) == "a"
    assert literal_prefix(re.compile(r"\.\d")) == "."
    assert literal_prefix(re.compile(r"\bab|cd")) == ""
    assert literal_prefix(re.compile(r"ab(?:c|d)")) == "ab"
    assert literal_prefix(re.compile(r"ab[|]")) == "ab"
    assert literal_prefix(re.compile(r"(?:a|b)c")) == ""
    assert literal_prefix(re.compile(r"host", re.IGNORECASE)) == ""
    assert literal_prefix(re.compile(r"ab{2}")) == "a"
    assert literal_prefix(re.compile(r"ab*")) == "a"


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
