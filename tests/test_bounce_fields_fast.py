"""The faster forms of fields.py's extraction helpers give the answers of the forms they replaced.

The reference implementations below are the previous code, kept verbatim: each new function is
compared with its reference on every text of the corpus and on generated texts built from the
pieces the regexes care about.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smtpdiag.bounce import fields
from smtpdiag.bounce.mime import parse_bytes, walk_parts
from smtpdiag.classify.codes import STATUS_RE, normalize_status

CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"

OLD_REPLY_CODE_RE = re.compile(r"(?:^|[\s:;(\[<\"'=#])([45][0-5][0-9])(?=[\s\-:,)\]'\"]|\.(?!\d)|$)")
OLD_CODE_AND_STATUS_RE = re.compile(
    r"(?:^|[\s:;(\[<\"'=#])([245][0-5][0-9])[\s\-'\"]{1,3}#?([245]\.\d{1,3}\.\d{1,3})(?![\d.]?\d)"
)
OLD_WRAPPED_REPLY_RE = re.compile(r"(?:^|\s)[45]\d\d <[^<>\s]{1,300}>\.\.\. ([45]\d\d)[ \-]")


def old_code_and_status(text: str) -> tuple[str, str] | None:
    first: tuple[str, str] | None = None
    success: tuple[str, str] | None = None
    for i, m in enumerate(OLD_CODE_AND_STATUS_RE.finditer(text)):
        pair = (m.group(1), m.group(2))
        if pair[0][0] == pair[1][0]:
            if pair[0][0] != "2":
                return pair
            success = success or pair
        elif first is None:
            first = pair
        if i >= fields.MAX_PAIRS:
            break
    return success or first


def old_find_reply_code(text: str) -> str:
    text = text[: fields.MAX_FIELD_CHARS]
    pair = old_code_and_status(text)
    if pair:
        return pair[0]
    w = OLD_WRAPPED_REPLY_RE.search(text)
    if w:
        return w.group(1)
    m = OLD_REPLY_CODE_RE.search(text)
    return m.group(1) if m else ""


def old_find_status(text: str) -> str:
    if not text:
        return ""
    text = text[: fields.MAX_FIELD_CHARS]
    pair = old_code_and_status(text)
    if pair:
        return normalize_status(pair[1])
    m2 = STATUS_RE.search(text)
    return normalize_status(m2.group(0)) if m2 else ""


def old_find_command(text: str) -> str:
    text = text[: fields.MAX_FIELD_CHARS]
    ascii_ = text.isascii()
    words = (fields.COMMAND_WORD_LOWER_RE if ascii_ else fields.COMMAND_WORD_RE).finditer(
        text.lower() if ascii_ else text
    )
    for i, w in enumerate(words):
        if i >= fields.MAX_COMMAND_WORDS:
            break
        m = fields.COMMAND_AT_END_RE.search(text, max(0, w.start() - 40), w.end())
        if m:
            return fields.COMMAND_NAMES.get(" ".join(m.group(1).lower().split()), "")
    return ""


def _assert_same(text: str) -> None:
    assert fields.find_reply_code(text) == old_find_reply_code(text), text
    assert fields.find_status(text) == old_find_status(text), text
    assert fields.find_reply_code_and_status(text) == (old_find_reply_code(text), old_find_status(text)), text
    assert fields.find_command(text) == old_find_command(text), text
    head = text[: fields.MAX_FIELD_CHARS]
    assert [m.groups() for m in fields.CODE_AND_STATUS_RE.finditer(head)] == [
        m.groups() for m in OLD_CODE_AND_STATUS_RE.finditer(head)
    ], text


def _corpus_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted(CORPUS.glob("*.eml")):
        parts = walk_parts(parse_bytes(path.read_bytes()))
        texts.append(parts.text)
        texts.extend(parts.status_blocks)
        texts.extend(line for line in parts.text.splitlines() if any(c.isdigit() for c in line))
    return texts


def test_corpus_texts_read_as_before() -> None:
    texts = _corpus_texts()
    assert len(texts) > 1000
    for text in texts:
        _assert_same(text)
        _assert_same(text.upper())


PIECES = [
    "550", "5.1.1", "5.01.010", "4.٣.2", "5.1.1234", "2.0.0", "5.5.",
    "250", "2.1.5", "451", "4.3.0", "421", "4.4.2", "554", "5.7.1", "1", "9", "0",
    " ", "-", ".", ":", ";", "(", ")", "<", ">", "'", '"', "=", "#", "\n", "\t", "x", "a@b.c", "<a@b.c>",
    "...", "in reply to", "after", "RCPT TO", "rcpt", "data", "end of", "the", "MAIL FROM", "command",
    "ſ", "K", "İ", "while talking to", "greeting", "Auth", "starttls", "_", "rcpt tox", "mail from",
    "initial connection", "banner", "Helo", "EHLO", "at", "during", "response to", "not like our",
]  # fmt: skip


@settings(max_examples=600)
@given(st.lists(st.sampled_from(PIECES), max_size=14).map("".join))
def test_generated_texts_read_as_before(text: str) -> None:
    _assert_same(text)


def test_command_words_are_the_regex_alternatives_in_order() -> None:
    pattern = fields.COMMAND_WORD_RE.pattern
    words = pattern[pattern.index("(?:") + 3 : pattern.rindex(")")].split("|")
    assert tuple(words) == fields.COMMAND_WORDS


def test_command_word_spans_are_the_regex_matches() -> None:
    for text in [*_corpus_texts(), "rcpt to rcpt tox _data data_ rcptto mail  from 1helo ehlo2 " * 3]:
        low = text[: fields.MAX_FIELD_CHARS].lower()
        if low.isascii():
            expected = [m.span() for m in fields.COMMAND_WORD_LOWER_RE.finditer(low)]
            assert fields._command_words(low) == expected[: fields.MAX_COMMAND_WORDS]


def old_parse_field_blocks(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    last = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            if cur:
                blocks.append(cur)
                cur, last = {}, ""
            continue
        if line[:1] in (" ", "\t") and last:
            if len(cur[last]) < fields.MAX_FIELD_CHARS:
                cur[last] = (cur[last] + " " + line.strip())[: fields.MAX_FIELD_CHARS]
            continue
        m = fields.FIELD_LINE_RE.match(line[: fields.MAX_FIELD_CHARS])
        if not m:
            last = ""
            continue
        key = m.group(1).lower()
        if key == "final-recipient" and "final-recipient" in cur:
            blocks.append(cur)
            cur = {}
        if key not in cur:
            cur[key] = m.group(2).strip()
            last = key
        else:
            last = ""
    if cur:
        blocks.append(cur)
    return blocks


def test_field_blocks_of_the_corpus_read_as_before() -> None:
    for path in sorted(CORPUS.glob("*.eml")):
        parts = walk_parts(parse_bytes(path.read_bytes()))
        for text in [parts.text, parts.original_headers, parts.feedback_report, *parts.status_blocks]:
            assert fields.parse_field_blocks(text) == old_parse_field_blocks(text)


FIELD_PIECES = [
    "Final-Recipient: rfc822; a@b.c", "Original-Recipient: x", "Action: failed", "Status: 5.1.1",
    "Diagnostic-Code: smtp; 550 no", "X", ": v", "  continued", "\t", " ", "\n", "\r\n", "\r", "\n\n",
    "\x0b", "\u2028", "Final-Recipient:", "action: delayed", "junk line", "-", "1a: b",
    "Ab\u00a0\u2003 : v", "Ab     : v", "Ab    :", "A" * 41 + ": v", "A" * 42 + ": v", "Aé: v", "A_b: v",
    "Ab :: v", "Ab1-: v", "a-: v", "-a: v", "a b: v", "X-Y", "\x1c", "\x1f: v", "Ab:", "Ab\x1f:",
]  # fmt: skip


@settings(max_examples=600)
@given(st.lists(st.sampled_from(FIELD_PIECES), max_size=16).map("".join))
def test_generated_field_blocks_read_as_before(text: str) -> None:
    assert fields.parse_field_blocks(text) == old_parse_field_blocks(text)


def test_fold_case_matches_like_ignorecase_at_every_code_point() -> None:
    """fold_case keeps the length, the \\s/\\w/\\d classes, and (?i)'s view of ASCII letters."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    any_letter = re.compile("(?i)[a-z]")
    classes = [re.compile(r"\s"), re.compile(r"\w"), re.compile(r"\d")]
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        # alone, and after a non-ASCII letter (the translate path; a final sigma lowers otherwise)
        for folded in (fields.fold_case(c), fields.fold_case("é" + c)[1:]):
            assert len(folded) == 1, cp
            for cls in classes:
                assert (cls.match(c) is None) == (cls.match(folded) is None), (cp, cls.pattern)
            if any_letter.match(c):
                assert folded in letters, cp
                assert re.match("(?i)" + folded, c), cp
            else:
                assert folded not in letters, cp
    for c in map(chr, fields.CASE_FOLDS):
        assert fields.fold_case("a" + c + "é") == "a" + fields.CASE_FOLDS[ord(c)] + "é"


