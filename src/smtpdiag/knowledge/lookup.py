"""Find knowledge-base entries by code: `lookup("550")`, `lookup("5.7.1")`, `lookup_vendor("gmail")`.

Codes are normalised first (`normalize_code`): a basic reply code is three digits ("550"), an enhanced
status code is class.subject.detail ("5.7.1"; "X" stands for any class or subject: "X.7.1",
"5.X.X", "X.7.X"). A well-formed enhanced code finds its own entry when the knowledge base has one
("5.7.1"), otherwise the entry shared by both classes ("X.7.1"). `enhanced_chain` gives the detail,
subject and class entries together, which is what an explanation needs for a code the registry
does not list (e.g. "5.7.999": still "security or policy", still "permanent").

All indexes are built once, on first use (the data files are read once per process).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from smtpdiag.knowledge.loader import load_entries, load_reasons
from smtpdiag.knowledge.model import CodeEntry, ReasonEntry

CodeKind = Literal["basic", "enhanced"]

# A code given by a user is short; anything longer is refused before any pattern runs.
MAX_CODE_LENGTH = 32

_BASIC_RE = re.compile(r"[1-5][0-9]{2}")
_ENHANCED_RE = re.compile(r"([245xX])\.([0-9]{1,3}|[xX])\.([0-9]{1,3}|[xX])")
# vendor "enhanced_code" fields: "5.7.26", "4.7.500-699", "5.4.6 / 5.4.14", or a tag such as "RP-001"
_VENDOR_CODE_RE = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?:-([0-9]{1,3}))?")


class InvalidCodeError(ValueError):
    """The text given is not a reply code ("550") nor an enhanced status code ("5.7.1")."""


@dataclass(frozen=True, slots=True)
class NormalizedCode:
    kind: CodeKind
    code: str  # "550", "5.7.1", "X.7.1", "5.X.X"


def normalize_code(code: str | int) -> NormalizedCode:
    """Canonical form of a code, or InvalidCodeError saying precisely what is wrong with it."""
    if isinstance(code, bool):
        raise InvalidCodeError(f"not a code: {code!r}")
    if isinstance(code, int):
        code = str(code)
    text = code.strip()
    if not text:
        raise InvalidCodeError("empty code")
    if len(text) > MAX_CODE_LENGTH:
        raise InvalidCodeError(f"not a code (longer than {MAX_CODE_LENGTH} characters)")
    if text.isdigit():
        if len(text) != 3:
            raise InvalidCodeError(f"{text!r}: a reply code has exactly three digits, e.g. 550")
        if not _BASIC_RE.fullmatch(text):
            raise InvalidCodeError(f"{text!r}: the first digit of a reply code is 1 to 5 (2-5 in RFC 5321)")
        return NormalizedCode("basic", text)
    m = _ENHANCED_RE.fullmatch(text)
    if m is None:
        if text.count(".") == 2:
            raise InvalidCodeError(
                f"{text!r}: an enhanced status code is class.subject.detail with class 2, 4 or 5 "
                "and numbers of at most three digits, e.g. 5.7.1 (RFC 3463)"
            )
        raise InvalidCodeError(
            f"{text!r} is not an SMTP code: expected a reply code such as 550 "
            "or an enhanced status code such as 5.7.1"
        )
    cls, subject, detail = (g.upper() if g in "xX" else g for g in m.groups())
    subject = subject if subject == "X" else str(int(subject))
    detail = detail if detail == "X" else str(int(detail))
    if subject == "X" and detail != "X":
        raise InvalidCodeError(f"{text!r}: a detail code needs a subject, e.g. X.7.1")
    return NormalizedCode("enhanced", f"{cls}.{subject}.{detail}")


@cache
def _basic_index() -> dict[str, CodeEntry]:
    return {e.code: e for e in load_entries("basic")}


@cache
def _enhanced_index() -> dict[str, CodeEntry]:
    out: dict[str, CodeEntry] = {}
    for e in load_entries("enhanced"):
        try:
            norm = normalize_code(e.code)
        except InvalidCodeError:
            continue
        out[norm.code] = e
    return out


def lookup(code: str | int) -> CodeEntry | None:
    """The knowledge-base entry for a basic reply code or an enhanced status code, or None.

    `lookup(550)`, `lookup("550")` -> the 550 entry; `lookup("5.7.1")` -> the "5.7.1" entry if there
    is one, else "X.7.1"; `lookup("X.7.X")`, `lookup("5.X.X")` -> subject / class entries.
    Raises InvalidCodeError when `code` is not a code at all.
    """
    norm = normalize_code(code)
    if norm.kind == "basic":
        return _basic_index().get(norm.code)
    return _lookup_enhanced(norm.code)


@cache
def _lookup_enhanced(code: str) -> CodeEntry | None:
    index = _enhanced_index()
    found = index.get(code)
    if found is None and code[0] != "X" and code[2] != "X":
        found = index.get("X" + code[1:])
    return found


@cache
def enhanced_chain(code: str) -> tuple[CodeEntry, ...]:
    """Entries explaining an enhanced code, most specific first: detail, subject ("X.7.X"), class.

    `code` must already be normalised (e.g. from `normalize_code` or a parser); unknown parts are
    skipped, so "5.7.999" gives the subject and class entries.
    """
    try:
        norm = normalize_code(code)
    except InvalidCodeError:
        return ()
    if norm.kind != "enhanced":
        return ()
    cls, subject, detail = norm.code.split(".")
    out: list[CodeEntry] = []
    candidates = []
    if detail != "X":
        candidates.append(norm.code)
    if subject != "X":
        candidates.append(f"X.{subject}.X")
    if cls != "X":
        candidates.append(f"{cls}.X.X")
    for c in candidates:
        entry = _lookup_enhanced(c)
        if entry is not None and entry not in out:
            out.append(entry)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# vendors


@dataclass(frozen=True, slots=True)
class VendorCodeMatcher:
    """What a vendor entry's code fields match: reply codes, exact enhanced codes, detail ranges."""

    reply_codes: frozenset[str]
    enhanced: frozenset[str]
    ranges: tuple[tuple[str, int, int], ...]  # ("4.7", 500, 699)
    tags: frozenset[str]  # non-numeric codes such as "RP-001", upper case

    def matches_enhanced(self, code: str | None) -> bool:
        if not code:
            return False
        if code in self.enhanced:
            return True
        prefix, _, detail = code.rpartition(".")
        if not detail.isdigit():
            return False
        return any(p == prefix and lo <= int(detail) <= hi for p, lo, hi in self.ranges)

    def matches_reply(self, code: int | str | None) -> bool:
        return code is not None and str(code) in self.reply_codes

    @property
    def has_enhanced(self) -> bool:
        return bool(self.enhanced or self.ranges)


