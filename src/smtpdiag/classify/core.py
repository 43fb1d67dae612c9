"""Interim classifier skeleton; the real one replaces the body of `classify` (same signature)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Classification:
    reason: str  # Sisimai vocabulary: userunknown, mailboxfull, ... , undefined
    permanent: bool | None  # True 5xx-like, False 4xx-like, None unknown
    hardbounce: bool  # the address itself is bad: suppress it
    retry: str  # "never" | "later" | "after-fix" | "n/a"
    evidence: tuple[str, ...] = field(default=())  # why: which code/phrase decided
    conflict: str | None = None  # set when the code and the text disagree, saying how it was weighed
    vendor: str | None = None  # vendor id when the reply was recognised as a provider's


def classify(
    text: str = "",
    *,
    reply_code: int | None = None,
    status: str | None = None,
    command: str | None = None,
    vendor: str | None = None,
) -> Classification:
    permanent: bool | None = None
    first = (status or "")[:1] or (str(reply_code)[:1] if reply_code else "")
    if first in ("4", "5"):
        permanent = first == "5"
    return Classification(
        reason="undefined",
        permanent=permanent,
        hardbounce=False,
        retry="later" if permanent is False else ("after-fix" if permanent else "n/a"),
    )
