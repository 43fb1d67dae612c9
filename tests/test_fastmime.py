"""fastmime builds the tree the stdlib feed parser builds (compat32), as light parts, faster."""

from __future__ import annotations

import email
import random
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpdiag.bounce import fastmime

CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"
EMAILS = sorted(CORPUS.glob("*.eml"))


def tree(msg: Message) -> object:
    """What a bounce reads of a stdlib message, as plain data: fields, content type, payload.

    (The raw payload as the parser left it; preamble, epilogue and the envelope line are not kept
    by fastmime, nothing reads them.)
    """
    payload = vars(msg).get("_payload")
    if isinstance(payload, list):
        payload = [tree(p) for p in payload]
    return {"fields": list(msg.raw_items()), "ctype": msg.get_content_type(), "payload": payload}


def part_tree(part: fastmime.Part) -> object:
    payload = part.body if part.children is None else [part_tree(p) for p in part.children]
    if part.source is not None:  # a converted stdlib tree: its payload is the Message's
        assert part.body == ""
        payload = tree(part.source)["payload"] if part.children is None else payload  # type: ignore[index]
    return {"fields": part.fields, "ctype": part.ctype, "payload": payload}


def stdlib(data: bytes) -> object:
    return tree(email.message_from_bytes(data, policy=compat32))


def fast(data: bytes) -> object:
    return part_tree(fastmime.parse(data))


def test_corpus_trees_are_identical() -> None:
    assert len(EMAILS) > 400
    for path in EMAILS:
        data = path.read_bytes()
        assert fast(data) == stdlib(data), path.name


def test_corpus_with_crlf_line_ends() -> None:
    for path in EMAILS[::5]:
        data = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert fast(data) == stdlib(data), path.name


def test_the_fast_path_is_taken_for_ordinary_messages() -> None:
    """A fallback on every message would pass the comparisons while gaining nothing."""
    taken = 0
    for path in EMAILS:
        text = path.read_bytes().decode("ascii", "surrogateescape")
        if text.count("\r") != text.count("\r\n"):
            continue  # bare CR line ends go to the stdlib by design
        assert fastmime._Parser(text).message().source is None, path.name
        taken += 1
    assert taken >= len(EMAILS) - 5


def test_field_names_are_the_feed_parsers() -> None:
    """_FIELDS and _STATUS_LINES spell out the feed parser's field-name characters."""
    name_chars = "[\\041-\\071\\073-\\176]"
    assert name_chars in fastmime._HEADER_LINE.pattern
    assert fastmime._FIELDS.pattern.count(name_chars) == 2
    assert fastmime._STATUS_LINES.pattern.count(name_chars) == 1
    assert name_chars + "*+:" in fastmime._HEADER_BLOCK.pattern  # made possessive


def test_a_stdlib_tree_converts_to_the_same_parts() -> None:
    for path in EMAILS[::7]:
        data = path.read_bytes()
        converted = fastmime.from_message(email.message_from_bytes(data, policy=compat32))
        assert part_tree(converted) == fast(data), path.name


MULTIPART = (
    b"From: a@example.com\nContent-Type: multipart/report; report-type=delivery-status;\n"
    b' boundary="B1"\n\npreamble line\n\n--B1\nContent-Type: text/plain\n\nhello\n\n'
    b"--B1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
    b"Final-Recipient: rfc822; u@example.org\nAction: failed\nStatus: 5.1.1\n\n\n"
    b'--B1\nContent-Type: multipart/alternative; boundary="B2"\n\n--B2\n\ninner\n--B2--\nepi2\n'
    b"--B1\nContent-Type: message/rfc822\n\nSubject: original\nTo: u@example.org\n\nbody\n"
    b"--B1--\nepilogue\n"
)