def vendor_code_matcher(entry: CodeEntry) -> VendorCodeMatcher:
    """Parse a vendor entry's `reply_code` ("550", "451 or 554") and `enhanced_code` fields."""
    return _matcher(entry.reply_code, entry.enhanced_code)


@cache
def _matcher(reply_code: str, enhanced_code: str) -> VendorCodeMatcher:
    replies = frozenset(re.findall(r"[2-5][0-9]{2}", reply_code[:64]))
    exact: set[str] = set()
    ranges: list[tuple[str, int, int]] = []
    for m in _VENDOR_CODE_RE.finditer(enhanced_code[:64]):
        cls, subject, detail, upper = m.groups()
        if upper is None:
            exact.add(f"{cls}.{int(subject)}.{int(detail)}")
        else:
            ranges.append((f"{cls}.{int(subject)}", int(detail), int(upper)))
    tags: set[str] = set()
    if not exact and not ranges and enhanced_code.strip():
        tags.add(enhanced_code.strip().upper())
    return VendorCodeMatcher(replies, frozenset(exact), tuple(ranges), frozenset(tags))


@cache
def vendor_ids() -> dict[str, str]:
    """vendor id -> vendor name, in data order: {"gmail": "Google Gmail", ...}."""
    out: dict[str, str] = {}
    for e in load_entries("vendor"):
        if e.vendor and e.vendor not in out:
            out[e.vendor] = e.vendor_name or e.vendor
    return out


