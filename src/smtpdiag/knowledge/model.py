"""Typed model of the knowledge base (see knowledge/SCHEMA.md for the data-file format)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Lang = Literal["en", "ru"]
LANGS: tuple[Lang, ...] = ("en", "ru")

EntryKind = Literal["basic", "enhanced", "enhanced-class", "enhanced-subject", "vendor"]
Standing = Literal["standard", "registry-only", "non-standard", "unregistered"]
Retry = Literal["never", "later", "after-fix", "n/a"]

STANDINGS: tuple[Standing, ...] = ("standard", "registry-only", "non-standard", "unregistered")
RETRIES: tuple[Retry, ...] = ("never", "later", "after-fix", "n/a")


@dataclass(frozen=True, slots=True)
class Texts:
    """The human explanation of one entry in one language."""

    title: str
    meaning: str
    causes: tuple[str, ...]
    sender_action: str
    admin_action: str
    retry_advice: str


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """One basic reply code, enhanced status code, or vendor-specific reply."""

    code: str  # "550", "5.1.1", "X.1.X", "5.X.X"; for vendor entries the vendor's own key
    kind: EntryKind
    standing: Standing
    retry: Retry
    references: tuple[str, ...]
    texts: dict[str, Texts]
    reason: str | None = None  # the typical bounce reason (Sisimai vocabulary), if any
    in_seed: bool = False
    # enhanced-code facts from the IANA registry
    sample_text: str = ""
    associated_basic_codes: tuple[str, ...] = ()
    # vendor facts
    vendor: str = ""  # e.g. "gmail", "microsoft", "yahoo", "apple", "yandex", "mailru"
    vendor_name: str = ""  # e.g. "Google Gmail"
    reply_code: str = ""
    enhanced_code: str = ""
    key_phrase: str = ""
    category: str = ""
    source: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def text(self, lang: str = "en") -> Texts:
        return self.texts.get(lang) or self.texts["en"]


@dataclass(frozen=True, slots=True)
class ReasonTexts:
    title: str
    meaning: str
    sender_action: str


@dataclass(frozen=True, slots=True)
class ReasonEntry:
    """One bounce reason of the Sisimai vocabulary, with its explanation."""

    name: str
    hardbounce: bool  # default hard/soft: hard = the address itself is bad, suppress it
    retry: Retry
    texts: dict[str, ReasonTexts]

    def text(self, lang: str = "en") -> ReasonTexts:
        return self.texts.get(lang) or self.texts["en"]
