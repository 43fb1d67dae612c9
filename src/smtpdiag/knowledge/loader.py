"""Load and validate the knowledge data files (format: SCHEMA.md beside this file)."""

from __future__ import annotations

import json
import os
import zlib
from functools import cache
from typing import Any, cast

from smtpdiag.knowledge import cache as cache_files
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


# This module is imported by every command that explains or classifies, so it stays light: plain
# os.path and zlib here, no pathlib / importlib.resources / hashlib / tomllib at import time (those
# cost ~12 ms per process); tomllib is imported only when a data file must really be parsed.
_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _data_bytes(name: str) -> bytes | None:
    """The bytes of the packaged data file `name`, or None when the package has none.

    Read from the package directory; only a package that is not plain files on disk (e.g. in a
    zip) goes through importlib.resources, which is costly to import.
    """
    try:
        with open(os.path.join(_DATA_DIR, name), "rb") as f:
            return f.read()
    except OSError:
        pass
    from importlib import resources

    data = resources.files("smtpdiag.knowledge").joinpath("data", name)
    return data.read_bytes() if data.is_file() else None


def _cache_stem(name: str) -> str:
    """How the names of a data file's cache files start: "knowledge-reasons" for "reasons.toml"."""
    return "knowledge-" + name.removesuffix(".toml")


def _content_key(raw: bytes) -> str:
    """A key for one version of a data file's bytes: its length and CRC-32.

    It tells apart the versions of our own data files so that an edited file is never served a
    stale cache (a checksum suffices: this is no defence against someone able to write the cache
    directory, who could write any cache). zlib is cheap to import, hashlib (OpenSSL) is not.
    """
    return f"{len(raw):x}-{zlib.crc32(raw):08x}"


def _read(name: str) -> dict[str, Any]:
    """One data file, parsed.

    TOML is pleasant to write but slow to parse (~140 ms for all files, paid by every command that
    starts); the parsed form is cached as JSON (no code execution on load, unlike pickle), keyed by
    the file's content (`_content_key`) so an edited data file is never served stale.
    """
    raw = _data_bytes(name)
    if raw is None:
        return {}
    cache_file = f"{_cache_stem(name)}.{_content_key(raw)}.json"
    cached_bytes = cache_files.read(cache_file)
    if cached_bytes is not None:
        try:
            cached = json.loads(cached_bytes)
            if isinstance(cached, dict):
                return cached
        except ValueError:
            pass  # a damaged cache: parse the TOML
    import tomllib  # only here: most processes find the cache

    parsed = tomllib.loads(raw.decode("utf-8"))
    try:
        encoded = json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError):
        return parsed  # odd values: work uncached
    cache_files.write(cache_file, encoded)
    return parsed


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
