"""The output language: a --lang value or the locale.

Kept apart from `explain` so that commands which only need to pick a language (e.g. `bounce`)
do not import the whole diagnosis machinery at start-up.
"""

from __future__ import annotations

import os
from typing import Final

from smtpdiag.knowledge.model import Lang

LANGUAGES: Final[tuple[Lang, ...]] = ("en", "ru")


def default_language() -> Lang:
    """The language from the locale: LC_ALL, then LC_MESSAGES, then LANG; "ru..." -> ru, else en."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "ru" if value.lower().startswith("ru") else "en"
    return "en"


def resolve_language(lang: str | None) -> Lang:
    """A supported language from an option value ("ru", "RU", "ru_RU.UTF-8") or the locale."""
    if lang is None or not lang.strip():
        return default_language()
    low = lang.strip().lower()[:2]
    if low == "ru":
        return "ru"
    if low == "en":
        return "en"
    raise ValueError(f"unsupported language {lang!r}: choose one of {', '.join(LANGUAGES)}")
