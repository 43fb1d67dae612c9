"""The first matching reason table, found without trying every phrase of every table.

    PhraseIndex(tables).match(text) == the first (table.reason, table.find(text)) that is not None

`phrases.match_reason` tries ~850 phrases one by one (substring tests) plus a few regexes on
every diagnostic. This index answers the same question with far fewer tests. Each phrase is
filed under something the text must contain for the phrase to occur in it:

* a phrase of three or more words, under its longest inner word: where the phrase occurs, that
  word stands between two spaces, so it is one of `text.split(" ")`;
* a phrase of two words, under the first three characters of its last word: where the phrase
  occurs, some word of the text starts with them;
* any other phrase is always tried.

Only the phrases filed under what the text has are tried, and the hit with the lowest position
in its table wins, as the table's own in-order loop would find it. A regex that begins with a
literal (after an optional `\\b`) only runs when that literal occurs in the text. Tables keep
their priority order and phrases come before patterns within a table, so the answer (reason and
matched text) is always the one `ReasonPhrases.find` in table order gives;
tests/test_phraseindex.py checks that on the corpus and on generated texts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Protocol

START_CHARS: Final = 3  # characters of a two-word phrase's last word it is filed under
_META: Final = frozenset("\\.^$*+?{}[]|()")
_QUANTIFIERS: Final = frozenset("?*{")


class PhraseTable(Protocol):
    @property
    def reason(self) -> str: ...
    @property
    def phrases(self) -> tuple[str, ...]: ...
    @property
    def patterns(self) -> tuple[re.Pattern[str], ...]: ...


def literal_prefix(rx: re.Pattern[str]) -> str:
    """Characters every match of `rx` starts with ("" when that cannot be told simply)."""
    if rx.flags & (re.IGNORECASE | re.VERBOSE):
        return ""
    pattern = rx.pattern
    if _top_level_alternation(pattern):
        return ""  # "ab|cd" matches without "ab"
    i = 2 if pattern.startswith("\\b") else 0
    out: list[str] = []
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1].isascii() and not pattern[i + 1].isalnum():
            out.append(pattern[i + 1])  # an escaped punctuation character ("\\.") is itself
            i += 2
            continue
        if c in _META:
            break
        out.append(c)
        i += 1
    if out and i < len(pattern) and pattern[i] in _QUANTIFIERS:
        out.pop()  # "connections?": the last character is optional
    return "".join(out)


def _top_level_alternation(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


class PhraseIndex:
    def __init__(self, tables: Sequence[PhraseTable]) -> None:
        self.tables = tuple(tables)
        self.by_word: dict[str, list[tuple[int, int, str]]] = {}
        self.by_start: dict[str, list[tuple[int, int, str]]] = {}
        self.always: list[tuple[int, int, str]] = []
        for t, table in enumerate(self.tables):
            for p, phrase in enumerate(table.phrases):
                entry = (t, p, phrase)
                words = phrase.split(" ")
                inner = [w for w in words[1:-1] if w]
                if inner:
                    self.by_word.setdefault(max(inner, key=len), []).append(entry)
                elif len(words) == 2 and len(words[1]) >= START_CHARS:
                    self.by_start.setdefault(words[1][:START_CHARS], []).append(entry)
                else:
                    self.always.append(entry)
        self.words = frozenset(self.by_word)
        self.starts = frozenset(self.by_start)
        self.patterns = tuple(
            tuple((rx, literal_prefix(rx)) for rx in table.patterns) for table in self.tables
        )

    def match(self, text: str) -> tuple[str, str] | None:
        words = text.split(" ")
        candidates = [self.always]
        candidates.extend(self.by_word[w] for w in self.words.intersection(words))
        starts = {w[:START_CHARS] for w in words}
        candidates.extend(self.by_start[s] for s in self.starts.intersection(starts))
        first: dict[int, int] = {}  # table -> lowest position of a phrase found in the text
        for t, p, _phrase in [entry for group in candidates for entry in group if entry[2] in text]:
            if p < first.get(t, p + 1):
                first[t] = p
        for t, table in enumerate(self.tables):
            found = first.get(t)
            if found is not None:
                return table.reason, table.phrases[found]
            for rx, needle in self.patterns[t]:
                if needle and needle not in text:
                    continue
                m = rx.search(text)
                if m:
                    return table.reason, m.group(0)
        return None
