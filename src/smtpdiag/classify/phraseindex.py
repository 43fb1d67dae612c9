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
most the length of the longest phrase, so a hostile text costs linear time. (What makes a scan
cheaper, measured on the corpus: phrases that start with a common character are scanned for by
their rest, and the phrases are split between two regexes by their first character.)

`PhraseIndex` keeps the tables' priority: the phrase found with the lowest (table, position) wins,
and a table's regexes are tried (after its phrases, as `ReasonPhrases.find` does) only for the
tables before that one, and only when the scan found the regex's gate (the longest string every
match of it contains). A caller that scans a text for other phrases too passes what one scan found
(`match_found`). tests/test_phraseindex.py checks the answers against the tables' own in-order
`find` on the corpus and on generated texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Final, Protocol

from smtpdiag.classify.regexcache import compile_cached

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


def required_literals(rx: re.Pattern[str]) -> tuple[str, ...]:
    """Strings every match of `rx` contains: its literal runs outside groups, longest first (then A-Z).

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
    return tuple(sorted({r for r in runs if r}, key=lambda r: (-len(r), r)))


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


def longest_match_regex(phrases: Iterable[str]) -> str:
    """A regex source matching, at a position, the longest of `phrases` that starts there.

    The phrases form a trie, written as a regex: each node is an alternation of its children, which
    all start with different characters, so at most one can go on (a chain of single children is
    written as one literal). A node where a phrase ends makes its continuation optional, greedily:
    the engine ends there only when no longer phrase matches.
    """
    return _trie_regex(sorted({p for p in phrases if p}), 0)


def _trie_regex(words: list[str], start: int) -> str:
    """The regex of the trie node reached by `words[0][:start]`, which all of `words` (sorted) share."""
    terminal = len(words[0]) == start  # a phrase ends here (the shortest word sorts first)
    rest = words[1:] if terminal else words
    branches: list[str] = []
    i = 0
    while i < len(rest):
        j = i + 1
        while j < len(rest) and rest[j][start] == rest[i][start]:
            j += 1
        # the child's chain: what all its words share (for sorted words, the first's and last's)
        first, last = rest[i], rest[j - 1]
        end = start + 1
        while end < min(len(first), len(last)) and first[end] == last[end]:
            end += 1
        branches.append(re.escape(first[start:end]) + _trie_regex(rest[i:j], end))
        i = j
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if not terminal:
        return body
    return ("(?:" + body + ")" if len(branches) == 1 else body) + "?"


# Characters found at many positions of a text: the space between words, the dots of host names and
# status codes, and the commonest letters of English. The regex engine tries every position whose
# character starts a phrase, so a phrase that starts with these is scanned for without them (by its
# rest after them, its scan key) and confirmed by a comparison where that rest was found. (Fewer
# positions tried, few more matches: about 15% less time per scan of the corpus texts.)
_COSTLY_STARTS: Final = " .etaos"
# The most common letters of English text. The keys starting with one of them get a regex of their
# own: at each position whose character starts some key, the regex engine tries the alternatives of
# the top-level branch one after another, so two branches of half the width, each tried only at the
# positions of its own characters, cost less than one wide branch (about a fifth less per scan).
_COMMON_STARTS: Final = frozenset("etaoinsrhldcum")


# A scan key is cut this many characters after the point where it differs from every other key:
# the rest of a long phrase (vendor replies run to 70 characters) is confirmed by a string
# comparison where its start was found instead of being spelled out in the regex. The regex is
# then a third smaller and ~3 ms cheaper to compile in each process, and the few extra comparisons
# cost next to nothing per scan (a cut key is found almost only where its phrase is).
_KEY_MARGIN: Final = 8


def _shortened(keys: list[str]) -> dict[str, str]:
    """Each of `keys` (sorted, distinct) -> itself, or its first characters when it is long.

    A key is cut `_KEY_MARGIN` characters after its longest common prefix with any other key, so
    the cut keys stay distinct and no key is cut to (a prefix of) another.
    """
    shared = [_common_prefix_length(a, b) for a, b in pairwise(keys)]
    out: dict[str, str] = {}
    for i, key in enumerate(keys):
        before = shared[i - 1] if i > 0 else 0
        after = shared[i] if i < len(shared) else 0
        out[key] = key[: max(before, after) + 1 + _KEY_MARGIN]
    return out


def _common_prefix_length(a: str, b: str) -> int:
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


class PhraseScanner:
    """The phrases of a fixed set that occur in a text (as substrings), in one regex pass.

    The regex engine tries each position of the text whose character starts a phrase, so phrases
    starting with a common character (`_COSTLY_STARTS`) are looked for by the rest of their text,
    and long phrases by their first characters (`_shortened`): that is their scan key. A phrase
    that is not its own scan key is confirmed by a comparison at the place its key was found.
    """

    def __init__(self, phrases: Iterable[str], cache_name: str | None = None) -> None:
        """`cache_name`: keep the compiled regexes in the cache directory under this name, for the
        next processes (`regexcache`; worth it for a large set that every process scans with)."""
        self.known = frozenset(p for p in phrases if p)
        # phrase -> the text it is looked for by: without its costly first characters, if any
        rests = {phrase: phrase.lstrip(_COSTLY_STARTS) or phrase for phrase in self.known}
        scan_keys = _shortened(sorted(set(rests.values())))
        plain: set[str] = set()  # phrases that are their own scan key
        checked: dict[str, list[tuple[str, int]]] = {}  # scan key -> (phrase, where it starts before)
        for phrase, rest in rests.items():
            key = scan_keys[rest]
            if key == phrase:
                plain.add(phrase)
            else:
                checked.setdefault(key, []).append((phrase, len(phrase) - len(rest)))
        keys = sorted(plain | set(checked))
        groups = (
            [k for k in keys if k[0] in _COMMON_STARTS],
            [k for k in keys if k[0] not in _COMMON_STARTS],
        )
        self.regexes = tuple(
            re.compile(source) if cache_name is None else compile_cached(source, f"{cache_name}-{i}")
            for i, source in enumerate(longest_match_regex(group) for group in groups if group)
        )
        # When a key is the longest at a position, the keys found there are its prefixes: those
        # that are phrases are found (`direct`); the other phrases of each need a comparison at the
        # position (`checks`: the phrase, and how many characters before the key it starts).
        self.direct: dict[str, tuple[str, ...]] = {}
        self.checks: dict[str, tuple[tuple[str, int], ...]] = {}
        # The keys that are prefixes of a key come before it in sorted order, and every key
        # between such a prefix and the key starts with that prefix too: so, going through the
        # keys in order, a stack holds the keys that are prefixes of the current one (shortest
        # first), without trying every prefix of every key (this runs at start-up).
        prefixes: list[str] = []
        for key in keys:
            while prefixes and not key.startswith(prefixes[-1]):
                prefixes.pop()
            prefixes.append(key)
            self.direct[key] = tuple(k for k in prefixes if k in plain)
            self.checks[key] = tuple(sorted(c for k in prefixes for c in checked.get(k, ())))

    def longest(self, text: str) -> list[str]:
        """The longest scan key starting at each position of `text` where one starts."""
        out: list[str] = []
        for regex in self.regexes:
            search = regex.search
            m = search(text)
            while m is not None:
                out.append(m.group())
                m = search(text, m.start() + 1)
        return out

    def found(self, text: str) -> set[str]:
        """Every phrase of the set that occurs in `text`."""
        hits: set[str] = set()
        direct, checks = self.direct, self.checks
        for regex in self.regexes:  # the loop of `longest`, without building its list
            search = regex.search
            m = search(text)
            while m is not None:
                key = m.group()
                start = m.start()
                hits.update(direct[key])
                for phrase, before in checks[key]:
                    at = start - before
                    if at >= 0 and text.startswith(phrase, at):
                        hits.add(phrase)
                m = search(text, start + 1)
        return hits


def pattern_gate(rx: re.Pattern[str]) -> str:
    """The longest string every match of `rx` contains ("" if none): where it is absent, skip `rx`."""
    literals = [lit for lit in required_literals(rx) if lit.strip()]
    return literals[0] if literals else ""


def vocabulary(tables: Sequence[PhraseTable]) -> list[str]:
    """What a scanner must know to serve a PhraseIndex of `tables`: their phrases, their regexes' gates."""
    return [
        *(p for table in tables for p in table.phrases),
        *(gate for table in tables for rx in table.patterns if (gate := pattern_gate(rx))),
    ]


