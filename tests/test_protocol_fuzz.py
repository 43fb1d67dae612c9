"""Property tests: random input never raises, never grows a buffer without bound, and read
boundaries never change what the server does."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpdiag.protocol import DataChunk, DotReader, MessageComplete, Send, ServerConnection
from smtpdiag.protocol import data as data_module
from smtpdiag.server.settings import Settings

SETTINGS = Settings(
    hostname="mx.test",
    local_domains=("example.com",),
    users={"u": "p"},
    require_tls_for_auth=False,
    max_message_size=5000,
    max_input_buffer=4096,
)
LIMIT = 64 * 1024  # no held input may exceed this, whatever the client sends

TOKENS = [
    b"EHLO c\r\n",
    b"HELO c\r\n",
    b"MAIL FROM:<a@b.test>\r\n",
    b"MAIL FROM:<> SIZE=10 BODY=8BITMIME\r\n",
    b"RCPT TO:<u@example.com>\r\n",
    b"RCPT TO:<x@relay.test>\r\n",
    b"DATA\r\n",
    b"BDAT 3\r\n",
    b"BDAT 2 LAST\r\n",
    b"BDAT x\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
    b"STARTTLS\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH LOGIN dQ==\r\n",
    b"AGFAcA==\r\n",
    b"*\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"..x\r\n",
    b"\n.\n",
    b"\r.\r",
    b"\r\n\x00.\r\n",
    b"\n",
    b"\r",
    b".",
    b"x" * 600,
    b"\xff\xfe",
    b"hello world\r\n",
]

streams = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=40)), max_size=40).map(b"".join)


def run(stream: bytes, cuts: list[int], *, complete: bool = True) -> tuple[list[bytes], list[bytes], bytes]:
    """Feed `stream` cut at `cuts`; return (messages, replies on the wire, all chunks joined)."""
    conn = ServerConnection(SETTINGS)
    wire: list[bytes] = []
    messages: list[bytes] = []
    current: list[bytes] = []
    pending = conn.start()

    def take(outs: list[object]) -> None:
        while outs:
            more: list[object] = []
            for o in outs:
                if isinstance(o, Send):
                    wire.append(o.data)
                elif isinstance(o, DataChunk):
                    current.append(o.data)
                elif isinstance(o, MessageComplete):
                    messages.append(b"".join(current))
                    current.clear()
                    if complete:
                        more = list(conn.complete_message())
                elif type(o).__name__ in ("MessageRejected", "MessageAborted", "Reset"):
                    current.clear()
            outs = more
            assert conn.buffered <= LIMIT

    take(list(pending))
    points = sorted({c for c in cuts if 0 < c < len(stream)})
    start = 0
    for p in [*points, len(stream)]:
        take(list(conn.receive_data(stream[start:p])))
        start = p
    take(list(conn.eof()))
    return messages, wire, b""


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.lists(st.integers(min_value=0, max_value=2000), max_size=8))
def test_random_streams_never_raise_and_stay_bounded(stream: bytes, cuts: list[int]) -> None:
    run(stream, cuts)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.lists(st.integers(min_value=0, max_value=2000), max_size=8))
def test_read_boundaries_do_not_change_the_outcome(stream: bytes, cuts: list[int]) -> None:
    whole = run(stream, [])
    split = run(stream, cuts)
    assert split[0] == whole[0]  # same messages
    assert b"".join(split[1]) == b"".join(whole[1])  # same replies, byte for byte


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=20_000))
def test_arbitrary_bytes_in_data_and_bdat(body: bytes) -> None:
    prefix = b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\n"
    run(prefix + b"DATA\r\n" + body + b"\r\n.\r\nQUIT\r\n", [len(prefix) + 7, len(prefix) + 500])
    run(prefix + b"BDAT %d LAST\r\n" % len(body) + body + b"QUIT\r\n", [len(prefix) + 20])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.binary(min_size=1, max_size=300).filter(lambda b: b"\r" not in b and b"\n" not in b), max_size=30
    )
)
def test_dot_stuffing_roundtrip(lines: list[bytes]) -> None:
    """What a client stuffs, the server unstuffs: any CRLF text arrives unchanged."""
    text = b"".join(line + b"\r\n" for line in lines)
    stuffed = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)
    prefix = b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n"
    messages, _, _ = run(prefix + stuffed + b".\r\n", [len(prefix) + len(stuffed) // 2])
    if len(text) <= SETTINGS.max_message_size:
        assert messages == [text]


def test_storing_buffer_is_bounded_without_completion() -> None:
    stream = (
        b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nx\r\n.\r\n"
        + b"NOOP\r\n" * 5000
    )
    run(stream, list(range(0, len(stream), 100)), complete=False)


# ------------------------------------------------------------------------------ DotReader vs a model
def reference_reader(
    stream: bytes, *, max_size: int, max_line: int, normalize: bool
) -> tuple[bytes, str | None, bytes] | None:
    """The rules of RFC 5321 written the slow, obvious way: the model DotReader must agree with."""
    if stream.startswith(b".\r\n"):
        content, rest = b"", stream[3:]
    else:
        end = stream.find(b"\r\n.\r\n")
        if end < 0:
            return None
        content, rest = stream[: end + 2], stream[end + 5 :]
    bare = re.search(rb"\r(?!\n)|(?<!\r)\n", content) is not None
    if bare and not normalize:
        return b"", "bare-lf", rest
    text = re.sub(rb"\r\n|\r|\n", b"\r\n", content) if bare else content
    lines = text.split(b"\r\n")[:-1]
    if max_line and any(len(line) + 2 > max_line for line in lines):
        return b"", "long-line", rest
    body = b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines)
    if len(body) > max_size:
        return b"", "too-big", rest
    return body, None, rest


def feed_reader(
    stream: bytes, cuts: list[int], *, max_size: int, max_line: int, normalize: bool
) -> tuple[bytes, str | None, bytes] | None:
    reader = DotReader(max_size=max_size, max_line=max_line, normalize=normalize)
    chunks: list[bytes] = []
    points = sorted({c for c in cuts if 0 < c < len(stream)})
    start = 0
    for p in [*points, len(stream)]:
        got, rest = reader.feed(stream[start:p])
        chunks += got
        if rest is not None:
            rest += stream[p:]
            return (b"".join(chunks) if reader.doom is None else b""), reader.doom, rest
        start = p
    return None


content_alphabet = st.lists(
    st.sampled_from(
        [b"a", b"b", b".", b"\r", b"\n", b"\r\n", b"\x00", b"\r\n.", b"\r\n..", b"\r\n.\r\n", b"x" * 70]
    ),
    max_size=120,
).map(b"".join)


@settings(max_examples=1500, deadline=None)
@given(
    content_alphabet,
    st.lists(st.integers(min_value=0, max_value=3000), max_size=10),
    st.sampled_from([0, 1000]),
    st.sampled_from([100, 10_000]),
    st.booleans(),
)
def test_dotreader_agrees_with_the_reference_model(
    stream: bytes, cuts: list[int], max_line: int, max_size: int, normalize: bool
) -> None:
    stream += b"\r\n.\r\ntail"
    expected = reference_reader(stream, max_size=max_size, max_line=max_line, normalize=normalize)
    got = feed_reader(stream, cuts, max_size=max_size, max_line=max_line, normalize=normalize)
    assert got == expected


@settings(max_examples=1500, deadline=None)
@given(
    content_alphabet,
    st.lists(st.integers(min_value=0, max_value=3000), max_size=10),
    st.sampled_from([0, 1000]),
    st.booleans(),
)
def test_dotreader_forced_flush_of_long_partial_lines_agrees_with_the_model(
    stream: bytes, cuts: list[int], max_line: int, normalize: bool
) -> None:
    """The same, with the partial-line hold limit shrunk to 5 so that nearly every read flushes."""
    saved = data_module._HOLD_LIMIT
    data_module._HOLD_LIMIT = 5  # type: ignore[misc]
    try:
        stream += b"\r\n.\r\ntail"
        expected = reference_reader(stream, max_size=10_000, max_line=max_line, normalize=normalize)
        got = feed_reader(stream, cuts, max_size=10_000, max_line=max_line, normalize=normalize)
        assert got == expected
    finally:
        data_module._HOLD_LIMIT = saved  # type: ignore[misc]