def resolve_vendor(name: str) -> str | None:
    """A vendor id from an id or a (part of a) vendor name, case-insensitive: "Gmail" -> "gmail"."""
    wanted = name.strip().lower()
    if not wanted:
        return None
    ids = vendor_ids()
    if wanted in ids:
        return wanted
    for vid, vname in ids.items():
        if wanted in vname.lower():
            return vid
    return None


@cache
def _vendor_index() -> dict[str, tuple[CodeEntry, ...]]:
    out: dict[str, list[CodeEntry]] = {}
    for e in load_entries("vendor"):
        out.setdefault(e.vendor, []).append(e)
    return {k: tuple(v) for k, v in out.items()}


def lookup_vendor(vendor: str | None = None, code: str | int | None = None) -> tuple[CodeEntry, ...]:
    """Vendor entries, optionally of one vendor (id or name) and/or for one code.

    `code` is a reply code ("550"), an enhanced code ("5.7.26"; ranges such as Microsoft's
    "4.7.500-699" match any code inside) or a vendor tag ("RP-001", "TSS04").
    An unknown vendor name gives an empty tuple.
    """
    if vendor is not None:
        vid = resolve_vendor(vendor)
        if vid is None:
            return ()
        entries: Iterable[CodeEntry] = _vendor_index().get(vid, ())
    else:
        entries = load_entries("vendor")
    if code is None:
        return tuple(entries)
    wanted = str(code).strip()
    norm: NormalizedCode | None
    try:
        norm = normalize_code(wanted)
    except InvalidCodeError:
        norm = None
    out = []
    for e in entries:
        m = vendor_code_matcher(e)
        if norm is not None and norm.kind == "basic":
            hit = m.matches_reply(norm.code)
        elif norm is not None:
            hit = m.matches_enhanced(norm.code)
        else:
            tag = wanted.upper()
            hit = tag in m.tags or (len(tag) >= 3 and tag in e.key_phrase.upper())
        if hit:
            out.append(e)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# listing for `smtpdiag codes`

ListKind = Literal["basic", "enhanced", "vendor"]


def _sort_key(entry: CodeEntry) -> tuple[int, tuple[int, ...], str]:
    kind_rank = {"basic": 0, "enhanced-class": 1, "enhanced-subject": 2, "enhanced": 3, "vendor": 4}
    numbers = tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.\-: /]", entry.code) if p)
    return kind_rank.get(entry.kind, 9), numbers, entry.code


def entry_class(entry: CodeEntry) -> str | None:
    """The class digit ("2", "4", "5") an entry belongs to, or None when it spans classes (X.1.1)."""
    code = (entry.enhanced_code or entry.reply_code) if entry.kind == "vendor" else entry.code
    first = code[:1]
    return first if first in "12345" and first else None


def list_codes(
    *,
    kind: ListKind | None = None,
    cls: str | None = None,
    standard: bool | None = None,
    vendor: str | None = None,
) -> list[CodeEntry]:
    """Entries for the `codes` table, filtered.

    kind: basic | enhanced (detail, subject and class entries) | vendor. cls: "2", "4" or "5"
    (entries valid for both classes, such as X.1.1, are kept). standard: True keeps standard and
    registered codes, False keeps non-standard, registry-only and unregistered ones. vendor: an id
    or name; implies vendor entries.
    """
    entries: list[CodeEntry] = []
    if vendor is not None:
        entries.extend(lookup_vendor(vendor))
        if kind is not None and kind != "vendor":
            entries = []
    else:
        if kind in (None, "basic"):
            entries.extend(load_entries("basic"))
        if kind in (None, "enhanced"):
            entries.extend(load_entries("enhanced"))
        if kind in (None, "vendor"):
            entries.extend(load_entries("vendor"))
    if cls is not None:
        entries = [e for e in entries if entry_class(e) in (cls, None)]
    if standard is not None:
        entries = [e for e in entries if (e.standing == "standard") == standard]
    if vendor is None:
        entries.sort(key=_sort_key)
    return entries


def all_entries() -> tuple[CodeEntry, ...]:
    """Every entry of the knowledge base: basic, enhanced, vendor."""
    return load_entries("basic") + load_entries("enhanced") + load_entries("vendor")


def reason_entry(name: str | None) -> ReasonEntry | None:
    """The explanation of a bounce reason (Sisimai vocabulary), or None."""
    if not name:
        return None
    return load_reasons().get(name)
