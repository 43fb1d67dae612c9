"""Files kept between runs in the user's cache directory: work that every process would redo.

The parsed knowledge data files (`loader`) and the compiled program of the classifier's big
regexes (`smtpdiag.classify.regexcache`) are kept here. A cache file is named
"STEM.KEY.EXT": STEM says what it holds, KEY which version of its source (so a changed source is
never served a stale file), and writing a new version removes the files of older ones. Every
failure (no cache directory, a read-only one, a damaged file) only means working uncached.
"""

from __future__ import annotations

import contextlib
import os


def cache_dir() -> str | None:
    """Where cache files live: $SMTPDIAG_CACHE_DIR, else the user's cache directory.

    An empty SMTPDIAG_CACHE_DIR turns the cache off.
    """
    configured = os.environ.get("SMTPDIAG_CACHE_DIR")
    if configured is not None:
        return configured or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "smtpdiag")


def read(filename: str) -> bytes | None:
    """The bytes of a cache file, or None (no cache directory, no such file, unreadable)."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        with open(os.path.join(directory, filename), "rb") as f:
            return f.read()
    except OSError:
        return None


def write(filename: str, data: bytes) -> None:
    """Store a cache file atomically and remove the other versions of it (same STEM)."""
    directory = cache_dir()
    if directory is None:
        return
    try:
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{filename}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(directory, filename))  # readers never see a half-written file
        # "STEM." then another key; "STEM-" then a key: the names of earlier releases
        stem = filename.split(".", 1)[0]
        for old in os.listdir(directory):
            if old.startswith((stem + ".", stem + "-")) and old != filename:
                with contextlib.suppress(FileNotFoundError):  # another process removed it first
                    os.unlink(os.path.join(directory, old))
    except OSError:
        pass  # a read-only home, a full disk: work uncached
