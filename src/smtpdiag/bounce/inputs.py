"""Where bounce messages come from: files, directories, Maildir folders, mbox files, stdin.

Everything is streamed: an mbox of any size is read a block at a time and handed out one message
at a time, so memory stays flat whatever the input size. A message larger than
`MAX_MESSAGE_BYTES` is cut at that size (its head still carries what bounce analysis needs) and
the cut is reported on the message, so nothing is silently lost.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

#: Largest message kept in memory for analysis; the rest of a larger message is skipped.
#: Bounces are small; 10 MiB leaves room for a returned original with attachments.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
#: Longest physical line read from an mbox at once; a longer line is read in pieces.
MAX_LINE_BYTES = 64 * 1024
#: An mbox-format file up to this size holding a single message is read in one go, not line by line.
SMALL_MBOX_BYTES = 1024 * 1024

# An mbox "From_" separator: "From " + envelope sender + a date; we demand a year-like number so a
# body line starting with "From " (unescaped by a sloppy writer) rarely splits a message.
_FROM_LINE = re.compile(rb"^From \S{0,512} .{0,200}\d{4}", re.DOTALL)


@dataclass(slots=True)
class InputMessage:
    """One message to analyse, or one input that could not be read."""

    path: str  # the file it came from, or "-" (stdin)
    index: int = 0  # 1, 2, ... for the messages of an mbox holding several; 0 for a lone message
    data: bytes = b""
    error: str = ""  # set when the input could not be read; data is then empty
    truncated: bool = False

    # (the dataclass-made __init__: a hand-written one breaks pickling, which --jobs needs, once
    # compiled by mypyc)
    @property
    def source(self) -> str:
        """ "path" for a lone message, "path:N" for the Nth message of an mbox."""
        return f"{self.path}:{self.index}" if self.index else self.path


class InputError(Exception):
    """An input path that cannot be used at all (does not exist, unreadable)."""


# A From_ line carrying a full asctime() date ("From sender  Thu Jul  2 12:05:05 2020"): specific
# enough to separate messages even where the writer left out the blank line before it.
_FROM_LINE_DATED = (
    rb"^From \S{1,512} {1,4}(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
    rb"|Nov|Dec) [ \d]\d \d\d:\d\d(?::\d\d)? (?:[A-Z]{3,5} )?\d{4}\s*$"
)
# Compiled on first use: compiling takes milliseconds of start-up, and only a "From " line that
# does not follow a blank line, in an mbox, ever needs it.
_from_line_dated: re.Pattern[bytes] | None = None


def _dated_from_line() -> re.Pattern[bytes]:
    global _from_line_dated
    if _from_line_dated is None:
        _from_line_dated = re.compile(_FROM_LINE_DATED)
    return _from_line_dated


def is_mbox_separator(line: bytes, after_blank_line: bool = True) -> bool:
    """Whether `line` starts a new message of an mbox.

    After a blank line (where mbox writers put separators) any From_ line with a year counts;
    elsewhere only one with a complete asctime() date does.
    """
    if not line.startswith(b"From "):
        return False
    head = line[:1024]
    if after_blank_line:
        return _FROM_LINE.match(head) is not None
    return _dated_from_line().match(head) is not None


def iter_mbox(stream: BinaryIO, source: str) -> Iterator[InputMessage]:
    """Split an mbox stream (mboxo/mboxrd) into messages, one at a time.

    A stream holding exactly one message (an .eml with an mbox `From ` line) yields it under
    `source` itself; several messages are numbered `source:1`, `source:2`, ...
    """
    read1: Any = getattr(stream, "read1", None)  # returns what is there: a pipe is not waited on
    return _split_mbox(_MboxReader(read1 if read1 is not None else stream.read), source)


def _split_mbox(reader: _MboxReader, source: str) -> Iterator[InputMessage]:
    # A message is handed out once the next one has begun: only then is it known whether the
    # stream holds several (numbered) or a single one (which keeps the plain name).
    first = reader.readline()
    if not first:
        return
    opened = is_mbox_separator(first, after_blank_line=True)
    if not opened:
        reader.unread(first)  # no From_ line at the top: that line begins the one plain message
    pending: InputMessage | None = None
    count = 1
    while True:
        data, truncated, more = reader.message(check_first_line=opened)
        opened = True
        message = InputMessage(path=source, index=count, data=data, truncated=truncated)
        if not more:
            break
        if pending is not None:
            yield pending
        pending = message
        count += 1
    if pending is None:
        message.index = 0  # a single message keeps the plain name
        yield message
        return
    yield pending
    yield message


#: Bytes asked of an mbox stream at a time.
MBOX_READ_BYTES = 256 * 1024

# mboxrd un-escaping of the lines of a message after its first: "\n>From " -> "\nFrom ", "\n>>From "
# -> "\n>From ", ... (a pattern starting with a literal is searched fast; "(?m)^" tries every byte)
_MBOXRD_ESCAPED = re.compile(rb"\n>(>*From )")


def _unescape_mboxrd(data: bytes) -> bytes:
    """mboxrd un-escaping of a whole message, as the line-by-line reader does it per line."""
    if b">From " not in data:  # every escaped line holds one
        return data
    if data.startswith(b">") and data.lstrip(b">").startswith(b"From "):
        data = data[1:]
    return _MBOXRD_ESCAPED.sub(b"\n\\1", data)


class _MboxReader:
    """An mbox stream read into a buffer and cut into messages.

    The usual message (no line longer than MAX_LINE_BYTES, no larger than MAX_MESSAGE_BYTES) is
    cut out of the buffer whole: its end is found with bytes.find and the mboxrd un-escaping is one
    regex substitution. Any other message goes line by line, in the pieces readline(MAX_LINE_BYTES)
    gives. Both ways give the same messages; the whole-message way is ten times faster.
    """

    def __init__(self, read: Callable[[int], bytes] | None, data: bytes = b"") -> None:
        """Over a stream's `read`, or over `data` alone (read None)."""
        self._read = read
        self._buf = data
        self._pos = 0  # where the unread part of the buffer starts
        self._eof = read is None

    # --- reading ---------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Add more of the stream to the buffer, dropping what was consumed; False at its end."""
        if self._eof or self._read is None:
            return False
        kept = len(self._buf) - self._pos
        # While a long message is buffered, read as much again at least: re-joining stays linear.
        want = max(MBOX_READ_BYTES, kept)
        chunks = [self._buf[self._pos :]]
        got = 0
        while got < want:
            chunk = self._read(want - got)
            if not chunk:
                self._eof = True
                break
            chunks.append(chunk)
            got += len(chunk)
            if kept < MBOX_READ_BYTES:
                break  # what the stream had at hand is enough: do not wait for more
        self._buf = b"".join(chunks)
        self._pos = 0
        return got > 0

    def readline(self) -> bytes:
        """The next line, as stream.readline(MAX_LINE_BYTES) would return it."""
        limit = MAX_LINE_BYTES
        while True:
            newline = self._buf.find(b"\n", self._pos, self._pos + limit)
            if newline >= 0:
                end = newline + 1
                break
            if len(self._buf) - self._pos >= limit:
                end = self._pos + limit
                break
            if not self._fill():
                end = len(self._buf)
                break
        line = self._buf[self._pos : end]
        self._pos = end
        return line

    def unread(self, line: bytes) -> None:
        """Step back over the line readline just returned (it is still in the buffer)."""
        self._pos -= len(line)

    # --- messages --------------------------------------------------------------------------

    def message(self, check_first_line: bool) -> tuple[bytes, bool, bool]:
        """The next message: (its data, whether it was cut, whether a separator ended it).

        Reads up to the next From_ separator (which it consumes) or the end of the stream. The
        first line is tested as a separator only when `check_first_line`.
        """
        whole = self._find_whole_message(check_first_line)
        if whole is None:
            return self._message_line_by_line(check_first_line)
        end, after_separator = whole
        data = _unescape_mboxrd(self._buf[self._pos : end])
        self._pos = after_separator if after_separator >= 0 else end
        return data, False, after_separator >= 0

    def _find_whole_message(self, check_first_line: bool) -> tuple[int, int] | None:
        """(end of the next message, end of the separator after it or -1 at the end of the stream),
        with the message whole in the buffer; None for a message that must go line by line."""
        examined = 0  # bytes after the message's start whose lines were looked at already
        while True:
            start, buf = self._pos, self._buf
            complete = len(buf) if self._eof else buf.rfind(b"\n", start) + 1  # whole lines up to here
            if complete > start:
                end = self._separator_at(start, examined, complete, check_first_line)
                if end >= 0:
                    if end - start > MAX_MESSAGE_BYTES or _has_long_line(buf, start, end, MAX_LINE_BYTES):
                        return None
                    # the separator line is consumed as readline would: its first piece only
                    newline = buf.find(b"\n", end, end + MAX_LINE_BYTES)
                    return end, newline + 1 if newline >= 0 else min(end + MAX_LINE_BYTES, len(buf))
                examined = complete - start
            if len(buf) - start > MAX_MESSAGE_BYTES:
                return None  # to be cut: line by line, exactly where the limit falls
            if self._eof:
                if _has_long_line(buf, start, len(buf), MAX_LINE_BYTES):
                    return None
                return len(buf), -1
            self._fill()

    def _separator_at(self, start: int, examined: int, complete: int, check_first_line: bool) -> int:
        """Where the first separator line in buf[start + examined : complete] begins, or -1.

        Lines are taken whole here: a message with a line longer than MAX_LINE_BYTES (which
        readline would cut into pieces) is not taken whole, so the answer is then not used.
        """
        buf = self._buf
        first_line_is_candidate = examined == 0 and check_first_line and buf.startswith(b"From ", start)
        if first_line_is_candidate and is_mbox_separator(_line_head(buf, start), after_blank_line=False):
            return start
        at = start + examined - 1 if examined else start
        while True:
            newline = buf.find(b"\nFrom ", at, complete)
            if newline < 0:
                return -1
            line_start = newline + 1
            # the line before: "\n" or "\r\n" alone is blank (where mbox writers put separators)
            blank = newline == start or buf[newline - 1] == 10
            if not blank and buf[newline - 1] == 13:
                blank = newline - 1 == start or buf[newline - 2] == 10
            if is_mbox_separator(_line_head(buf, line_start), after_blank_line=blank):
                return line_start
            at = line_start

    def _message_line_by_line(self, check_first_line: bool) -> tuple[bytes, bool, bool]:
        """The next message read line by line: lines past MAX_MESSAGE_BYTES are left out."""
        current: list[bytes] = []
        size = 0
        truncated = False
        previous_blank = False
        check = check_first_line
        while True:
            line = self.readline()
            if not line:
                return b"".join(current), truncated, False
            if check and is_mbox_separator(line, after_blank_line=previous_blank):
                return b"".join(current), truncated, True
            check = True
            previous_blank = line in (b"\n", b"\r\n")
            if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
                line = line[1:]  # mboxrd un-escaping
            if size + len(line) > MAX_MESSAGE_BYTES:
                truncated = True
                continue
            current.append(line)
            size += len(line)


