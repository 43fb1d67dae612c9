"""Recognise a big provider's reply (Gmail, Microsoft, Yahoo/AOL, iCloud, Yandex, Mail.ru).

Two kinds of evidence, combined by `recognize`:
- context: who answered. The remote host name ("gmail-smtp-in.l.google.com",
  "*.protection.outlook.com", "mta5.am0.yahoodns.net", "mx01.mail.icloud.com", "mx.yandex.ru",
  "mxs.mail.ru") or a signature in the text (Gmail ends its replies with "- gsmtp", Microsoft
  names "*.prod.outlook.com" hosts, Yandex links "ya.cc", ...).
- a key phrase of one of the vendor entries of the knowledge base, found as a case-insensitive
  substring (a phrase with "..." or "[IP]" in it matches its parts in order). Phrases are indexed by
  their longest word, so a text is checked only against phrases whose word it contains: no regular
  expression over all phrases, no backtracking, cost linear in the text.

An entry is accepted when its phrase is found and either the context names the same vendor or the
phrase is distinctive on its own (long, or a bracketed vendor tag such as "[TSS04]"); a generic
phrase like "Connection refused" never makes a reply a vendor's by itself. Among accepted entries the
one whose reply code and enhanced code agree with the reply wins. With context but no phrase, an entry
whose enhanced code is the vendor's own (e.g. Microsoft 5.7.708) is still found by code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from smtpdiag.knowledge.loader import load_entries
from smtpdiag.knowledge.lookup import vendor_code_matcher
from smtpdiag.knowledge.model import CodeEntry

# Only the start of a text is searched (a reply is short; a pasted bounce rarely needs more).
MAX_VENDOR_TEXT = 16 * 1024
# A key phrase this long (or a bracketed tag) identifies its vendor without other context.
DISTINCTIVE_PHRASE_LENGTH = 24

# Host-name suffixes of the providers' MX and outbound hosts (lower case, matched on a dot boundary).
HOST_SUFFIXES: dict[str, tuple[str, ...]] = {
    "gmail": ("google.com", "googlemail.com", "gmail.com", "1e100.net"),
    "microsoft": ("outlook.com", "hotmail.com", "live.com", "msn.com", "office365.com", "microsoft.com"),
    "yahoo": ("yahoodns.net", "yahoo.com", "yahoo.net", "aol.com", "yahoo.co.jp", "aim.com"),
    "apple": ("icloud.com", "me.com", "mac.com", "apple.com"),
    "yandex": ("yandex.ru", "yandex.net", "yandex.com", "ya.ru", "yandex.com.tr", "yandex.by", "yandex.kz"),
    "mailru": ("mail.ru", "list.ru", "bk.ru", "inbox.ru", "internet.ru", "corp.mail.ru"),
}

# Signatures in the reply text itself (lower case substrings).
TEXT_SIGNATURES: dict[str, tuple[str, ...]] = {
    "gmail": ("gsmtp", "support.google.com", "google.com/mail", "gmail"),
    "microsoft": (
        "protection.outlook.com",
        "prod.outlook.com",
        "outlook.com",
        "hotmail.com",
        "office365",
        "exchange online",
        "microsoft",
    ),
    "yahoo": ("yahoo", "aol.com", "yahoodns.net"),
    "apple": ("icloud", "apple.com"),
    "yandex": ("yandex", "ya.cc"),
    "mailru": ("mail.ru", "mailru", "corp.mail.ru"),
}

_WORD_RE = re.compile(r"[a-z0-9]{3,40}")
_TAG_RE = re.compile(r"[a-z]{2}-[0-9]{3}")  # Outlook.com's "SC-001", "RP-001", ...
_BRACKET_TAG_RE = re.compile(r"\[[a-z]{2,5}[0-9]{1,3}\]")  # Yahoo's "[TSS04]", iCloud's "[CS01]"
_ADDRESS_RE = re.compile(r"[^\s<>\"'(),;:@]{1,64}@[a-z0-9.\-]{1,255}")
_GAP_RE = re.compile(r"\s*(?:\.\.\.|…|\[ip\])\s*")

EvidenceKind = Literal["phrase", "tag", "code", "host", "host-in-text", "signature"]

_EVIDENCE_EN: dict[str, str] = {
    "phrase": 'key phrase "{}"',
    "tag": "tag {}",
    "code": "code {}",
    "host": 'host "{}"',
    "host-in-text": 'host "*.{}" in the text',
    "signature": '"{}" in the text',
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One reason to believe a reply is a provider's: what kind of evidence, and its value."""

    kind: EvidenceKind
    value: str

    def __str__(self) -> str:
        return _EVIDENCE_EN[self.kind].format(self.value)


