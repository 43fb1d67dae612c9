"""Reading bounce inputs: .eml files, directories, Maildir, mbox (mboxo/mboxrd), stdin."""

from __future__ import annotations

import io
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


def test_mbox_streaming_reads_one_message_at_a_time() -> None:
    """The reader must not run ahead of the consumer (flat memory on huge mboxes)."""

    class CountingStream(io.BytesIO):
        lines_read = 0

        def readline(self, size: int | None = -1) -> bytes:
            CountingStream.lines_read += 1
            return super().readline(size)

    stream = CountingStream(mbox_of(*([MSG_A] * 1000)))
    first = next(iter_mbox(stream, "s"))
    assert first.data.startswith(b"From: a@")
    assert CountingStream.lines_read < 20


def test_dated_from_line_splits_even_without_a_blank_line() -> None:
    data = (
        b"From MAILER-DAEMON  Thu Jul  2 12:05:05 2020\nSubject: one\n\n--b--\n"
        b"From double-bounce@example.com  Thu Jul  2 12:05:05 2020\nSubject: two\n\nbody\n"
        b"From the 2020 report we learn nothing\n"  # no asctime date: not a separator here
    )
    got = list(iter_mbox(io.BytesIO(data), "s"))
    assert [m.source for m in got] == ["s:1", "s:2"]
    assert got[1].data.startswith(b"Subject: two") and b"From the 2020 report" in got[1].data
