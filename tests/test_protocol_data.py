"""DATA and BDAT content: the end only at CRLF.CRLF, SMTP smuggling, bare LF/CR, chunk boundaries."""

from __future__ import annotations

import pytest

from smtpdiag.protocol import (
    DataChunk,
    DataStart,
    Decision,
    DotReader,
    MessageAborted,
    MessageComplete,
    MessageRejected,
    State,
)
from smtpdiag.protocol import data as data_module
from smtpdiag.protocol import replies as R
from test_protocol_support import Driver, RecordingPolicy, code, make_settings

ENVELOPE = b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\n"

# The SMTP smuggling sequences (SEC Consult, 2023): each tries to end the DATA early so that what
# follows is read as a second, forged transaction.
SMUGGLING = [b"\n.\n", b"\n.\r\n", b"\r.\n", b"\r.\r", b"\r\n.\r", b"\r\n\x00.\r\n"]
FORGED = b"MAIL FROM:<admin@bank.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nForged\r\n"


def smuggling_stream(seq: bytes) -> bytes:
    return ENVELOPE + b"DATA\r\nSubject: real\r\n\r\nhello" + seq + FORGED + b"\r\n.\r\nQUIT\r\n"


def run_split(stream: bytes, cut: int, **settings: object) -> Driver:
    d = Driver(make_settings(**settings))  # type: ignore[arg-type]
    d.feed(stream[:cut])
    d.feed(stream[cut:])
    return d


@pytest.mark.parametrize("seq", SMUGGLING, ids=repr)
@pytest.mark.parametrize("bare_lf", ["reject", "normalize"])
def test_smuggling_never_yields_an_extra_message_at_any_split(seq: bytes, bare_lf: str) -> None:
    stream = smuggling_stream(seq)
    for cut in range(len(stream) + 1):
        d = run_split(stream, cut, bare_lf=bare_lf)
        completes = d.events(MessageComplete)
        assert len(completes) <= 1, (seq, cut)
        # at most one message, whose envelope is the real one, and the forged MAIL never ran
        assert all(c.envelope.sender == "a@b.test" for c in completes)
        assert len(d.events(DataStart)) == 1
        if completes:
            assert b"Forged" in d.messages[0]  # the "forged" part stayed inside the real message
        assert d.closed  # the QUIT after the real end was understood


@pytest.mark.parametrize("seq", SMUGGLING, ids=repr)
def test_smuggling_sequences_bytewise(seq: bytes) -> None:
    d = Driver(make_settings())
    d.feed_bytewise(smuggling_stream(seq))
    assert len(d.events(DataStart)) == 1
    assert len(d.events(MessageComplete)) + len(d.events(MessageRejected)) == 1


@pytest.mark.parametrize("seq", [b"\n.\n", b"\n.\r\n", b"\r.\n", b"\r.\r", b"\r\n.\r"], ids=repr)
def test_bare_lf_or_cr_rejected_by_default_after_the_end(seq: bytes) -> None:
    d = Driver(make_settings())
    replies = d.feed(smuggling_stream(seq))
    assert [code(r) for r in replies][-2:] == [(554, "5.5.2"), (221, "2.0.0")]
    assert d.messages == []
    assert d.events(MessageRejected)[0].reason == "bare-lf"


def test_nul_before_dot_is_content_not_an_end() -> None:
    d = Driver(make_settings())
    d.feed(smuggling_stream(b"\r\n\x00.\r\n"))
    assert len(d.messages) == 1
    assert b"\r\n\x00.\r\nMAIL FROM:<admin@bank.test>" in d.messages[0]


def test_normalize_turns_bare_endings_into_crlf() -> None:
    d = Driver(make_settings(bare_lf="normalize"))
    d.feed(ENVELOPE + b"DATA\r\na\nb\rc\r\n..d\n..e\r\n.\r\n")
    assert d.messages == [b"a\r\nb\r\nc\r\n.d\r\n.e\r\n"]


