"""Vendor knowledge: a reply recognised as a big provider's (Gmail, Microsoft, Yahoo, ...) gets its meaning.

The facts live in the knowledge base (`knowledge/data/vendor_codes.toml`); this module only
indexes them for fast matching by key phrase. When the data file is absent or broken the
classifier works without vendor knowledge rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

MIN_KEY_PHRASE: Final = 6  # shorter key phrases ("TS01") are too ambiguous to match on their own


@dataclass(frozen=True, slots=True)
class VendorReply:
    vendor: str
    key_phrase: str  # lower-cased
    reason: str
    reply_code: str
    enhanced_code: str


@cache
def vendor_replies() -> tuple[VendorReply, ...]:
    try:
        from smtpdiag.knowledge import load_entries

        entries = load_entries("vendor")
    except Exception:  # a broken or missing data file must not break classification
        return ()
    out: list[VendorReply] = []
    for e in entries:
        phrase = " ".join(e.key_phrase.lower().split())
        if not e.reason or (len(phrase) < MIN_KEY_PHRASE and not e.enhanced_code):
            continue
        out.append(VendorReply(e.vendor, phrase, e.reason, e.reply_code, e.enhanced_code))
    # Longer phrases first: the most specific description wins.
    out.sort(key=lambda v: -len(v.key_phrase))
    return tuple(out)


# Words in a reply that betray which provider wrote it.
VENDOR_TOKENS: Final[dict[str, tuple[str, ...]]] = {
    "gmail": ("gsmtp", "google", "gmail"),
    "microsoft": (
        "outlook",
        "hotmail",
        "microsoft",
        "office365",
        "exchange online",
        "resolver.adr",
        "live.com",
    ),
    "yahoo": ("yahoo", "aol", "verizonmedia", "[ts0", "[tss0"),
    "apple": ("icloud", "apple", "me.com"),
    "yandex": ("yandex",),
    "mailru": ("mail.ru", "mail ru"),
}
MIN_UNHINTED_PHRASE: Final = 28  # a key phrase this long is specific enough without a provider hint


def vendor_hint(text: str) -> str | None:
    """The provider a reply names (its host names, its tags), if any."""
    for vendor, tokens in VENDOR_TOKENS.items():
        if any(t in text for t in tokens):
            return vendor
    return None


def match_vendor(
    text: str, *, reply_code: int | None = None, status: str = "", vendor: str | None = None
) -> VendorReply | None:
    """The provider reply whose key phrase occurs in `text` (lower-cased, whitespace collapsed).

    Short, generic key phrases ("mailbox unavailable") count only when the reply is known to come
    from that provider: `vendor` is given or the text names the provider.
    """
    hint = vendor or vendor_hint(text)
    candidates = _by_vendor().get(hint, ()) if hint else _unhinted()
    for v in candidates:
        if v.key_phrase not in text:
            continue
        if v.enhanced_code and status and v.enhanced_code != status:
            continue
        if v.reply_code and reply_code and v.reply_code != str(reply_code):
            continue
        return v
    return None


@cache
def _by_vendor() -> dict[str, tuple[VendorReply, ...]]:
    out: dict[str, list[VendorReply]] = {}
    for v in vendor_replies():
        if v.key_phrase:
            out.setdefault(v.vendor, []).append(v)
    return {k: tuple(vs) for k, vs in out.items()}


@cache
def _unhinted() -> tuple[VendorReply, ...]:
    return tuple(v for v in vendor_replies() if len(v.key_phrase) >= MIN_UNHINTED_PHRASE)