EDGE_CASES = [
    MULTIPART,
    b"",
    b"\n",
    b"Subject: x",
    b"Subject: x\n",
    b"no header at all\n\nbody\n",
    b"From someone Sat Nov 28 2026\nSubject: x\n\nbody",
    b"Subject: x\nFrom someone\n\nbody\n",  # a From_ line ends the header block
    b"Subject: x\nFrom someone\nTo: y\n\nbody\n",
    b" continued first\nSubject: x\n\nbody\n",
    b":no name\nSubject: x\n\nbody\n",
    b"Content-Type: multipart/mixed\n\nno boundary parameter\n",
    b"Content-Type: multipart/mixed; boundary=b\n\nno start boundary\n",
    b"Content-Type: multipart/mixed; boundary=b\n\npre\n--b--\nafter close\n",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\ndouble\n--b\n--b--\n\nepi",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b--\n\nclose as a repeat\n--b--",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b \t\nx\n--bb\n--b-- \n",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\nx\n--b---\n--b--",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\nunclosed",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\n",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b--",
    b'Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary="a-"\n\n'
    b"--a-\nx\n--a--\n--a-\ny\n--a\nz\n--a--\n",
    b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: in digest\n\nx\n--d\n"
    b"Content-Type: text/plain\n\ny\n--d--\n",
    b"Content-Type: message/delivery-status\n\n",
    b"Content-Type: message/delivery-status\n\n\n\nA: 1\n\n\n\nB: 2\nnot a header\nC: 3\n",
    b"Content-Type: message/delivery-status\n\nA: 1\nFrom x\n\nB: 2",
    b"Content-Type: message/delivery-status\n\nContent-Type: multipart/mixed; boundary=x\n\n",
    b"Content-Type: message/delivery-status\n\n\n\nA: 1\n\n\n\nB: 2\n C\n\n",
    b"Content-Type: message/delivery-status\n\n:no name\n orphan\nA: 1\n\n orphan\n\n\n",
    b"Content-Type: message/delivery-status\r\n\r\nA: 1\r\n\r\n\r\nB: 2\r\n C\r\n\r\n",
    b"Content-Type: message/delivery-status\n\nContent-Type: text/x-y\nArrival-Date: x\n\nB: 2",
    b"Content-Type: message/rfc822\n\n",
    b"Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\nSubject: deep\n\nbody\n",
    b"Subject: 8bit \xe9\xff\nContent-Type: text/plain; charset=utf-8\n\n\xd0\x9f\xd1\x80\n",
    b"Subject: x\r\nbare CR\rline\r\n\r\nbody\r",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
    b"Content-Type: multipart/mixed; boundary=b\n folded\n--b\n folded",  # found by hypothesis
    b'Content-Type: multipart/mixed; boundary="b\n x"\n\n--b\n x\n\n--b\n x--\n',
]


@pytest.mark.parametrize("data", EDGE_CASES)
def test_edge_cases(data: bytes) -> None:
    assert fast(data) == stdlib(data)


HOSTILE = [
    b"".join(b"X-H%d: v\n" % i for i in range(5000)) + b"\nbody",
    b"Subject: " + b"a" * 200_000 + b"\n\nbody",
    b"a" * 200_000,
    b"Content-Type: multipart/mixed; boundary=b\n\n" + b"x--b" * 20_000,
    b"Content-Type: multipart/mixed; boundary=b\n\n" + (b"--b" + b" " * 500 + b"x\n") * 200,
    b"Content-Type: message/delivery-status\n\n" + b"A: 1\n\n" * 900,  # (under MAX_ENTITIES)
]


@pytest.mark.parametrize("data", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_shapes(data: bytes) -> None:
    assert fast(data) == stdlib(data)


def test_deep_nesting_falls_back_to_the_stdlib() -> None:
    depth = fastmime.MAX_DEPTH + 5
    data = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth))
    data += b"\nleaf\n"
    assert fast(data) == stdlib(data)


def test_many_parts_are_read_as_one_text() -> None:
    body = b"--b\n\nx\n" * (fastmime.MAX_ENTITIES + 1)
    for eol in (b"\n", b"\r"):  # (bare CRs: the case the stdlib would otherwise parse)
        data = (b"Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n" + body).replace(b"\n", eol)
        part = fastmime.parse(data)
        assert part.ctype == "text/plain" and not part.children
        assert part.body.count("x") == fastmime.MAX_ENTITIES + 1
    blocks = b"Content-Type: message/delivery-status\n\n" + b"A: 1\n\n" * (fastmime.MAX_ENTITIES + 1)
    assert fastmime.parse(blocks).ctype == "text/plain"
    few = b"Content-Type: multipart/mixed; boundary=b\n\n" + b"--b\n\nx\n" * (fastmime.MAX_ENTITIES - 1)
    assert fast(few) == stdlib(few)