def _line_head(buf: bytes, start: int) -> bytes:
    """What is_mbox_separator looks at of the line at `start`: its first readline piece, up to 1 KiB."""
    limit = start + min(1024, MAX_LINE_BYTES)
    newline = buf.find(b"\n", start, limit)
    return buf[start : newline + 1 if newline >= 0 else limit]


def _has_long_line(buf: bytes, start: int, end: int, limit: int) -> bool:
    """Whether a line in buf[start:end] is longer than `limit` (readline would cut it in pieces)."""
    line_start = start
    while end - line_start > limit:
        newline = buf.rfind(b"\n", line_start, line_start + limit)
        if newline < 0:
            return True
        line_start = newline + 1
    return False


def _unescape_from(data: bytes) -> bytes:
    """mboxrd un-escaping (">From " -> "From ") of a whole message, as iter_mbox does per line."""
    if b"\n>" not in data or b">From " not in data:  # (a first line alone is left as it is)
        return data
    if _ESCAPED_FROM_FIRST_LINE.match(data):
        data = data[1:]
    return _ESCAPED_FROM.sub(b"\n\\1", data)


# Two patterns, not one "(?m)^>...": a pattern starting with a literal is searched fast, while
# "(?m)^" is tried at every byte of the message.
_ESCAPED_FROM_FIRST_LINE = re.compile(rb">>{0,64}From ")
_ESCAPED_FROM = re.compile(rb"\n>(>{0,64}From )")


