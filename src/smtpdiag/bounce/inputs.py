"""Where bounce messages come from: files, directories, Maildir folders, mbox files, stdin.

Everything is streamed: an mbox of any size is read line by line and handed out one message at a
time, so memory stays flat whatever the input size. A message larger than
`MAX_MESSAGE_BYTES` is cut at that size (its head still carries what bounce analysis needs) and
the cut is reported on the message, so nothing is silently lost.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

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

    @property
    def source(self) -> str:
        """ "path" for a lone message, "path:N" for the Nth message of an mbox."""
        return f"{self.path}:{self.index}" if self.index else self.path


class InputError(Exception):
    """An input path that cannot be used at all (does not exist, unreadable)."""


# A From_ line carrying a full asctime() date ("From sender  Thu Jul  2 12:05:05 2020"): specific
# enough to separate messages even where the writer left out the blank line before it.
_FROM_LINE_DATED = re.compile(
    rb"^From \S{1,512} {1,4}(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
    rb"|Nov|Dec) [ \d]\d \d\d:\d\d(?::\d\d)? (?:[A-Z]{3,5} )?\d{4}\s*$"
)


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
    return _FROM_LINE_DATED.match(head) is not None


def iter_mbox(stream: BinaryIO, source: str) -> Iterator[InputMessage]:
    """Split an mbox stream (mboxo/mboxrd) into messages, one at a time.

    A stream holding exactly one message (an .eml with an mbox `From ` line) yields it under
    `source` itself; several messages are numbered `source:1`, `source:2`, ...
    """
    pending: InputMessage | None = None
    current: list[bytes] = []
    size = 0
    truncated = False
    count = 0
    previous_blank = True

    def finish() -> InputMessage:
        return InputMessage(path=source, index=count, data=b"".join(current), truncated=truncated)

    while True:
        line = stream.readline(MAX_LINE_BYTES)
        if not line:
            break
        if is_mbox_separator(line, after_blank_line=previous_blank or count == 0):
            if count:
                if pending is not None:
                    yield pending
                pending = finish()
            count += 1
            current, size, truncated = [], 0, False
            previous_blank = False
            continue
        previous_blank = line in (b"\n", b"\r\n")
        if count == 0:
            count = 1  # no From_ line at the top: one plain message
        if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
            line = line[1:]  # mboxrd un-escaping
        if size + len(line) > MAX_MESSAGE_BYTES:
            truncated = True
            continue
        current.append(line)
        size += len(line)
    if count == 0:
        return
    last = finish()
    if pending is None:
        last.index = 0  # a single message keeps the plain name
        yield last
        return
    yield pending
    yield last


def _unescape_from(data: bytes) -> bytes:
    """mboxrd un-escaping (">From " -> "From ") of a whole message, as iter_mbox does per line."""
    if b"\n>" not in data:
        return data
    return _ESCAPED_FROM.sub(rb"\1", data)


_ESCAPED_FROM = re.compile(rb"(?m)^>(>{0,64}From )")


def _read_file(path: str) -> Iterator[InputMessage]:
    try:
        with open(path, "rb") as fh:
            head = fh.read(5)
            fh.seek(0)
            if head == b"From ":
                small = fh.read(SMALL_MBOX_BYTES + 1)
                if len(small) <= SMALL_MBOX_BYTES and small.find(b"\nFrom ", 5) < 0:
                    # one message behind an mbox From_ line (the usual saved bounce): no splitting
                    body = small[small.find(b"\n") + 1 :] if b"\n" in small else b""
                    yield InputMessage(path=path, data=_unescape_from(body))
                    return
                fh.seek(0)
                yield from iter_mbox(fh, path)
                return
            data = fh.read(MAX_MESSAGE_BYTES + 1)
    except OSError as exc:
        yield InputMessage(path=path, error=f"cannot read: {exc.strerror or exc}")
        return
    truncated = len(data) > MAX_MESSAGE_BYTES
    yield InputMessage(path=path, data=data[:MAX_MESSAGE_BYTES], truncated=truncated)


def _is_maildir(path: str) -> bool:
    return all(os.path.isdir(os.path.join(path, sub)) for sub in ("cur", "new", "tmp"))


def _walk(path: str) -> Iterator[str]:
    """Regular, non-hidden files under a directory, in a stable (sorted) order.

    A Maildir contributes its new/ and cur/ messages (never tmp/: those are not delivered yet).
    """
    if _is_maildir(path):
        for sub in ("new", "cur"):
            yield from _walk(os.path.join(path, sub))
        return
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot list directory: {exc.strerror or exc}") from exc
    for name in names:
        if name.startswith("."):
            continue
        full = os.path.join(path, name)
        try:
            mode = os.stat(full).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode):
            yield from _walk(full)
        elif stat.S_ISREG(mode):
            yield full


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
                yield from _read_file(file_path)
        else:
            yield from _read_file(path)