def _mutations(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 6)):
        if not lines:
            break
        i = rng.randrange(len(lines))
        op = rng.randrange(6)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            lines[i] = b""
        elif op == 3:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op == 4:
            lines.insert(i, rng.choice([b"--", b"From x", b" cont", b"X: y", b"\r", b"--b--"]))
        else:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def test_mutated_corpus_messages() -> None:
    rng = random.Random(20261128)
    multipart = [p.read_bytes() for p in EMAILS if b"boundary" in p.read_bytes()[:4000]]
    for _ in range(600):
        data = _mutations(rng.choice(multipart), rng)
        assert fast(data) == stdlib(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                b"Content-Type: multipart/mixed; boundary=b",
                b"Content-Type: message/rfc822",
                b"Content-Type: message/delivery-status",
                b"Content-Type: multipart/digest; boundary=c",
                b"Subject: s",
                b" folded",
                b"",
                b"--b",
                b"--b--",
                b"--c",
                b"--c--",
                b"From x",
                b"text",
                b"\r",
                b"--b \t",
            ]
        ),
        max_size=30,
    ),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_generated_structures(lines: list[bytes], eol: bytes) -> None:
    data = eol.join(lines)
    assert fast(data) == stdlib(data)


HEADER_LINES = [
    "Subject: hi",
    "To:a@example.org",
    "X-Empty:",
    "X-Blank:   \t",
    "  folded",
    "\tfolded tab",
    " ",
    ":no name",
    "no colon here",
    "From a@example.org Mon Jan  1 10:00:00 2024",
    "Bad Name: x",
    "Caf" + chr(0xDCE9) + ": x",
    "X-Caf: " + chr(0xDCE9),
    "Ctl\x7f: x",
    "A:b:c",
    "Received: from x\r",
    "  more\r",
    "K" * 300 + ": v",
    "Tab\tName: x",
]


def test_field_lines_are_what_the_fields_regex_finds() -> None:
    """_field_lines gives _FIELDS.findall's fields, or None where that ends in its ("", "") match."""
    rng = random.Random(5)
    for _ in range(20000):
        lines = [rng.choice(HEADER_LINES) for _ in range(rng.randint(1, 8))]
        text = "\n".join(lines) + rng.choice(["", "\n"])
        found = fastmime._FIELDS.findall(text)
        mine, block_end = fastmime._field_lines(text, 0, len(text))
        if found and not found[-1][0]:
            assert mine is None, lines
        else:
            assert mine == found, lines
            assert block_end == len(text)


def _read_block_both_ways(text: str, start: int, end: int) -> None:
    parser = fastmime._Parser(text)
    old: list[tuple[str, str]] = []
    new: list[tuple[str, str]] = []
    # (interpreted, _header_block reads with the _FIELDS regex)
    try:
        old_body: object = parser._header_block(old, start, parser._empty_line(start, end), end)
    except fastmime._Fallback:
        old_body = "fallback"
    found, block_end = fastmime._field_lines(text, start, end)
    try:
        new_body: object = parser._block_fields(new, found, start, block_end, end)
    except fastmime._Fallback:
        new_body = "fallback"
    assert (new, new_body) == (old, old_body), (text, start, end)
    # _header_block's compiled way: the regex's fields, or None (or an early empty line) where
    # the regex ends in its ("", "") match
    block_end = parser._empty_line(start, end)
    regex = fastmime._FIELDS.findall(text, start, block_end)
    lines, lines_end = fastmime._field_lines(text, start, block_end)
    if regex and not regex[-1][0]:
        assert lines is None or lines_end < block_end, (text, start, end)
    else:
        assert (lines, lines_end) == (regex, block_end), (text, start, end)


def test_field_lines_stop_at_the_empty_line() -> None:
    """Reading a header block in one pass (compiled) gives the fields and body start the regex way does."""
    rng = random.Random(6)
    for _ in range(20000):
        lines = [rng.choice([*HEADER_LINES, "", "\r"]) for _ in range(rng.randint(1, 8))]
        text = "\n".join(lines) + rng.choice(["", "\n", "\n\n"])
        if "\r" in text and fastmime._BARE_CR.search(text):
            continue  # (never parsed by fastmime)
        start = rng.randint(0, 1) * (text.find("\n") + 1)
        _read_block_both_ways(text, start, rng.randint(start, len(text)))