def old_transcript_command(text: str) -> str:
    found = fields.TRANSCRIPT_CMD_RE.findall(text)
    if found:
        return str(found[-1]).upper()
    if "<<<" in text and ">>>" not in text and "while talking to" in text:
        return "CONN"
    return ""


@settings(max_examples=600)
@given(
    st.lists(
        st.sampled_from(
            [
                *PIECES,
                ">>>",
                "-->",
                "sent:",
                "SENT:",
                "ſent:",
                "<<<",
                "MAİL",
                "maıl",
                ">",
                ">>>>",
                "--->",
                "xsent:",
            ]
        ),
        max_size=14,
    ).map("".join)
)
def test_generated_transcripts_read_as_before(text: str) -> None:
    from smtpdiag.bounce.formats import rfc3464

    assert rfc3464._transcript_command(text, fields.fold_case(text)) == old_transcript_command(text), text
    _assert_last_transcript_match(fields.fold_case(text))


def _assert_last_transcript_match(low: str) -> None:
    from smtpdiag.bounce.formats import rfc3464

    matches = list(fields.TRANSCRIPT_CMD_LOWER_RE.finditer(low))
    last = rfc3464._last_transcript_match(low)
    expected = matches[-1] if matches else None
    assert (last and last.span(), last and last.span(1)) == (
        expected and expected.span(),
        expected and expected.span(1),
    ), low


