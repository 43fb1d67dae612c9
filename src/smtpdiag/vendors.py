"""Recognise a big provider's reply (Gmail, Microsoft, Yahoo/AOL, iCloud, Yandex, Mail.ru).

The one recogniser of the project: `explain` and the classifier (hence bounce analysis) both call
`recognize`, so the provider entry a diagnosis shows is the one the bounce reason came from.

Evidence, combined by `recognize`:
- context: who answered. A provider the caller already knows (`vendor=`, e.g. a bounce format that
  only Gmail writes), the remote host name ("gmail-smtp-in.l.google.com", "*.protection.outlook.com",
  "mta5.am0.yahoodns.net", "mx01.mail.icloud.com", "mx.yandex.ru", "mxs.mail.ru") or a signature in
  the text (Gmail ends its replies with "- gsmtp", Microsoft names "*.prod.outlook.com" hosts and
  "RESOLVER.ADR" errors, Yandex links "ya.cc", ...). A mail address in the text is not context: it
  names the recipient's or the sender's provider, not the server that replied.
- a key phrase of one of the vendor entries of the knowledge base, found as a case-insensitive
  substring with whitespace runs collapsed (a phrase with "..." or "[IP]" in it matches its parts in
  order). Phrases are indexed by their longest word, so a text is checked only against phrases whose
  word it contains: no regular expression over all phrases, no backtracking, cost linear in the text.
  A provider's bracketed tag ("[TSS04]") also matches alone, whatever text sits between the tag and
  the rest of the documented phrase.
- the reply code and enhanced status code, compared with the entry's.

An entry is accepted when its phrase is found and either the context names the same vendor or the
phrase is distinctive on its own: a provider tag, or a long phrase that is not a generic wording (not
the name of a standard code such as "Bad destination mailbox address", not shared by two providers,
not the wording of common MTA software such as Postfix's "Recipient address rejected:"). An entry whose
codes contradict the reply's is accepted only when it is both distinctive and in context. Among the
accepted entries the one in context whose codes agree with the reply wins. With context but no phrase,
an entry whose enhanced code belongs to the vendor alone and is not a registered standard code (e.g.
Microsoft 5.7.708) is found by code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final, Literal

from smtpdiag.knowledge.loader import load_entries
from smtpdiag.knowledge.lookup import VendorCodeMatcher, enhanced_chain, vendor_code_matcher
from smtpdiag.knowledge.model import CodeEntry

# Only the start of a text is searched (a reply is short; a pasted bounce rarely needs more).
MAX_VENDOR_TEXT: Final = 16 * 1024
# A key phrase (or, for a phrase with gaps, its longest part) this long identifies its vendor
# without other context, unless it is a generic wording.
DISTINCTIVE_PHRASE_LENGTH: Final = 24

# Mail addresses taken out of a text before looking for a provider's name in it (a reply names
# one or two; a text with more "@" than this is not a reply).
MAX_ADDRESSES: Final = 32

# Host-name suffixes of the providers' MX and outbound hosts (lower case, matched on a dot boundary).
HOST_SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "gmail": ("google.com", "googlemail.com", "gmail.com", "1e100.net"),
    "microsoft": (
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "office365.com",
        "microsoft.com",
        "onmicrosoft.com",
    ),
    "yahoo": ("yahoodns.net", "yahoo.com", "yahoo.net", "aol.com", "yahoo.co.jp", "aim.com"),
    "apple": ("icloud.com", "me.com", "mac.com", "apple.com"),
    "yandex": ("yandex.ru", "yandex.net", "yandex.com", "ya.ru", "yandex.com.tr", "yandex.by", "yandex.kz"),
    "mailru": ("mail.ru", "list.ru", "bk.ru", "inbox.ru", "internet.ru", "corp.mail.ru"),
}

# Brand names that, as a label of a domain, name the provider under any country domain
# ("hotmail.fr", "yahoo.co.uk", "yandex.ua", "mx.aol.de"): checked when no suffix above matches.
BRAND_LABELS: Final[dict[str, str]] = {
    "gmail": "gmail",
    "googlemail": "gmail",
    "hotmail": "microsoft",
    "outlook": "microsoft",
    "onmicrosoft": "microsoft",
    "yahoo": "yahoo",
    "ymail": "yahoo",
    "aol": "yahoo",
    "icloud": "apple",
    "yandex": "yandex",
}

# Signatures in the reply text itself (lower case substrings).
TEXT_SIGNATURES: Final[dict[str, tuple[str, ...]]] = {
    "gmail": ("gsmtp", "support.google.com", "google.com/mail", "gmail"),
    "microsoft": (
        "protection.outlook.com",
        "prod.outlook.com",
        "outlook.com",
        "hotmail.com",
        "office365",
        "exchange online",
        "microsoft",
        "resolver.adr.",  # Exchange's own error names: "RESOLVER.ADR.RecipNotFound"
    ),
    "yahoo": ("yahoo", "aol.com", "yahoodns.net", "verizonmedia"),
    "apple": ("icloud", "apple.com"),
    "yandex": ("yandex", "ya.cc"),
    "mailru": ("mail.ru", "mailru", "corp.mail.ru"),
}

# Wordings of common MTA software (Postfix's restriction replies, its STARTTLS refusal, the system's
# error messages): a vendor phrase that starts with one of these is what any MTA may say, so it
# needs context.
GENERIC_MTA_WORDINGS: Final[tuple[str, ...]] = (
    "recipient address rejected:",
    "sender address rejected:",
    "client host rejected:",
    "helo command rejected:",
    "must issue a starttls command first",
    "resources temporarily unavailable",  # the system's EAGAIN message, quoted by any MTA
)

_WORD_RE = re.compile(r"[a-z0-9]{3,40}")
_TAG_RE = re.compile(r"[a-z]{2}-[0-9]{3}")  # Outlook.com's "SC-001", "RP-001", ...
_BRACKET_TAG_RE = re.compile(r"\[[a-z]{2,5}[0-9]{1,3}\]")  # Yahoo's "[TSS04]", iCloud's "[CS01]"
_AT_DOMAIN_RE = re.compile(r"@[a-z0-9.\-]{0,255}")  # "@" and the domain of a mail address
_LOCAL_PART_STOPS = " <>\"'(),;:@"  # what ends a local part (scanning back from its "@")
_GAP_RE = re.compile(r"\s*(?:\.\.\.|…|\[ip\])\s*")
_HOST_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9.\-]{0,253}\.[a-z]{2,24}")

EvidenceKind = Literal["phrase", "tag", "code", "given", "host", "host-in-text", "signature"]

_EVIDENCE_EN: Final[dict[str, str]] = {
    "phrase": 'key phrase "{}"',
    "tag": "tag {}",
    "code": "code {}",
    "given": "known provider {}",
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

    def __reduce__(self) -> tuple[type[Evidence], tuple[EvidenceKind, str]]:
        # Pickled through the constructor: a frozen class compiled by mypyc refuses the default
        # way (setting its fields one by one after creating it).
        return (Evidence, (self.kind, self.value))


@dataclass(frozen=True, slots=True)
class VendorMatch:
    """A recognised vendor reply: the entry, the vendor, and what the recognition rests on."""

    entry: CodeEntry | None  # None when only the vendor is known (host or signature), not the reply
    vendor: str  # "gmail", "microsoft", ...
    vendor_name: str
    evidence: tuple[Evidence, ...]  # strongest first

    def __reduce__(self) -> tuple[type[VendorMatch], tuple[object, ...]]:
        # (as Evidence.__reduce__)
        return (VendorMatch, (self.entry, self.vendor, self.vendor_name, self.evidence))

    @property
    def by(self) -> tuple[str, ...]:
        """The evidence in English words, e.g. ('key phrase "..."', 'host "mx.yandex.ru"')."""
        return tuple(str(e) for e in self.evidence)

    @property
    def reason(self) -> str | None:
        """The bounce reason of the recognised entry (None when only the vendor is known)."""
        return (self.entry.reason or None) if self.entry is not None else None


@dataclass(frozen=True, slots=True)
class _Phrase:
    order: int  # the entry's place in the data file: of two equal readings the first wins
    entry: CodeEntry
    vendor: str  # entry.vendor
    key: str  # the word it is indexed under: the text must have it as a word (`_WORD_RE`)
    codes: VendorCodeMatcher
    parts: tuple[str, ...]  # lower-case fragments that must appear in this order
    distinctive: bool
    length: int
    tag: str = ""  # set when the match is on the provider's tag alone ("[TSS04]")


def _collapse(text: str) -> str:
    """Lower case, whitespace runs made one space (a text that has none is only lower-cased)."""
    low = text.lower()
    if "  " in low or "\n" in low or "\t" in low or "\r" in low or low[:1].isspace() or low[-1:].isspace():
        return " ".join(low.split())
    return low


@cache
def _generic_phrases() -> frozenset[str]:
    """Vendor phrases that are also the words of standard codes, or that two providers share."""
    standard = [
        _collapse(t)
        for kind in ("basic", "enhanced")
        for e in load_entries(kind)
        for t in (e.sample_text, e.texts["en"].title if "en" in e.texts else "")
        if t
    ]
    # One substring search in all the standard texts at once instead of one per text (this runs
    # at start-up): a collapsed text has no "\n", so no match can span two texts.
    all_standard = "\n".join(standard)
    owners: dict[str, set[str]] = {}
    for e in load_entries("vendor"):
        owners.setdefault(_collapse(e.key_phrase), set()).add(e.vendor)
    return frozenset(
        phrase
        for phrase, vendors in owners.items()
        if len(vendors) > 1
        or phrase.startswith(GENERIC_MTA_WORDINGS)
        or (phrase in all_standard if standard and "\n" not in phrase else any(phrase in t for t in standard))
    )


@cache
def _phrase_index() -> dict[str, tuple[_Phrase, ...]]:
    index: dict[str, list[_Phrase]] = {}
    generic = _generic_phrases()
    for order, entry in enumerate(load_entries("vendor")):
        phrase = _collapse(entry.key_phrase)
        parts = tuple(p for p in _GAP_RE.split(phrase) if p)
        words = [w for p in parts for w in _WORD_RE.findall(p)]
        if not words:
            continue
        key = max(words, key=len)
        tagged = phrase.startswith("[") or bool(_TAG_RE.fullmatch(phrase))
        longest = max(len(p) for p in parts)
        distinctive = tagged or (longest >= DISTINCTIVE_PHRASE_LENGTH and phrase not in generic)
        codes = vendor_code_matcher(entry)
        item = _Phrase(order, entry, entry.vendor, key, codes, parts, distinctive, sum(len(p) for p in parts))
        index.setdefault(key, []).append(item)
        tag = _BRACKET_TAG_RE.match(phrase)
        if tag and tag.group(0) != phrase:
            # the provider's tag alone ("[TSS04]") identifies the reply even when the wording around
            # it differs from the documented phrase ("[TSS04] Messages from 192.0.2.1 temporarily ...")
            tag_key = max(_WORD_RE.findall(tag.group(0)) or [key], key=len)
            index.setdefault(tag_key, []).append(
                _Phrase(
                    order,
                    entry,
                    entry.vendor,
                    tag_key,
                    codes,
                    (tag.group(0),),
                    True,
                    len(tag.group(0)) // 2,
                    tag.group(0).upper(),
                )
            )
    return {k: tuple(v) for k, v in index.items()}


@cache
def _distinctive_index() -> dict[str, tuple[_Phrase, ...]]:
    """`_phrase_index()` without the phrases that need context: all a text without context can match."""
    index: dict[str, tuple[_Phrase, ...]] = {}
    for key, items in _phrase_index().items():
        distinctive = tuple(ph for ph in items if ph.distinctive)
        if distinctive:
            index[key] = distinctive
    return index


@cache
def _vendor_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for e in load_entries("vendor"):
        names.setdefault(e.vendor, e.vendor_name or e.vendor)
    return names


def vendor_name(vendor: str) -> str:
    """The display name of a vendor id ("gmail" -> "Google Gmail"); the id itself if unknown."""
    return _vendor_names().get(vendor, vendor)


_SUFFIX_VENDOR: Final[dict[str, str]] = {
    suffix: vendor for vendor, sfx in HOST_SUFFIXES.items() for suffix in sfx
}
# The last labels of those suffixes ("com", "net", "ru", "jp", ...).
_SUFFIX_TLDS: Final[frozenset[str]] = frozenset(suffix.rpartition(".")[2] for suffix in _SUFFIX_VENDOR)


def vendor_from_host(host: str | None) -> str | None:
    """The vendor whose domain a host name belongs to ("mx.yandex.ru" -> "yandex"), or None."""
    if not host:
        return None
    return _vendor_of_name(host.strip().strip("[]").rstrip(".").lower()[:255])


def _vendor_of_name(name: str) -> str | None:
    """`vendor_from_host` for a name already cleaned: lower case, no brackets or final dot."""
    # try the name's own suffixes, longest first: "a.b.mail.ru" -> "b.mail.ru", "mail.ru", "ru"
    # (only when its top-level domain is one of theirs: "example.org" cannot end with any of them)
    pos = 0 if name.rpartition(".")[2] in _SUFFIX_TLDS else -1
    while pos >= 0:
        vendor = _SUFFIX_VENDOR.get(name[pos:])
        if vendor is not None:
            return vendor
        pos = name.find(".", pos) + 1
        if pos <= 0:
            break
    labels = name.split(".")[:-1]  # the last label is the top-level domain
    for label in labels:
        brand = BRAND_LABELS.get(label)
        if brand is not None:
            return brand
    return None


def vendor_hint(names: str) -> str | None:
    """The provider named by host or domain names ("dns; mx.yandex.ru", "gmail.com"), or None.

    For callers that know who answered (a bounce's Remote-MTA, the recipient's domain) and pass it
    to `recognize` as `vendor=`. Only the first 1024 characters are read.
    """
    for token in _HOST_TOKEN_RE.findall(names[:1024].lower()):
        # a token is lower-case ASCII and ends with a letter: already clean
        vendor = _vendor_of_name(token[:255])
        if vendor is not None:
            return vendor
    return None


@dataclass(frozen=True, slots=True)
class _Needle:
    order: int  # signatures first, then host suffixes: the first found is a vendor's evidence
    text: str
    vendor: str
    evidence: Evidence


@cache
def _needles() -> tuple[dict[str, tuple[_Needle, ...]], tuple[_Needle, ...]]:
    """Every text signature and host suffix, to be checked as substrings of a text.

    A needle with a whole word inside it ("google" in ".google.com") can only occur in a text that
    has that word, so such needles are indexed by it and checked only then (a set intersection
    with the text's words); the others are always checked. A needle that contains an earlier one
    of its vendor (".gmail.com" and "gmail") is left out: the earlier one is found whenever it is.
    """
    texts = [
        (sig, vendor, Evidence("signature", sig)) for vendor, sigs in TEXT_SIGNATURES.items() for sig in sigs
    ]
    # "." + suffix: a host name in the text such as "mx.yandex.ru" or "gmail-smtp-in.l.google.com"
    texts += [
        ("." + suffix, vendor, Evidence("host-in-text", suffix))
        for vendor, suffixes in HOST_SUFFIXES.items()
        for suffix in suffixes
    ]
    needles: list[_Needle] = []
    for text, vendor, evidence in texts:
        if not any(n.vendor == vendor and n.text in text for n in needles):
            needles.append(_Needle(len(needles), text, vendor, evidence))
    keyed: dict[str, list[_Needle]] = {}
    always: list[_Needle] = []
    for n in needles:
        inner = [
            m.group()
            for m in re.finditer(r"[a-z0-9]+", n.text)
            if m.start() > 0 and m.end() < len(n.text) and _WORD_RE.fullmatch(m.group())
        ]
        if inner:
            keyed.setdefault(max(inner, key=len), []).append(n)
        else:
            always.append(n)
    return {k: tuple(v) for k, v in keyed.items()}, tuple(always)


def _context(
    low: str, needles: list[_Needle], host: str | None, given: str | None
) -> tuple[dict[str, Evidence], str | None]:
    """Vendors the context points at, with the evidence for each; and the vendor of `host`/`given`.

    `needles` are the needles (`_needles`) that occur in `low`."""
    found: dict[str, Evidence] = {}
    known = None
    if given and given in _vendor_names():
        known = given
        found[given] = Evidence("given", vendor_name(given))
    host_vendor = vendor_from_host(host)
    if host_vendor and host:
        known = known or host_vendor
        found.setdefault(host_vendor, Evidence("host", host.strip()[:255]))
    candidates = needles
    if candidates and "@" in low:
        # a mail address names the recipient's or sender's provider, not the server that replied
        bare = _without_addresses(low)
        candidates = [n for n in candidates if n.text in bare]
    candidates.sort(key=lambda n: n.order)
    for n in candidates:
        found.setdefault(n.vendor, n.evidence)
    return found, known


def _needles_in(low: str, words: set[str]) -> list[_Needle]:
    """The needles that occur in `low`, whose words (`_WORD_RE`) are `words`."""
    keyed, always = _needles()
    candidates = [n for n in always if n.text in low]
    for word in words.intersection(keyed):
        candidates.extend(n for n in keyed[word] if n.text in low)
    return candidates


def _without_addresses(low: str) -> str:
    """`low` (whitespace collapsed) with every mail address replaced by a space.

    Found from each "@" (a regular expression that tried a local part at every position of the
    text would cost 64 steps a character): the domain forward, the local part back to a stop
    character, at most 64 characters. Only the first MAX_ADDRESSES are looked at.
    """
    parts: list[str] = []
    pos = 0
    for i, m in enumerate(_AT_DOMAIN_RE.finditer(low)):
        if i >= MAX_ADDRESSES:
            break
        at = m.start()
        lo = max(pos, at - 64)
        start = max(max(low.rfind(c, lo, at) for c in _LOCAL_PART_STOPS) + 1, lo)
        parts.append(low[pos:start])
        parts.append(" ")
        pos = m.end()
    parts.append(low[pos:])
    return "".join(parts)


def _phrase_found(parts: tuple[str, ...], low: str) -> bool:
    pos = 0
    for part in parts:
        pos = low.find(part, pos)
        if pos < 0:
            return False
        pos += len(part)
    return True


def _specific_status(enhanced: str | None) -> str | None:
    """The enhanced code if it says something (X.0.0 says only success/temporary/permanent)."""
    if not enhanced or enhanced[1:] == ".0.0":
        return None
    return enhanced


def _agreement(m: VendorCodeMatcher, reply_code: int | str | None, enhanced: str | None) -> float | None:
    """How well an entry's codes fit the reply's: a score, or None when they contradict it."""
    score = 0.0
    if reply_code is not None and m.reply_codes:
        if m.matches_reply(reply_code):
            score += 2.0
        elif not any(str(reply_code)[:1] == c[0] for c in m.reply_codes):
            return None  # a temporary entry for a permanent reply, or the other way round
        else:
            score -= 2.0
    if enhanced and m.has_enhanced:
        if not m.matches_enhanced(enhanced):
            return None
        score += 3.0
    return score


def recognize(
    text: str,
    *,
    reply_code: int | str | None = None,
    enhanced: str | None = None,
    host: str | None = None,
    vendor: str | None = None,
) -> VendorMatch | None:
    """The best vendor reading of a reply, or None when nothing points at one of the providers.

    `host` is the remote host that sent the reply, `vendor` a provider id the caller already knows
    answered ("gmail"); either one lets the provider's short, generic phrases count.
    """
    low = _collapse(text[:MAX_VENDOR_TEXT])
    return _recognize(low, None, reply_code, enhanced, host, vendor)


def recognize_scanned(
    text: str,
    found: set[str],
    *,
    reply_code: int | str | None = None,
    enhanced: str | None = None,
    host: str | None = None,
    vendor: str | None = None,
) -> VendorMatch | None:
    """`recognize(text, ...)`, given `found`: the strings of `scan_vocabulary()` that occur in `text`.

    For a caller that scans its text for other phrases too (the classifier): one scan serves both,
    and the text's words are only listed when a phrase was found. A text that `recognize` would
    read differently (not lower case, whitespace not collapsed) is read the ordinary way.
    """
    low = _collapse(text[:MAX_VENDOR_TEXT])
    if low != text:
        return _recognize(low, None, reply_code, enhanced, host, vendor)
    return _recognize(low, found, reply_code, enhanced, host, vendor)


@cache
def scan_vocabulary() -> frozenset[str]:
    """What `recognize_scanned` asks a scan about: the needles of the context, the phrases' parts."""
    return frozenset(
        {n.text for n in _all_needles()}
        | {part for items in _phrase_index().values() for ph in items for part in ph.parts}
    )


def _all_needles() -> list[_Needle]:
    keyed, always = _needles()
    return [*always, *(n for items in keyed.values() for n in items)]


@cache
def _scan_keys() -> dict[str, tuple[tuple[_Needle, ...], tuple[_Phrase, ...]]]:
    """What each string of `scan_vocabulary()` stands for: the needles that are it, and the indexed
    phrases whose longest part it is (a text that has the phrase has that part)."""
    needles: dict[str, list[_Needle]] = {}
    for n in _all_needles():
        needles.setdefault(n.text, []).append(n)
    by_part: dict[str, list[_Phrase]] = {}
    for items in _phrase_index().values():
        for ph in items:
            by_part.setdefault(max(ph.parts, key=len), []).append(ph)
    return {
        key: (tuple(needles.get(key, ())), tuple(by_part.get(key, ())))
        for key in sorted(needles.keys() | by_part.keys())
    }


def _scanned_candidates(
    low: str, phrases: list[_Phrase], found: set[str], context: dict[str, Evidence]
) -> list[_Phrase]:
    """Of `phrases` (filed under a part that was found), those all of whose parts were found, whose
    key is a word of `low` (as `_phrase_index` requires), and that can count here."""
    hits = [
        ph for ph in phrases if (ph.distinctive or ph.vendor in context) and all(p in found for p in ph.parts)
    ]
    if not hits:
        return hits
    words = set(_WORD_RE.findall(low))  # only now: few texts have a phrase's parts
    return [ph for ph in hits if ph.key in words]


def _indexed_candidates(low: str, words: set[str], context: dict[str, Evidence]) -> list[_Phrase]:
    """The indexed phrases whose key is a word of `low` (without context: only distinctive ones)."""
    index = _phrase_index() if context else _distinctive_index()
    return [ph for word in words.intersection(index) for ph in index[word]]


def _recognize(
    low: str,
    found: set[str] | None,
    reply_code: int | str | None,
    enhanced: str | None,
    host: str | None,
    vendor: str | None,
) -> VendorMatch | None:
    """`recognize` of a collapsed text; `found` (or None) is what a scan of it found."""
    words: set[str] = set()  # the text's words: listed here only when there was no scan
    filed: list[_Phrase] = []  # the phrases filed under a string the scan found
    if found is None:
        words = set(_WORD_RE.findall(low))
        needles = _needles_in(low, words)
    else:
        # A needle's key word is inside it, between characters that are not word characters: where
        # the needle occurs, its key is a word of the text. So being found is all a needle needs.
        needles = []
        keys = _scan_keys()
        for key in found:
            hit = keys.get(key)
            if hit is not None:
                needles.extend(hit[0])
                filed.extend(hit[1])
        if not (needles or filed or vendor or host):
            return None  # no context, no phrase: nothing to recognise (the common case)
    context, known = _context(low, needles, host, vendor)
    status = _specific_status(enhanced)
    best: tuple[float, _Phrase] | None = None
    candidates = (
        _indexed_candidates(low, words, context)
        if found is None
        else _scanned_candidates(low, filed, found, context)
    )
    for ph in candidates:
        in_context = ph.vendor in context
        if not (in_context or ph.distinctive) or not _phrase_found(ph.parts, low):
            continue
        agreement = _agreement(ph.codes, reply_code, status)
        if agreement is None:
            if not (in_context and ph.distinctive):
                continue
            agreement = -5.0
        score = agreement + ph.length / 100.0
        if in_context:
            score += 10.0
        if ph.vendor == known:
            score += 5.0
        if best is None or score > best[0] or (score == best[0] and ph.order < best[1].order):
            best = (score, ph)
    if best is not None:
        ph = best[1]
        by = [Evidence("tag", ph.tag) if ph.tag else Evidence("phrase", ph.entry.key_phrase)]
        if ph.entry.vendor in context:
            by.append(context[ph.entry.vendor])
        return VendorMatch(ph.entry, ph.entry.vendor, vendor_name(ph.entry.vendor), tuple(by))
    if not context:
        return None
    # the vendor is known from context; find its entry by code alone (only vendor-specific codes)
    who = known or next(iter(context))
    by_code = _entry_by_code(who, status, str(reply_code) if reply_code is not None else None)
    evidence = [context[who]]
    if by_code is not None and status:
        evidence.insert(0, Evidence("code", status))
    return VendorMatch(by_code, who, vendor_name(who), tuple(evidence))


@cache
def _entry_by_code(vendor: str, enhanced: str | None, reply_code: str | None) -> CodeEntry | None:
    """A vendor entry identified by its enhanced code alone: a code that is not a registered
    standard code (whose meaning is the standard one, whatever the text), and that no other entry
    of the vendor shares (e.g. Microsoft 5.7.708, but not Gmail 5.7.1, which has many meanings)."""
    if not enhanced or _is_registered(enhanced):
        return None
    hits = [
        e
        for e in load_entries("vendor")
        if e.vendor == vendor
        and vendor_code_matcher(e).matches_enhanced(enhanced)
        and _agreement(vendor_code_matcher(e), reply_code, enhanced) is not None
    ]
    if len(hits) == 1:
        return hits[0]
    return None


def _is_registered(enhanced: str) -> bool:
    """Whether the knowledge base has the code's own entry (not only its subject or class)."""
    chain = enhanced_chain(enhanced)
    return bool(chain) and chain[0].kind == "enhanced"