def test_bare_lf_in_normalize_mode_never_ends_data() -> None:
    d = Driver(make_settings(bare_lf="normalize"))
    replies = d.feed(ENVELOPE + b"DATA\r\nx\n.\nMAIL FROM:<x@y.test>\r\n")
    assert [r.code for r in replies] == [250, 250, 250, 354]  # still in DATA
    assert d.conn.state is State.DATA


def test_end_mark_split_at_every_boundary() -> None:
    body = b"line one\r\n..two\r\n.three\r\n\r\n"
    stream = ENVELOPE + b"DATA\r\n" + body + b".\r\nNOOP\r\n"
    for cut in range(len(stream) + 1):
        d = run_split(stream, cut)
        assert d.messages == [b"line one\r\n.two\r\nthree\r\n\r\n"], cut
        assert d.wire.endswith(b"250 2.0.0 Ok\r\n")


def test_three_way_splits_of_a_short_message() -> None:
    stream = ENVELOPE + b"DATA\r\n.a\r\n.\r\n"
    n = len(stream)
    start = len(ENVELOPE)
    for i in range(start, n + 1):
        for j in range(i, n + 1):
            d = Driver(make_settings())
            d.feed(stream[:i])
            d.feed(stream[i:j])
            d.feed(stream[j:])
            assert d.messages == [b"a\r\n"], (i, j)


def test_dotreader_long_partial_lines_are_flushed_in_bounded_memory() -> None:
    r = DotReader(max_size=10**9, max_line=0, normalize=False)
    out: list[bytes] = []
    for _ in range(1000):
        chunks, rest = r.feed(b"x" * 1000)
        out += chunks
        assert rest is None
        assert r.held <= data_module._HOLD_LIMIT + 1000
    chunks, rest = r.feed(b"\r\n.\r\nafter")
    out += chunks
    assert rest == b"after"
    assert b"".join(out) == b"x" * 1_000_000 + b"\r\n"


def test_dotreader_flush_never_splits_a_crlf_before_a_dot() -> None:
    # a long line whose CR falls exactly where the reader would cut
    for pad in range(data_module._HOLD_LIMIT - 8, data_module._HOLD_LIMIT + 8):
        r = DotReader(max_size=10**9, max_line=0, normalize=False)
        data = b"y" * pad + b"\r"
        chunks, rest = r.feed(data)
        chunks2, rest2 = r.feed(b"\n.\r\n")
        assert rest is None and rest2 == b"", pad
        assert b"".join(chunks + chunks2) == b"y" * pad + b"\r\n"


def test_dotreader_normalize_counts_lines_after_conversion() -> None:
    r = DotReader(max_size=10**9, max_line=1000, normalize=True)
    chunks, rest = r.feed((b"z" * 900 + b"\n") * 5 + b"\r\n.\r\n")
    assert rest == b"" and r.doom is None
    assert b"".join(chunks) == (b"z" * 900 + b"\r\n") * 5 + b"\r\n"


# ------------------------------------------------------------------------------ BDAT (RFC 3030)
def test_bdat_chunks_and_last() -> None:
    d = Driver(make_settings())
    replies = d.feed(ENVELOPE + b"BDAT 5\r\nhello" + b"BDAT 8 LAST\r\n world\r\n")
    assert [code(r) for r in replies][-2:] == [(250, "2.0.0"), (250, "2.0.0")]
    assert "5 octets" in replies[-2].text and "queued" in replies[-1].text
    assert d.messages == [b"hello world\r\n"]
    assert d.events(DataStart) == [DataStart("BDAT")]


def test_bdat_data_is_binary_and_may_contain_command_lookalikes() -> None:
    payload = b"\r\n.\r\nQUIT\r\n\n.\n"
    d = Driver(make_settings())
    d.feed(ENVELOPE + b"BDAT %d LAST\r\n" % len(payload) + payload + b"NOOP\r\n")
    assert d.messages == [payload]
    assert not d.closed