def test_corpus_transcripts_read_as_before() -> None:
    from smtpdiag.bounce.formats import rfc3464

    for text in _corpus_texts():
        head = text[: rfc3464.MAX_COMMAND_SCAN]
        for variant in (head, head.upper()):
            low = fields.fold_case(variant)
            _assert_last_transcript_match(low)
            assert rfc3464._transcript_command(variant, low) == old_transcript_command(variant)
            # a prefix of the fold, as fill_from_text passes it
            assert fields.find_command_folded(variant, low) == fields.find_command(variant)


def test_long_field_lines_read_as_before() -> None:
    for text in (
        "Diagnostic-Code: smtp; " + "x" * 5000 + "\n  more\nStatus: 5.1.1",
        "A" * 4090 + ": v",
        "Name:" + " " * 5000 + "value\n\tcont " + "y" * 5000 + "\n cont2",
    ):
        assert fields.parse_field_blocks(text) == old_parse_field_blocks(text)


def test_plain_status_codes_are_found_as_before() -> None:
    digits = ["0", "1", "5", "9", "٣", "a", ".", " "]
    for klass in ["1", "2", "3", "4", "5", "٥", "x"]:
        for sep1 in [".", ",", "-"]:
            for subject in digits:
                for sep2 in [".", " "]:
                    for detail in digits:
                        text = klass + sep1 + subject + sep2 + detail
                        assert fields.find_status(text) == old_find_status(text), text


def test_common_field_keys_are_valid_names() -> None:
    for key in fields.COMMON_FIELD_KEYS:
        assert fields.FIELD_LINE_RE.fullmatch(key + ": v"), key
        for spelling in (key, key.upper(), key.title(), key.replace("k", chr(0x212A))):
            line = spelling + " : v"
            m = fields.FIELD_LINE_RE.match(line)
            assert fields._field_key(line) == (m.group(1).lower() if m else ""), line
