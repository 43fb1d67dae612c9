"""Reading bounce inputs: .eml files, directories, Maildir, mbox (mboxo/mboxrd), stdin."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from smtpdiag.bounce import inputs
from smtpdiag.bounce.inputs import InputError, check_paths, iter_inputs, iter_mbox

MSG_A = b"From: a@example.org\r\nSubject: one\r\n\r\nbody a\r\n"
MSG_B = b"From: b@example.org\nSubject: two\n\nFrom the body, not a separator\n>From escaped\n"


def mbox_of(*messages: bytes) -> bytes:
    out = b""
    for m in messages:
        out += b"From MAILER-DAEMON Sat Nov 28 16:00:00 2026\n" + m + b"\n"
    return out


def test_plain_eml_is_one_message(tmp_path: Path) -> None:
    path = tmp_path / "x.eml"
    path.write_bytes(MSG_A)
    got = list(iter_inputs([str(path)]))
    assert [(m.source, m.data) for m in got] == [(str(path), MSG_A)]


def test_eml_with_mbox_from_line_keeps_plain_name(tmp_path: Path) -> None:
    path = tmp_path / "x.eml"
    path.write_bytes(mbox_of(MSG_A))
    (message,) = iter_inputs([str(path)])
    assert message.source == str(path)
    assert message.data.startswith(b"From: a@example.org")


def test_mbox_splits_and_unescapes(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_bytes(mbox_of(MSG_A, MSG_B, MSG_A))
    got = list(iter_inputs([str(path)]))
    assert [m.source for m in got] == [f"{path}:1", f"{path}:2", f"{path}:3"]
    assert got[1].data.startswith(b"From: b@example.org")
    # a body line "From the body" not preceded by a blank line is not a separator
    assert b"From the body, not a separator" in got[1].data
    assert b"\nFrom escaped\n" in got[1].data  # mboxrd ">From " un-escaped


def test_body_line_after_blank_line_without_date_is_not_a_separator() -> None:
    data = b"From x@y Sat Nov 28 16:00:00 2026\nSubject: s\n\nhello\n\nFrom me to you\nbye\n"
    got = list(iter_mbox(io.BytesIO(data), "s"))
    assert len(got) == 1
    assert b"From me to you" in got[0].data


def test_directory_and_maildir(tmp_path: Path) -> None:
    maildir = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1").write_bytes(MSG_A)
    (maildir / "cur" / "2:2,S").write_bytes(MSG_B)
    (maildir / "tmp" / "3").write_bytes(b"not delivered yet")
    (tmp_path / ".hidden").write_bytes(b"x")
    (tmp_path / "z.eml").write_bytes(MSG_A)
    sources = [m.source for m in iter_inputs([str(tmp_path)])]
    assert sources == [str(maildir / "new" / "1"), str(maildir / "cur" / "2:2,S"), str(tmp_path / "z.eml")]


def test_stdin_mbox_stream() -> None:
    got = list(iter_inputs(["-"], stdin=io.BytesIO(mbox_of(MSG_A, MSG_B))))
    assert [m.source for m in got] == ["-:1", "-:2"]
    assert [(m.path, m.index) for m in got] == [("-", 1), ("-", 2)]


def test_empty_stdin_gives_nothing() -> None:
    assert list(iter_inputs(["-"], stdin=io.BytesIO(b""))) == []


def test_oversized_message_is_cut_and_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_MESSAGE_BYTES", 100)
    path = tmp_path / "big.eml"
    path.write_bytes(b"Subject: big\n\n" + b"x" * 500)
    (message,) = iter_inputs([str(path)])
    assert message.truncated and len(message.data) == 100
    box = tmp_path / "big.mbox"
    box.write_bytes(mbox_of(b"Subject: big\n\n" + b"y\n" * 300, MSG_A))
    first, second = iter_inputs([str(box)])
    assert first.truncated and len(first.data) <= 100
    assert not second.truncated and second.data.startswith(b"From: a@")


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        check_paths([str(tmp_path / "nope")])


def test_unreadable_file_is_an_error_record(tmp_path: Path) -> None:
    path = tmp_path / "locked.eml"
    path.write_bytes(MSG_A)
    path.chmod(0)
    try:
        (message,) = iter_inputs([str(path)])
    finally:
        path.chmod(0o644)
    if not message.error:  # running as root: permissions do not apply
        assert message.data == MSG_A
    else:
        assert "cannot read" in message.error


def test_mbox_streaming_reads_one_message_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader must not run ahead of the consumer (flat memory on huge mboxes)."""
    monkeypatch.setattr(inputs, "MBOX_READ_BYTES", 4096)

    class CountingStream(io.BytesIO):
        bytes_read = 0

        def read1(self, size: int = -1) -> bytes:
            data = super().read1(size)
            CountingStream.bytes_read += len(data)
            return data

    stream = CountingStream(mbox_of(*([MSG_A] * 10000)))
    first = next(iter_mbox(stream, "s"))
    assert first.data.startswith(b"From: a@")
    assert CountingStream.bytes_read <= 4096