#: Bytes asked of the OS at a time when the size of a file is unknown or wrong (pipes, /proc, a
#: file still growing).
READ_CHUNK_BYTES = 64 * 1024


def _read_up_to(fd: int, limit: int, expected: int) -> bytes:
    """The first `limit` bytes of `fd` (all of it when shorter).

    `expected` (the size fstat reported) sizes the first read, so a regular file costs one read
    plus the read that confirms its end, and no buffer larger than the file is ever allocated.
    """
    data = os.read(fd, max(1, min(expected + 1, limit)))
    if not data or len(data) >= limit:
        return data
    parts = [data]
    total = len(data)
    while total < limit:
        chunk = os.read(fd, min(READ_CHUNK_BYTES, limit - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    return data if len(parts) == 1 else b"".join(parts)


def _read_file(path: str) -> InputMessage | Iterator[InputMessage]:
    """The message in file `path`, or an iterator over its messages when it is an mbox of several.

    Plain os.open/os.read rather than a buffered file object: most inputs are small files read
    whole, and this way a file costs open, fstat, two reads and close, nothing more.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        return _unreadable(path, exc)
    handed_over = False
    try:
        size = os.fstat(fd).st_size
        # Enough to tell a single message behind an mbox From_ line from an mbox of several.
        head = _read_up_to(fd, SMALL_MBOX_BYTES + 1, size)
        if head.startswith(b"From "):
            if len(head) <= SMALL_MBOX_BYTES:
                if head.find(b"\nFrom ", 5) < 0:
                    # one message behind an mbox From_ line (the usual saved bounce): no splitting
                    body = head[head.find(b"\n") + 1 :] if b"\n" in head else b""
                    return InputMessage(path=path, data=_unescape_from(body))
                return _split_mbox(_MboxReader(None, head), path)  # a small mbox: split in memory
            os.lseek(fd, 0, os.SEEK_SET)  # a large mbox: stream it from the top
            handed_over = True
            return _iter_mbox_file(fd, path)
        limit = MAX_MESSAGE_BYTES + 1
        data = head
        if len(head) > SMALL_MBOX_BYTES:  # a large message: read on up to the limit
            data += _read_up_to(fd, limit - len(head), size - len(head))
    except OSError as exc:
        return _unreadable(path, exc)
    finally:
        if not handed_over:
            os.close(fd)
    if len(data) > MAX_MESSAGE_BYTES:
        return InputMessage(path=path, data=data[:MAX_MESSAGE_BYTES], truncated=True)
    return InputMessage(path=path, data=data)


def _iter_mbox_file(fd: int, path: str) -> Iterator[InputMessage]:
    """The messages of the mbox open on `fd` (which this closes), read a block at a time."""
    try:
        yield from _split_mbox(_MboxReader(functools.partial(os.read, fd)), path)
    except OSError as exc:
        yield _unreadable(path, exc)
    finally:
        os.close(fd)


def _unreadable(path: str, exc: OSError) -> InputMessage:
    return InputMessage(path=path, error=f"cannot read: {exc.strerror or exc}")


_MAILDIR_SUBDIRS = ("cur", "new", "tmp")


def _is_maildir(path: str) -> bool:
    return all(os.path.isdir(os.path.join(path, sub)) for sub in _MAILDIR_SUBDIRS)


def _has_maildir_subdirs(entries: list[os.DirEntry[str]]) -> bool:
    """Whether a listing holds the cur/, new/ and tmp/ directories of a Maildir."""
    found = {entry.name for entry in entries if entry.name in _MAILDIR_SUBDIRS and _entry_is_dir(entry)}
    return len(found) == len(_MAILDIR_SUBDIRS)


def _entry_is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symbolic links, like os.stat
    except OSError:
        return False


def _entry_is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _walk(path: str) -> Iterator[str]:
    """Regular, non-hidden files under a directory, in a stable (sorted) order.

    A Maildir contributes its new/ and cur/ messages (never tmp/: those are not delivered yet).
    os.scandir gives each entry's type with the listing, so a file costs no stat call of its own.
    """
    entries: list[os.DirEntry[str]] = []
    try:
        with os.scandir(path) as listing:
            entries = sorted(listing, key=_entry_name)
    except OSError as exc:
        # a Maildir we may enter but not list still has readable new/ and cur/
        if not _is_maildir(path):
            raise InputError(f"{path}: cannot list directory: {exc.strerror or exc}") from exc
        maildir = True
    else:
        maildir = _has_maildir_subdirs(entries)
    if maildir:
        for sub in ("new", "cur"):
            yield from _walk(os.path.join(path, sub))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if _entry_is_dir(entry):
            yield from _walk(entry.path)
        elif _entry_is_file(entry):
            yield entry.path


def check_paths(paths: Sequence[str]) -> None:
    """Fail early, with one clear message, on a path that does not exist."""
    for path in paths:
        if path != "-" and not os.path.exists(path):
            raise InputError(f"{path}: no such file or directory")


def iter_inputs(paths: Iterable[str], stdin: BinaryIO | None = None) -> Iterator[InputMessage]:
    """Every message of every input, in order. "-" means stdin (an mbox stream or one message)."""
    for path in paths:
        if path == "-":
            if stdin is None:
                raise InputError("-: no standard input available")
            yield from iter_mbox(stdin, "-")
        elif os.path.isdir(path):
            for file_path in _walk(path):
                got = _read_file(file_path)
                if isinstance(got, InputMessage):
                    yield got
                else:
                    yield from got
        else:
            got = _read_file(path)
            if isinstance(got, InputMessage):
                yield got
            else:
                yield from got