@dataclass(frozen=True, slots=True)
class VendorMatch:
    """A recognised vendor reply: the entry, the vendor, and what the recognition rests on."""

    entry: CodeEntry | None  # None when only the vendor is known (host or signature), not the reply
    vendor: str  # "gmail", "microsoft", ...
    vendor_name: str
    evidence: tuple[Evidence, ...]  # strongest first

    @property
    def by(self) -> tuple[str, ...]:
        """The evidence in English words, e.g. ('key phrase "..."', 'host "mx.yandex.ru"')."""
        return tuple(str(e) for e in self.evidence)


@dataclass(frozen=True, slots=True)
class _Phrase:
    entry: CodeEntry
    parts: tuple[str, ...]  # lower-case fragments that must appear in this order
    distinctive: bool
    length: int
    tag: str = ""  # set when the match is on the provider's tag alone ("TSS04")


@cache
def _phrase_index() -> dict[str, tuple[_Phrase, ...]]:
    index: dict[str, list[_Phrase]] = {}
    for entry in load_entries("vendor"):
        phrase = entry.key_phrase.strip().lower()
        if not phrase:
            continue
        parts = tuple(p for p in _GAP_RE.split(phrase) if p)
        if not parts:
            continue
        words = [w for p in parts for w in _WORD_RE.findall(p)]
        if not words:
            continue
        key = max(words, key=len)
        tagged = phrase.startswith("[") or bool(_TAG_RE.fullmatch(phrase))
        length = sum(len(p) for p in parts)
        item = _Phrase(entry, parts, tagged or length >= DISTINCTIVE_PHRASE_LENGTH, length)
        index.setdefault(key, []).append(item)
        tag = _BRACKET_TAG_RE.match(phrase)
        if tag and tag.group(0) != phrase:
            # the provider's tag alone ("[TSS04]") identifies the reply even when the wording around
            # it differs from the documented phrase ("[TSS04] Messages from 192.0.2.1 temporarily ...")
            tag_key = max(_WORD_RE.findall(tag.group(0)) or [key], key=len)
            index.setdefault(tag_key, []).append(
                _Phrase(entry, (tag.group(0),), True, len(tag.group(0)) // 2, tag.group(0).upper())
            )
    return {k: tuple(v) for k, v in index.items()}


@cache
def _vendor_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for e in load_entries("vendor"):
        names.setdefault(e.vendor, e.vendor_name or e.vendor)
    return names


def vendor_name(vendor: str) -> str:
    return _vendor_names().get(vendor, vendor)


_SUFFIX_VENDOR: dict[str, str] = {suffix: vendor for vendor, sfx in HOST_SUFFIXES.items() for suffix in sfx}


def vendor_from_host(host: str | None) -> str | None:
    """The vendor whose domain a host name belongs to ("mx.yandex.ru" -> "yandex"), or None."""
    if not host:
        return None
    name = host.strip().strip("[]").rstrip(".").lower()[:255]
    # try the name's own suffixes, longest first: "a.b.mail.ru" -> "b.mail.ru", "mail.ru", "ru"
    pos = 0
    while True:
        vendor = _SUFFIX_VENDOR.get(name[pos:])
        if vendor is not None:
            return vendor
        pos = name.find(".", pos) + 1
        if pos <= 0:
            return None


@cache
def _needles() -> tuple[tuple[str, str, Evidence], ...]:
    """(needle, vendor, evidence) for every text signature and host suffix, checked as substrings."""
    out: list[tuple[str, str, Evidence]] = []
    for vendor, signatures in TEXT_SIGNATURES.items():
        out.extend((sig, vendor, Evidence("signature", sig)) for sig in signatures)
    for vendor, suffixes in HOST_SUFFIXES.items():
        # "." + suffix: a host name in the text such as "mx.yandex.ru" or "gmail-smtp-in.l.google.com"
        out.extend(("." + suffix, vendor, Evidence("host-in-text", suffix)) for suffix in suffixes)
    return tuple(out)


def _context(low: str, host: str | None) -> tuple[dict[str, Evidence], str | None]:
    """Vendors the context points at, with the evidence for each; and the vendor of `host`."""
    found: dict[str, Evidence] = {}
    host_vendor = vendor_from_host(host)
    if host_vendor and host:
        found[host_vendor] = Evidence("host", host.strip()[:255])
    for needle, vendor, evidence in _needles():
        if vendor not in found and needle in low:
            found[vendor] = evidence
    return found, host_vendor


def _phrase_found(parts: tuple[str, ...], low: str) -> bool:
    pos = 0
    for part in parts:
        pos = low.find(part, pos)
        if pos < 0:
            return False
        pos += len(part)
    return True


def recognize(
    text: str,
    *,
    reply_code: int | str | None = None,
    enhanced: str | None = None,
    host: str | None = None,
) -> VendorMatch | None:
    """The best vendor reading of a reply, or None when nothing points at one of the providers."""
    low = text[:MAX_VENDOR_TEXT].lower()
    # a mail address names the recipient's or sender's provider, not the server that replied
    context, host_vendor = _context(_ADDRESS_RE.sub(" ", low) if "@" in low else low, host)
    words = set(_WORD_RE.findall(low))
    index = _phrase_index()
    best: tuple[float, _Phrase] | None = None
    for word in words:
        for ph in index.get(word, ()):
            if not _phrase_found(ph.parts, low):
                continue
            in_context = ph.entry.vendor in context
            if not (in_context or ph.distinctive):
                continue
            score = _score(ph.entry, reply_code, enhanced) + ph.length / 100.0
            if in_context:
                score += 10.0
            if ph.entry.vendor == host_vendor:
                score += 5.0
            if best is None or score > best[0]:
                best = (score, ph)
    if best is not None:
        entry = best[1].entry
        by = [Evidence("tag", best[1].tag) if best[1].tag else Evidence("phrase", entry.key_phrase)]
        if entry.vendor in context:
            by.append(context[entry.vendor])
        return VendorMatch(entry, entry.vendor, vendor_name(entry.vendor), tuple(by))
    if not context:
        return None
    # the vendor is known from context; find its entry by code alone (only vendor-specific codes)
    vendor = host_vendor or next(iter(context))
    by_code = _entry_by_code(vendor, enhanced)
    evidence = [context[vendor]]
    if by_code is not None and enhanced:
        evidence.insert(0, Evidence("code", enhanced))
    return VendorMatch(by_code, vendor, vendor_name(vendor), tuple(evidence))


def _score(entry: CodeEntry, reply_code: int | str | None, enhanced: str | None) -> float:
    m = vendor_code_matcher(entry)
    score = 0.0
    if reply_code is not None and m.reply_codes:
        score += 2.0 if m.matches_reply(reply_code) else -2.0
    if enhanced and m.has_enhanced:
        score += 3.0 if m.matches_enhanced(enhanced) else -1.5
    return score


@cache
def _entry_by_code(vendor: str, enhanced: str | None) -> CodeEntry | None:
    """A vendor entry identified by its enhanced code alone, when no other entry of the vendor
    shares that code (e.g. Microsoft 5.7.708, but not Gmail 5.7.1, which has many meanings)."""
    if not enhanced:
        return None
    hits = [
        e
        for e in load_entries("vendor")
        if e.vendor == vendor and vendor_code_matcher(e).matches_enhanced(enhanced)
    ]
    if len(hits) == 1:
        return hits[0]
    return None