def test_dated_from_line_splits_even_without_a_blank_line() -> None:
    data = (
        b"From MAILER-DAEMON  Thu Jul  2 12:05:05 2020\nSubject: one\n\n--b--\n"
        b"From double-bounce@example.com  Thu Jul  2 12:05:05 2020\nSubject: two\n\nbody\n"
        b"From the 2020 report we learn nothing\n"  # no asctime date: not a separator here
    )
    got = list(iter_mbox(io.BytesIO(data), "s"))
    assert [m.source for m in got] == ["s:1", "s:2"]
    assert got[1].data.startswith(b"Subject: two") and b"From the 2020 report" in got[1].data


# --- the os-level reader against the reference (the plain buffered-file reader it replaced) -------


def _reference_read_file(path: str) -> list[inputs.InputMessage]:
    """The earlier reader: open(), read(5) + seek, then read(MAX_MESSAGE_BYTES + 1)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(5)
            fh.seek(0)
            if head == b"From ":
                small = fh.read(inputs.SMALL_MBOX_BYTES + 1)
                if len(small) <= inputs.SMALL_MBOX_BYTES and small.find(b"\nFrom ", 5) < 0:
                    body = small[small.find(b"\n") + 1 :] if b"\n" in small else b""
                    if b"\n>" in body:
                        body = re.sub(rb"(?m)^>(>{0,64}From )", rb"\1", body)
                    return [inputs.InputMessage(path=path, data=body)]
                fh.seek(0)
                return list(iter_mbox(fh, path))
            data = fh.read(inputs.MAX_MESSAGE_BYTES + 1)
    except OSError as exc:
        return [inputs.InputMessage(path=path, error=f"cannot read: {exc.strerror or exc}")]
    truncated = len(data) > inputs.MAX_MESSAGE_BYTES
    return [inputs.InputMessage(path=path, data=data[: inputs.MAX_MESSAGE_BYTES], truncated=truncated)]


def _reference_walk(path: str) -> list[str]:
    """The earlier directory walk: sorted os.listdir and an os.stat per entry."""
    import os
    import stat

    if all(os.path.isdir(os.path.join(path, sub)) for sub in ("cur", "new", "tmp")):
        return _reference_walk(os.path.join(path, "new")) + _reference_walk(os.path.join(path, "cur"))
    found: list[str] = []
    for name in sorted(os.listdir(path)):
        if name.startswith("."):
            continue
        full = os.path.join(path, name)
        try:
            mode = os.stat(full).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode):
            found += _reference_walk(full)
        elif stat.S_ISREG(mode):
            found.append(full)
    return found


def _as_tuples(messages: list[inputs.InputMessage]) -> list[tuple[str, int, bytes, str, bool]]:
    return [(m.path, m.index, m.data, m.error, m.truncated) for m in messages]


def _reference_inputs(root: str) -> list[tuple[str, int, bytes, str, bool]]:
    return _as_tuples([m for path in _reference_walk(root) for m in _reference_read_file(path)])


def _awkward_tree(root: Path) -> None:
    """Files on every branch of the reader: limits, mbox shapes, links, hidden files, a Maildir."""
    cases = {
        "empty": b"",
        "from4": b"From",
        "from-no-newline": b"From MAILER-DAEMON Sat Nov 28 16:00:00 2026",
        "single.mbox": mbox_of(MSG_B),
        "single-escaped.mbox": b"From x Sat Nov 28 16:00:00 2026\nSubject: s\n\n>From a\n>>From b\n",
        "two.mbox": mbox_of(MSG_A, MSG_B),
        "many.mbox": mbox_of(*([MSG_A, MSG_B] * 40)),  # above the (patched) small-mbox size
        "big-one.mbox": b"From x Sat Nov 28 16:00:00 2026\n" + b"line of text\n" * 40,
        "plain.eml": MSG_A,
        "crlf.eml": MSG_A.replace(b"\n", b"\r\n"),
        "mid-size.eml": b"Subject: m\n\n" + b"m" * 150,  # between the small-mbox size and the limit
        "huge.eml": b"Subject: h\n\n" + b"h" * 5000,  # beyond the limit: cut and flagged
        "exact.eml": b"e" * 300,  # exactly the limit: kept whole
        "over-by-one.eml": b"e" * 301,
    }
    for name, data in cases.items():
        (root / name).write_bytes(data)
    (root / ".hidden").write_bytes(MSG_A)
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "deeper" / "x.eml").write_bytes(MSG_B)
    (root / "sub" / "a.eml").write_bytes(MSG_A)
    (root / "link-to-file").symlink_to(root / "plain.eml")
    (root / "link-to-dir").symlink_to(root / "sub")
    (root / "broken-link").symlink_to(root / "nowhere")
    for sub in ("cur", "new", "tmp"):
        (root / "maildir" / sub).mkdir(parents=True)
    (root / "maildir" / "new" / "1").write_bytes(MSG_A)
    (root / "maildir" / "cur" / "2:2,S").write_bytes(mbox_of(MSG_B))
    (root / "maildir" / "tmp" / "3").write_bytes(b"not delivered yet")
    (root / "maildir" / "stray").write_bytes(b"outside new/ and cur/")
    (root / "not-a-maildir" / "cur").mkdir(parents=True)
    (root / "not-a-maildir" / "new").mkdir()
    (root / "not-a-maildir" / "new" / "m").write_bytes(MSG_A)


def test_reader_matches_the_reference_on_every_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "SMALL_MBOX_BYTES", 120)
    monkeypatch.setattr(inputs, "MAX_MESSAGE_BYTES", 300)
    monkeypatch.setattr(inputs, "READ_CHUNK_BYTES", 7)  # many short reads past the fstat size
    _awkward_tree(tmp_path)
    got = _as_tuples(list(iter_inputs([str(tmp_path)])))
    assert got == _reference_inputs(str(tmp_path))
    assert any(truncated for *_, truncated in got) and any(index for _, index, *_ in got)


@pytest.mark.parametrize("seed", range(40))
def test_reader_matches_the_reference_on_mutated_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Random files built from the pieces the reader looks at (From_ lines, escapes, line ends)."""
    import random

    monkeypatch.setattr(inputs, "SMALL_MBOX_BYTES", 200)
    monkeypatch.setattr(inputs, "MAX_MESSAGE_BYTES", 350)
    pieces = [
        b"From ",
        b"From x Sat Nov 28 16:00:00 2026\n",
        b"\n",
        b"\r\n",
        b">From ",
        b">>From ",
        b">" * 65 + b"From ",  # the most ">" a single saved message is un-escaped for
        b">" * 66 + b"From ",
        b"text",
        b"F",
    ]
    rng = random.Random(seed)
    for number in range(12):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 60)))
        (tmp_path / f"{number:02d}").write_bytes(data)
    assert _as_tuples(list(iter_inputs([str(tmp_path)]))) == _reference_inputs(str(tmp_path))