class PhraseIndex:
    """The first table (in priority order) whose phrases or patterns occur in a text."""

    def __init__(self, tables: Sequence[PhraseTable], scanner: PhraseScanner | None = None) -> None:
        """`scanner`: for `match`, one shared with other tables; it must know `vocabulary(tables)`.

        Without one, `match` builds its own the first time it is needed (callers that scan their
        texts themselves and use `match_found` never need it)."""
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
        if scanner is not None:
            missing = [p for p in vocabulary(self.tables) if p and p not in scanner.known]
            if missing:
                raise ValueError(f"the scanner does not know {missing[:3]!r}")
        self.scanner = scanner
        # Every regex in priority order, with its table; those with a gate (a string every match
        # contains) filed under it, so only the regexes whose gate a text has are tried.
        self.patterns: tuple[tuple[int, re.Pattern[str]], ...] = tuple(
            (t, rx) for t, table in enumerate(self.tables) for rx in table.patterns
        )
        self.ungated: tuple[int, ...] = ()
        gated: dict[str, list[int]] = {}
        for i, (_t, rx) in enumerate(self.patterns):
            gate = pattern_gate(rx)
            if gate:
                gated.setdefault(gate, []).append(i)
            else:
                self.ungated += (i,)
        self.gated: dict[str, tuple[int, ...]] = {gate: tuple(ids) for gate, ids in gated.items()}

    def match(self, text: str) -> tuple[str, str] | None:
        if self.scanner is None:
            self.scanner = PhraseScanner(vocabulary(self.tables))
        return self.match_found(text, self.scanner.found(text))

    def match_found(self, text: str, found: set[str]) -> tuple[str, str] | None:
        """`match(text)`, given `found`: what `self.scanner` (or one that knows more) found in `text`."""
        best = self.always_rank
        rank = self.rank
        gated = self.gated
        candidates: list[int] = []  # the regexes whose gate is in the text
        for phrase in found:
            r = rank.get(phrase)
            if r is not None and (best is None or r < best):
                best = r
            ids = gated.get(phrase)
            if ids is not None:
                candidates.extend(ids)
        if candidates or self.ungated:
            # the tables before the best phrase's, regexes in priority order (after its table's phrases)
            last = len(self.tables) if best is None else best // _TABLE_STRIDE
            for i in sorted({*candidates, *self.ungated}):
                t, rx = self.patterns[i]
                if t >= last:
                    break
                m = rx.search(text)
                if m:
                    return self.tables[t].reason, m.group(0)
        if best is None:
            return None
        table = self.tables[best // _TABLE_STRIDE]
        return table.reason, table.phrases[best % _TABLE_STRIDE]
