"""Load and validate the knowledge data files (format: SCHEMA.md beside this file)."""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from functools import cache
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


# This module is imported by every command that explains or classifies, so it stays light: plain
# os.path and zlib here, no pathlib / importlib.resources / hashlib / tomllib at import time (those
# cost ~12 ms per process); tomllib is imported only when a data file must really be parsed.
_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _cache_dir() -> str | None:
    """Where parsed data files are cached: $SMTPDIAG_CACHE_DIR, else the user's cache directory.

    An empty SMTPDIAG_CACHE_DIR turns the cache off.
    """
    configured = os.environ.get("SMTPDIAG_CACHE_DIR")
    if configured is not None:
        return configured or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "smtpdiag")


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
    cache_dir = _cache_dir()
    cache_file = None
    if cache_dir is not None:
        cache_file = os.path.join(cache_dir, f"{_cache_stem(name)}.{_content_key(raw)}.json")
        try:
            with open(cache_file, "rb") as f:
                cached = json.loads(f.read())
            if isinstance(cached, dict):
                return cached
        except (OSError, ValueError):
            pass  # no cache yet, or a damaged one: parse the TOML
    import tomllib  # only here: most processes find the cache

    parsed = tomllib.loads(raw.decode("utf-8"))
    if cache_file is not None:
        _write_cache(cache_file, parsed)
    return parsed


def _write_cache(path: str, parsed: dict[str, Any]) -> None:
    directory, filename = os.path.split(path)
    try:
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{filename}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(parsed, ensure_ascii=False))
        os.replace(tmp, path)  # atomic: concurrent processes never read a half-written cache
        # caches of earlier versions of the data file: "knowledge-NAME." (or "knowledge-NAME-", the
        # sha256-keyed names of earlier releases) then a content key
        stem = filename.split(".", 1)[0]
        for old in os.listdir(directory):
            if old.startswith((stem + ".", stem + "-")) and old.endswith(".json") and old != filename:
                with contextlib.suppress(FileNotFoundError):  # another process removed it first
                    os.unlink(os.path.join(directory, old))
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