def test_reader_reads_the_corpus_like_the_reference() -> None:
    corpus = Path(__file__).parent / "data" / "bounces" / "emails"
    if not corpus.is_dir():
        pytest.skip("no corpus")
    assert _as_tuples(list(iter_inputs([str(corpus)]))) == _reference_inputs(str(corpus))


def test_a_named_file_and_a_directory_read_alike(tmp_path: Path) -> None:
    (tmp_path / "box").write_bytes(mbox_of(MSG_A, MSG_B))
    (tmp_path / "one.eml").write_bytes(MSG_A)
    by_dir = _as_tuples(list(iter_inputs([str(tmp_path)])))
    by_name = _as_tuples(list(iter_inputs([str(tmp_path / "box"), str(tmp_path / "one.eml")])))
    assert by_dir == by_name


def test_large_mbox_streams_from_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An mbox larger than SMALL_MBOX_BYTES is split from the file itself, which is then closed,
    also when the reader stops half-way."""
    import os

    monkeypatch.setattr(inputs, "SMALL_MBOX_BYTES", 64)
    monkeypatch.setattr(inputs, "MBOX_READ_BYTES", 100)
    path = tmp_path / "box"
    path.write_bytes(mbox_of(*([MSG_A] * 50)))
    open_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    got = list(iter_inputs([str(path)]))
    assert [m.index for m in got] == list(range(1, 51))
    assert all(m.data == MSG_A + b"\n" for m in got[:-1])
    messages = iter_inputs([str(path)])
    next(messages)
    messages.close()
    if open_before is not None:
        assert len(os.listdir("/proc/self/fd")) == open_before


def test_unlistable_directory_is_an_input_error(tmp_path: Path) -> None:
    sub = tmp_path / "locked"
    sub.mkdir()
    (sub / "x.eml").write_bytes(MSG_A)
    sub.chmod(0)
    try:
        try:
            got = list(iter_inputs([str(tmp_path)]))
        except InputError as exc:
            assert "cannot list directory" in str(exc)
        else:  # running as root: permissions do not apply
            assert [m.data for m in got] == [MSG_A]
    finally:
        sub.chmod(0o755)


def test_plain_message_on_a_pipe_is_read(tmp_path: Path) -> None:
    """A named pipe (as from `<(zcat x.eml.gz)`): no seek needed, so it reads like a file."""
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as writer:
            writer.write(MSG_A * 3000)  # larger than a pipe buffer: several reads

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        (message,) = iter_inputs([str(fifo)])
    finally:
        feeder.join(timeout=10)
    assert message.data == MSG_A * 3000 and not message.error


# --- the buffered mbox splitter against the reference (the line-by-line splitter it replaced) ---


def _reference_iter_mbox(stream: io.BytesIO, source: str) -> list[inputs.InputMessage]:
    """The earlier splitter: every line through readline(MAX_LINE_BYTES) and the state machine."""
    out: list[inputs.InputMessage] = []
    pending: inputs.InputMessage | None = None
    current: list[bytes] = []
    size, truncated, count, previous_blank = 0, False, 0, True
    while True:
        line = stream.readline(inputs.MAX_LINE_BYTES)
        if not line:
            break
        if inputs.is_mbox_separator(line, after_blank_line=previous_blank or count == 0):
            if count:
                if pending is not None:
                    out.append(pending)
                pending = inputs.InputMessage(source, count, b"".join(current), truncated=truncated)
            count += 1
            current, size, truncated = [], 0, False
            previous_blank = False
            continue
        previous_blank = line in (b"\n", b"\r\n")
        if count == 0:
            count = 1
        if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
            line = line[1:]
        if size + len(line) > inputs.MAX_MESSAGE_BYTES:
            truncated = True
            continue
        current.append(line)
        size += len(line)
    if count == 0:
        return out
    last = inputs.InputMessage(source, count, b"".join(current), truncated=truncated)
    if pending is None:
        last.index = 0
        return [*out, last]
    return [*out, pending, last]


class _TricklingStream(io.BytesIO):
    """A pipe-like stream: read1 hands out a few bytes at a time."""

    def __init__(self, data: bytes, seed: int) -> None:
        super().__init__(data)
        self.sizes = __import__("random").Random(seed)

    def read1(self, size: int = -1) -> bytes:
        return super().read1(min(size, self.sizes.randrange(1, 40)))


_MBOX_PIECES = [
    b"From MAILER-DAEMON Sat Nov 28 16:00:00 2026\n",
    b"From x@y  Thu Jul  2 12:05:05 2020\r\n",
    b"From someone in 2020\n",
    b"From a b 2020 ",  # a separator that may run on into a line longer than MAX_LINE_BYTES
    b">" * 70 + b"From ",
    b"From the body\n",
    b"From ",
    b"\n",
    b"\r\n",
    b"\r",
    b">From ",
    b">>From ",
    b">",
    b"Subject: s\n",
    b"text ",
    b"x" * 70,
]


def test_mbox_splitter_matches_the_reference_on_mutated_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random mboxes under tiny limits: separators, escapes, blank lines, cuts, long-line pieces."""
    import random

    rng = random.Random(1234)
    for case in range(600):
        monkeypatch.setattr(inputs, "MAX_LINE_BYTES", rng.choice([8, 13, 45, 64, 300, 64 * 1024]))
        monkeypatch.setattr(inputs, "MAX_MESSAGE_BYTES", rng.choice([10, 60, 200, 1000, 10 * 1024 * 1024]))
        monkeypatch.setattr(inputs, "MBOX_READ_BYTES", rng.choice([1, 5, 64, 4096, 256 * 1024]))
        data = b"".join(rng.choice(_MBOX_PIECES) for _ in range(rng.randrange(0, 80)))
        expected = _as_tuples(_reference_iter_mbox(io.BytesIO(data), "s"))
        assert _as_tuples(list(iter_mbox(io.BytesIO(data), "s"))) == expected, (case, data)
        assert _as_tuples(list(iter_mbox(_TricklingStream(data, case), "s"))) == expected, (case, data)
        in_memory = list(inputs._split_mbox(inputs._MboxReader(None, data), "s"))
        assert _as_tuples(in_memory) == expected, (case, data)


