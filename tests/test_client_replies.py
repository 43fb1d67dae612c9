"""The sans-I/O reply reader: bytes in, complete replies out, clear errors for malformed replies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpdiag.client.replies import MAX_LINE_OCTETS, ReplyError, ReplyReader, parse_replies
from smtpdiag.reply import Reply


def test_single_line_with_enhanced_code() -> None:
    assert parse_replies(b"550 5.1.1 <x@y>: Recipient address rejected\r\n") == [
        Reply(550, ("<x@y>: Recipient address rejected",), "5.1.1")
    ]


def test_multiline_reply_is_one_reply() -> None:
    data = b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n"
    (reply,) = parse_replies(data)
    assert reply.code == 250
    assert reply.lines == ("mx.example.com", "PIPELINING", "SIZE 1000", "STARTTLS")


def test_enhanced_code_on_every_line_is_taken_out() -> None:
    (reply,) = parse_replies(b"550-5.7.1 first\r\n550 5.7.1 second\r\n")
    assert reply.enhanced == "5.7.1"
    assert reply.lines == ("first", "second")


def test_enhanced_code_of_another_class_stays_in_text() -> None:
    (reply,) = parse_replies(b"250 5.1.1 odd\r\n")
    assert reply.enhanced is None
    assert reply.lines == ("5.1.1 odd",)


def test_code_alone_without_text() -> None:
    assert parse_replies(b"250\r\n") == [Reply(250, ("",), None)]


def test_incremental_feeding_byte_by_byte() -> None:
    data = b"220 hello\r\n250-a\r\n250 b\r\n"
    reader = ReplyReader()
    out: list[Reply] = []
    for byte in data:
        out.extend(reader.feed(bytes([byte])))
    assert [r.code for r in out] == [220, 250]
    assert not reader.pending


def test_bare_lf_is_tolerated() -> None:
    assert parse_replies(b"220 ok\n")[0].code == 220


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", "3-digit code not found"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "3-digit code not found"),
        (b"* OK IMAP4rev1 ready\r\n", "3-digit code not found"),
        (b"+OK POP3 ready\r\n", "3-digit code not found"),
        (b"22 short\r\n", "3-digit code not found"),
        (b"2200 four digits\r\n", "3-digit code not found"),
        (b"650 bad class\r\n", "3-digit code not found"),
        (b"270 bad second digit\r\n", "3-digit code not found"),
        (b"250-a\r\n251 b\r\n", "reply code changed from 250 to 251 within a multi-line reply"),
    ],
)
def test_malformed_replies_are_named(data: bytes, problem: str) -> None:
    with pytest.raises(ReplyError) as info:
        parse_replies(data)
    assert info.value.problem == problem


def test_tls_bytes_in_plaintext_are_not_smtp() -> None:
    # A TLS alert/handshake record as seen when a client speaks plaintext to port 465.
    with pytest.raises(ReplyError, match="3-digit code not found"):
        ReplyReader().feed(b"\x15\x03\x01\x00\x02\x02\x46\n")


def test_line_too_long_is_refused_without_buffering_forever() -> None:
    reader = ReplyReader()
    with pytest.raises(ReplyError, match="longer than"):
        for _ in range(10):
            reader.feed(b"2" * (MAX_LINE_OCTETS // 2))


def test_too_many_lines() -> None:
    with pytest.raises(ReplyError, match="more than 256 lines"):
        parse_replies(b"250-x\r\n" * 300 + b"250 end\r\n")


def test_eof_mid_reply_is_an_error() -> None:
    reader = ReplyReader()
    reader.feed(b"250-first\r\n250 sec")
    with pytest.raises(ReplyError, match="closed in the middle"):
        reader.eof()


@given(st.binary(max_size=600))
def test_arbitrary_bytes_give_replies_or_reply_error(data: bytes) -> None:
    reader = ReplyReader()
    try:
        replies = reader.feed(data)
    except ReplyError:
        return
    for reply in replies:
        assert 200 <= reply.code <= 559


@given(
    st.integers(200, 559).filter(lambda c: str(c)[1] in "012345"),
    st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40), min_size=1, max_size=5),
)
def test_round_trip_through_to_wire(code: int, lines: list[str]) -> None:
    reply = Reply(code=code, lines=tuple(line.strip() for line in lines))
    (back,) = parse_replies(reply.to_wire())
    assert back.code == code
    assert len(back.lines) == len(lines)
