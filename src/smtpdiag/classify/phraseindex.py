"""Which phrases of fixed tables occur in a text, found in one pass of the regex engine.

    PhraseIndex(tables).match(text) == the first (table.reason, table.find(text)) that is not None

`phrases.match_reason` asks which of ~850 phrases (plus a few regexes) occur in every diagnostic,
and the classifier asks the same of a few smaller phrase lists. Testing each phrase with `in`
costs a call per phrase. Instead, all the phrases are compiled into one regular expression shaped
like a trie (phrases sharing a prefix share its branch), so at each position of the text the
regex engine follows one path and ends at the longest phrase that starts there. Every phrase that
occurs starts at some position, and the phrases starting at a position are the prefixes of the
longest one found there; so the prefixes of the phrases found at each position are exactly the
phrases the text contains (`PhraseScanner.found`). The regex has no repetition: a position costs at
most the length of the longest phrase, so a hostile text costs linear time.

`PhraseIndex` keeps the tables' priority: the phrase found with the lowest (table, position) wins,
and a table's regexes are tried (after its phrases, as `ReasonPhrases.find` does) only for the
tables before that one. A regex that begins with a literal (after an optional `\\b`) only runs
when that literal occurs in the text. tests/test_phraseindex.py checks the answers against the
tables' own in-order `find` on the corpus and on generated texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final, Protocol

_META: Final = frozenset("\\.^$*+?{}[]|()")
_QUANTIFIERS: Final = frozenset("?*{")
_REPEATS: Final = _QUANTIFIERS | {"+"}
# Rank of a phrase: table * _TABLE_STRIDE + position in its table (one int compares fastest).
_TABLE_STRIDE: Final = 1 << 20


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


def required_literals(rx: re.Pattern[str]) -> tuple[str, ...]:
    """Strings every match of `rx` contains: its literal runs outside groups, longest first.

    A text that lacks one of them cannot match, so the regex need not run on it. Only what is
    certain is returned: nothing for a top-level alternation or a case-insensitive regex; a
    character made optional by a quantifier, or followed by `+`, ends its run.
    """
    if rx.flags & (re.IGNORECASE | re.VERBOSE) or _top_level_alternation(rx.pattern):
        return ()
    pattern = rx.pattern
    runs: list[str] = []
    run: list[str] = []
    depth, i = 0, 0
    while i < len(pattern):
        c = pattern[i]
        if depth == 0 and c in _REPEATS and run:
            if c != "+":
                run.pop()  # "s?": the character may be absent
            runs.append("".join(run))
            run = []
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            i += 2
            if depth == 0 and nxt.isascii() and not nxt.isalnum():
                run.append(nxt)  # an escaped punctuation character ("\\.") is itself
            else:
                runs.append("".join(run))  # a class (\\d), or a zero-width assertion (\\b)
                run = []
            continue
        if c == "[":
            i = _class_end(pattern, i)
        elif c == "{":
            i = pattern.find("}", i) if "}" in pattern[i:] else len(pattern)
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and c not in _META and c != "+":
            run.append(c)
            i += 1
            continue
        runs.append("".join(run))
        run = []
        i += 1
    runs.append("".join(run))
    return tuple(sorted({r for r in runs if r}, key=len, reverse=True))


def _class_end(pattern: str, start: int) -> int:
    """The index of the "]" that closes the character class opened at `start`."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # "[]...]": a leading "]" is a member
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i


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


class _TrieNode:
    __slots__ = ("children", "terminal")

    def __init__(self) -> None:
        self.children: dict[str, _TrieNode] = {}
        self.terminal = False


def longest_match_regex(phrases: Iterable[str]) -> str:
    """A regex source matching, at a position, the longest of `phrases` that starts there.

    The phrases form a trie; each node becomes an alternation of its children, which all start
    with different characters, so at most one can go on. A node where a phrase ends makes its
    continuation optional, greedily: the engine ends there only when no longer phrase matches.
    """
    root = _TrieNode()
    for phrase in phrases:
        node = root
        for char in phrase:
            child = node.children.get(char)
            if child is None:
                child = node.children[char] = _TrieNode()
            node = child
        node.terminal = True
    return _node_regex(root)