def test_mbox_splitter_matches_the_reference_on_the_corpus_as_one_mbox() -> None:
    corpus = Path(__file__).parent / "data" / "bounces" / "emails"
    if not corpus.is_dir():
        pytest.skip("no corpus")
    box = b"".join(
        b"From MAILER-DAEMON Sat Nov 28 16:00:00 2026\n" + path.read_bytes() + b"\n"
        for path in sorted(corpus.iterdir())
    )
    got = _as_tuples(list(iter_mbox(io.BytesIO(box), "box")))
    assert got == _as_tuples(_reference_iter_mbox(io.BytesIO(box), "box"))
    assert len(got) > 400


def test_whole_message_unescaping_matches_the_per_line_rules() -> None:
    """Both whole-message un-escapers against the rules they replace, on random line mixes."""
    import random

    def per_line(data: bytes) -> bytes:  # what the line-by-line mbox reader does
        lines = io.BytesIO(data).readlines()  # split after each "\n" only
        return b"".join(
            line[1:] if line.startswith(b">") and line.lstrip(b">").startswith(b"From ") else line
            for line in lines
        )

    def single_file(data: bytes) -> bytes:  # the earlier single-message rule (at most 64 more ">")
        return data if b"\n>" not in data else re.sub(rb"(?m)^>(>{0,64}From )", rb"\1", data)

    pieces = [
        b"\n",
        b"\r\n",
        b">",
        b">From ",
        b"From ",
        b"x",
        b">" * 64,
        b">" * 65 + b"From ",
        b"\x0b",
        b"\r",
    ]
    rng = random.Random(99)
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 14)))
        assert inputs._unescape_mboxrd(data) == per_line(data), data
        assert inputs._unescape_from(data) == single_file(data), data
