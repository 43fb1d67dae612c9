"""Big regexes compiled once per machine, not once per process.

`re.compile` of the classifier's phrase scanner (thousands of alternatives, see phraseindex.py)
costs ~10 ms, paid by every process that classifies a text: most of a short command's first
classification. What it produces is a program for the regex engine, a list of integers. The first
process stores that program in the cache directory (`smtpdiag.knowledge.cache`); the next ones
hand it to the engine directly, as `re.compile` itself does, which checks it before use.

This reaches below `re`'s public API (`re._parser`, `re._compiler._code`, `_sre.compile`), so it
is guarded at every step: the cache file is keyed by the pattern and by the Python build and
regex engine version (another Python never reads it), carries a checksum, and anything unexpected
-- an `re` that changed its internals, a damaged file, no cache directory -- means plain
`re.compile`. Only patterns without flags and named groups are cached (what the scanner builds).
"""

from __future__ import annotations

import array
import importlib
import re
import sys
import zlib
from typing import Any, Final

from smtpdiag.knowledge import cache as cache_files

# A program word of the regex engine is an unsigned int of _sre.CODESIZE bytes.
_WORD: Final = "I"
# header words: pattern length, pattern CRC-32, pattern Adler-32, flags, groups, program CRC-32
_HEADER_WORDS: Final = 6
_ERRORS: Final = (AttributeError, ImportError, OverflowError, RuntimeError, TypeError, ValueError, re.error)


def compile_cached(pattern: str, name: str) -> re.Pattern[str]:
    """`re.compile(pattern)`, with its program kept in the cache file "regex-NAME.KEY.bin"."""
    engine = _engine()
    if engine is None:
        return re.compile(pattern)
    filename = f"regex-{name}.{_key(pattern, engine)}.bin"
    data = cache_files.read(filename)
    if data is not None:
        loaded = _load(pattern, data, engine)
        if loaded is not None:
            return loaded
    program = _program(pattern)
    if program is None:
        return re.compile(pattern)
    flags, groups, code = program
    try:
        compiled = _build(pattern, flags, groups, code, engine)
    except _ERRORS:
        return re.compile(pattern)
    cache_files.write(filename, _dump(pattern, flags, groups, code))
    return compiled


def _engine() -> Any:
    """The `_sre` module, if its program words are what this module stores; else None."""
    try:
        sre: Any = importlib.import_module("_sre")
        if array.array(_WORD).itemsize != sre.CODESIZE:
            return None
        return sre
    except _ERRORS:
        return None


def _key(pattern: str, engine: Any) -> str:
    """Which pattern, compiled by which Python and regex engine: a part of the file name."""
    build = f"{sys.version}|{sys.implementation.cache_tag}|{engine.MAGIC}|{sys.byteorder}|"
    return f"{len(pattern):x}-{zlib.crc32((build + pattern).encode('utf-8', 'surrogatepass')):08x}"


def _program(pattern: str) -> tuple[int, int, list[int]] | None:
    """(flags, groups, program) as `re.compile` computes them (re._compiler.compile), or None."""
    try:
        parser: Any = importlib.import_module("re._parser")
        compiler: Any = importlib.import_module("re._compiler")
        parsed = parser.parse(pattern, 0)
        if parsed.state.groupdict:
            return None  # named groups: not what the scanner builds
        code = [int(word) for word in compiler._code(parsed, 0)]
        return int(parsed.state.flags), int(parsed.state.groups), code
    except _ERRORS:
        return None


def _build(pattern: str, flags: int, groups: int, code: list[int], engine: Any) -> re.Pattern[str]:
    """The compiled regex from its program, as the end of re._compiler.compile makes it."""
    compiled: re.Pattern[str] = engine.compile(pattern, flags, code, groups - 1, {}, (None,) * groups)
    return compiled


def _dump(pattern: str, flags: int, groups: int, code: list[int]) -> bytes:
    body = array.array(_WORD, code).tobytes()
    header = array.array(_WORD, (*_pattern_sums(pattern), flags, groups, zlib.crc32(body)))
    return header.tobytes() + body


def _load(pattern: str, data: bytes, engine: Any) -> re.Pattern[str] | None:
    """The regex stored in `data` for `pattern`, or None if the file is not (wholly) that."""
    words = array.array(_WORD)
    if len(data) % words.itemsize:
        return None
    words.frombytes(data)
    if len(words) <= _HEADER_WORDS:
        return None
    *sums, flags, groups, body_crc = words[:_HEADER_WORDS]
    body = words[_HEADER_WORDS:]
    if sums != list(_pattern_sums(pattern)) or zlib.crc32(body.tobytes()) != body_crc:
        return None
    try:
        return _build(pattern, flags, groups, body.tolist(), engine)
    except _ERRORS:
        return None  # a program the engine refuses


def _pattern_sums(pattern: str) -> tuple[int, int, int]:
    encoded = pattern.encode("utf-8", "surrogatepass")
    return len(pattern) & 0xFFFFFFFF, zlib.crc32(encoded), zlib.adler32(encoded)
