"""Load and validate the knowledge data files (format: SCHEMA.md beside this file)."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

from smtpdiag.knowledge.model import (
    LANGS,
    RETRIES,
    STANDINGS,
    CodeEntry,
    EntryKind,
    ReasonEntry,
    ReasonTexts,
    Retry,
    Standing,
    Texts,
)

TEXT_FIELDS = ("title", "meaning", "causes", "sender_action", "admin_action", "retry_advice")
DATA_FILES = {
    "basic": "basic_codes.toml",
    "enhanced": "enhanced_codes.toml",
    "vendor": "vendor_codes.toml",
}


class KnowledgeDataError(ValueError):
    """A knowledge data file breaks the schema."""


def _cache_dir() -> Path | None:
    """Where parsed data files are cached: $SMTPDIAG_CACHE_DIR, else the user's cache directory.

    An empty SMTPDIAG_CACHE_DIR turns the cache off.
    """
    configured = os.environ.get("SMTPDIAG_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "smtpdiag"


def _read(name: str) -> dict[str, Any]:
    """One data file, parsed.

    TOML is pleasant to write but slow to parse (~140 ms for all files, paid by every command that
    starts); the parsed form is cached as JSON (no code execution on load, unlike pickle), keyed by
    a hash of the file's bytes so an edited data file is never served stale.
    """
    data = resources.files("smtpdiag.knowledge").joinpath("data", name)
    if not data.is_file():
        return {}
    raw = data.read_bytes()
    cache_dir = _cache_dir()
    cache_file = None
    if cache_dir is not None:
        digest = hashlib.sha256(raw).hexdigest()[:32]
        cache_file = cache_dir / f"knowledge-{name.removesuffix('.toml')}-{digest}.json"
        try:
            cached = json.loads(cache_file.read_bytes())
            if isinstance(cached, dict):
                return cached
        except (OSError, ValueError):
            pass  # no cache yet, or a damaged one: parse the TOML
    parsed = tomllib.loads(raw.decode("utf-8"))
    if cache_file is not None:
        _write_cache(cache_file, parsed)
    return parsed


def _write_cache(path: Path, parsed: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(parsed, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)  # atomic: concurrent processes never read a half-written cache
        stem = path.name.rsplit("-", 1)[0]
        for old in path.parent.glob(f"{stem}-*.json"):
            if old != path:
                old.unlink(missing_ok=True)  # caches of earlier versions of the data file
    except (OSError, TypeError, ValueError):
        pass  # a read-only home or odd values: work uncached


def _texts(raw: dict[str, Any], where: str) -> dict[str, Texts]:
    out: dict[str, Texts] = {}
    for lang in LANGS:
        block = raw.get(lang)
        if not isinstance(block, dict):
            raise KnowledgeDataError(f"{where}: missing [{lang}] text block")
        missing = [f for f in TEXT_FIELDS if not block.get(f)]
        if missing:
            raise KnowledgeDataError(f"{where}: [{lang}] lacks {', '.join(missing)}")
        causes = block["causes"]
        if isinstance(causes, str):
            causes = [causes]
        out[lang] = Texts(
            title=str(block["title"]).strip(),
            meaning=str(block["meaning"]).strip(),
            causes=tuple(str(c).strip() for c in causes),
            sender_action=str(block["sender_action"]).strip(),
            admin_action=str(block["admin_action"]).strip(),
            retry_advice=str(block["retry_advice"]).strip(),
        )
    return out


def _entry(raw: dict[str, Any], default_kind: EntryKind, where: str) -> CodeEntry:
    kind = cast(EntryKind, raw.get("kind", default_kind))
    standing = raw.get("standing", "standard")
    if standing not in STANDINGS:
        raise KnowledgeDataError(f"{where}: standing {standing!r} not one of {STANDINGS}")
    retry = raw.get("retry", "n/a")
    if retry not in RETRIES:
        raise KnowledgeDataError(f"{where}: retry {retry!r} not one of {RETRIES}")
    if kind == "vendor":
        code = (
            raw.get("code") or f"{raw.get('vendor', '')}:{raw.get('enhanced_code') or raw.get('reply_code')}"
        )
    else:
        code = raw.get("code", "")
    if not code:
        raise KnowledgeDataError(f"{where}: no code")
    return CodeEntry(
        code=str(code),
        kind=kind,
        standing=cast(Standing, standing),
        retry=cast(Retry, retry),
        references=tuple(raw.get("references", ())),
        texts=_texts(raw, f"{where} ({code})"),
        reason=raw.get("reason") or None,
        in_seed=bool(raw.get("in_seed", False)),
        sample_text=str(raw.get("sample_text", "")),
        associated_basic_codes=tuple(str(c) for c in raw.get("associated_basic_codes", ())),
        vendor=str(raw.get("vendor", "")),
        vendor_name=str(raw.get("vendor_name", "")),
        reply_code=str(raw.get("reply_code", "")),
        enhanced_code=str(raw.get("enhanced_code", "")),
        key_phrase=str(raw.get("key_phrase", "")),
        category=str(raw.get("category", "")),
        source=str(raw.get("source", "")),
    )


@cache
def load_entries(kind: str) -> tuple[CodeEntry, ...]:
    """All entries of one data file: kind is "basic", "enhanced" or "vendor"."""
    name = DATA_FILES[kind]
    raw = _read(name)
    default_kind: EntryKind = "vendor" if kind == "vendor" else ("basic" if kind == "basic" else "enhanced")
    return tuple(_entry(r, default_kind, f"{name}[{i}]") for i, r in enumerate(raw.get("entry", [])))


@cache
def load_reasons() -> dict[str, ReasonEntry]:
    raw = _read("reasons.toml")
    out: dict[str, ReasonEntry] = {}
    for i, r in enumerate(raw.get("reason", [])):
        where = f"reasons.toml[{i}]"
        name = r.get("name")
        if not name:
            raise KnowledgeDataError(f"{where}: no name")
        texts: dict[str, ReasonTexts] = {}
        for lang in LANGS:
            b = r.get(lang)
            if not isinstance(b, dict) or not all(b.get(k) for k in ("title", "meaning", "sender_action")):
                raise KnowledgeDataError(f"{where} ({name}): incomplete [{lang}] block")
            texts[lang] = ReasonTexts(b["title"].strip(), b["meaning"].strip(), b["sender_action"].strip())
        retry = r.get("retry", "n/a")
        if retry not in RETRIES:
            raise KnowledgeDataError(f"{where}: retry {retry!r} not one of {RETRIES}")
        out[name] = ReasonEntry(name=name, hardbounce=bool(r.get("hardbounce")), retry=retry, texts=texts)
    return out