def test_bdat_split_at_every_boundary() -> None:
    stream = ENVELOPE + b"BDAT 3\r\nabcBDAT 0\r\nBDAT 2 LAST\r\nde" + b"NOOP\r\n"
    for cut in range(len(stream) + 1):
        d = run_split(stream, cut)
        assert d.messages == [b"abcde"], cut


def test_bdat_zero_last_and_empty_message() -> None:
    d = Driver(make_settings())
    d.feed(ENVELOPE + b"BDAT 0 LAST\r\n")
    assert d.messages == [b""]


def test_bdat_too_big_rest_skipped_and_later_chunks_refused_without_reading_data_as_commands() -> None:
    d = Driver(make_settings(max_message_size=10))
    replies = d.feed(
        ENVELOPE + b"BDAT 20\r\n" + b"QUIT\r\n" * 3 + b"xx" + b"BDAT 4 LAST\r\nQUIT" + b"NOOP\r\n"
    )
    codes = [code(r) for r in replies][3:]
    assert codes == [(552, "5.3.4"), (503, "5.5.1"), (250, "2.0.0")]
    assert d.messages == [] and not d.closed
    assert d.events(MessageRejected)[0].reason == "too-big"


def test_bdat_sequence_errors_skip_the_chunk() -> None:
    d = Driver(make_settings())
    d.feed(b"EHLO c\r\n")
    replies = d.feed(b"BDAT 6\r\nQUIT\r\nNOOP\r\n")
    assert [code(r) for r in replies] == [(503, "5.5.1"), (250, "2.0.0")]
    assert not d.closed


def test_bdat_then_data_is_refused_and_rset_aborts() -> None:
    d = Driver(make_settings())
    d.feed(ENVELOPE + b"BDAT 3\r\nabc")
    assert code(d.cmd("DATA")) == (503, "5.5.1")
    assert code(d.cmd("RSET")) == (250, "2.0.0")
    assert d.events(MessageAborted)
    assert d.messages == []


def test_bdat_bad_size_closes() -> None:
    d = Driver(make_settings())
    replies = d.feed(ENVELOPE + b"BDAT lots\r\n")
    assert code(replies[-1]) == (501, "5.5.4")
    assert d.closed


def test_bdat_first_chunk_refused_by_policy_abandons_transaction() -> None:
    st = make_settings()
    d = Driver(st, RecordingPolicy(st, {"data": Decision(R.SPAM_REJECTED)}))
    replies = d.feed(ENVELOPE + b"BDAT 3\r\nabcBDAT 3 LAST\r\ndef")
    assert [code(r) for r in replies][-2:] == [(550, "5.7.1"), (503, "5.5.1")]
    assert d.messages == []


def test_bdat_when_chunking_disabled() -> None:
    d = Driver(make_settings(chunking=False))
    r = d.ehlo()
    assert "CHUNKING" not in r.lines
    replies = d.feed(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nBDAT 4\r\nNOOPNOOP\r\n")
    assert [code(x) for x in replies] == [(250, "2.1.0"), (250, "2.1.5"), (502, "5.5.1"), (250, "2.0.0")]


def test_data_chunks_stream_without_buffering_the_whole_message() -> None:
    d = Driver(make_settings(max_message_size=50_000_000, max_text_line=0))
    d.feed(ENVELOPE + b"DATA\r\n")
    line = b"0123456789" * 100 + b"\r\n"
    seen = 0
    for _ in range(2000):  # 2 MB
        before = len(d.outputs)
        d.feed(line * 1)
        seen += sum(len(o.data) for o in d.outputs[before:] if isinstance(o, DataChunk))
        assert d.conn.buffered < 10_000
    d.feed(b".\r\n")
    assert seen == len(line) * 2000 and len(d.messages[0]) == seen