def _node_regex(node: _TrieNode) -> str:
    branches = [re.escape(char) + _node_regex(child) for char, child in sorted(node.children.items())]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if not node.terminal:
        return body
    return ("(?:" + body + ")" if len(branches) == 1 else body) + "?"


class PhraseScanner:
    """The phrases of a fixed set that occur in a text (as substrings), in one regex pass."""

    def __init__(self, phrases: Iterable[str]) -> None:
        vocabulary = sorted({p for p in phrases if p})
        self.regex = re.compile(longest_match_regex(vocabulary)) if vocabulary else None
        known = frozenset(vocabulary)
        # The phrases found when a given one is the longest at its position: its prefixes.
        self.prefixes: dict[str, tuple[str, ...]] = {
            p: tuple(p[:n] for n in range(1, len(p) + 1) if p[:n] in known) for p in vocabulary
        }

    def longest(self, text: str) -> list[str]:
        """The longest phrase starting at each position of `text` where one starts, in order."""
        out: list[str] = []
        if self.regex is None:
            return out
        search = self.regex.search
        m = search(text)
        while m is not None:
            out.append(m.group())
            m = search(text, m.start() + 1)
        return out

    def found(self, text: str) -> set[str]:
        """Every phrase of the set that occurs in `text`."""
        hits: set[str] = set()
        for phrase in self.longest(text):
            hits.update(self.prefixes[phrase])
        return hits


class PhraseIndex:
    """The first table (in priority order) whose phrases or patterns occur in a text."""

    def __init__(self, tables: Sequence[PhraseTable], scanner: PhraseScanner | None = None) -> None:
        """`scanner`: one shared with other tables (its phrases must include these tables' own)."""
        self.tables = tuple(tables)
        self.rank: dict[str, int] = {}  # phrase -> lowest rank among its table entries
        self.always_rank: int | None = None  # the rank of an empty phrase, found in any text
        for t, table in enumerate(self.tables):
            for p, phrase in enumerate(table.phrases):
                rank = t * _TABLE_STRIDE + p
                if not phrase:
                    self.always_rank = rank if self.always_rank is None else min(self.always_rank, rank)
                elif phrase not in self.rank:
                    self.rank[phrase] = rank
        self.scanner = scanner if scanner is not None else PhraseScanner(self.rank)
        missing = [p for p in self.rank if p not in self.scanner.prefixes]
        if missing:
            raise ValueError(f"the scanner does not know {missing[:3]!r}")
        # each regex with the strings it needs (a lone space is in every text: not worth a test)
        self.patterns = tuple(
            tuple((rx, tuple(lit for lit in required_literals(rx) if lit.strip())) for rx in table.patterns)
            for table in self.tables
        )

    def match(self, text: str) -> tuple[str, str] | None:
        return self.match_found(text, self.scanner.found(text))

    def match_found(self, text: str, found: set[str]) -> tuple[str, str] | None:
        """`match(text)`, given `found`: the phrases of `self.scanner` that occur in `text`."""
        best = self.always_rank
        rank = self.rank
        for phrase in found:
            r = rank.get(phrase)
            if r is not None and (best is None or r < best):
                best = r
        last = len(self.tables) if best is None else best // _TABLE_STRIDE
        for t in range(last):
            for rx, needs in self.patterns[t]:
                if not _contains_all(text, needs):
                    continue
                m = rx.search(text)
                if m:
                    return self.tables[t].reason, m.group(0)
        if best is None:
            return None
        table = self.tables[best // _TABLE_STRIDE]
        return table.reason, table.phrases[best % _TABLE_STRIDE]


def _contains_all(text: str, needles: tuple[str, ...]) -> bool:
    # a plain loop, not all(...): no generator object per test on this hot path
    for needle in needles:  # noqa: SIM110
        if needle not in text:
            return False
    return True
