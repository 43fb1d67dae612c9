"""Shared extraction helpers: RFC 3464 field blocks, addresses, reply codes, status codes, commands.

All regular expressions here use bounded quantifiers without nesting (hostile 1 MB lines cost
linear time); callers cap the text they pass.
"""

from __future__ import annotations

import re
from typing import Final

MAX_FIELD_CHARS: Final = 4096  # characters kept of one field value (a Diagnostic-Code can be long)

# An e-mail address (Unicode allowed, RFC 6531); one bounded character class per part, no nesting.
ADDR_PATTERN: Final = r"[\w!#$%&'*+/=?^`{|}~.\-]{1,128}@[\w\-][\w\-.]{0,253}(?<!\.)"
ADDR_RE: Final = re.compile(ADDR_PATTERN)
ANGLE_ADDR_RE: Final = re.compile(r"<([^<>@\s]{1,128}@[^<>\s]{1,255})>")
# The code regexes start with the digits and look back at the character before them: "at the
# start or after a separator" written as "(?<![^SEPARATORS]CODE)" after CODE rather than
# "(?:^|[SEPARATORS])" before it. The matches (and groups) are the same, but a pattern that
# starts with a character class lets the regex engine skip ahead to the digits: 3x faster.
CODE_SEPARATORS: Final = r"\s:;(\[<\"'=#"
REPLY_CODE_RE: Final = re.compile(
    r"([45][0-5][0-9])(?<![^" + CODE_SEPARATORS + r"][45][0-5][0-9])(?=[\s\-:,)\]'\"]|\.(?!\d)|$)"
)
# A reply code followed by an enhanced status code ("550 5.1.1", "550-'5.7.1"): the remote server's words.
CODE_AND_STATUS_RE: Final = re.compile(
    r"([245][0-5][0-9])(?<![^" + CODE_SEPARATORS + r"][245][0-5][0-9])"
    r"[\s\-'\"]{1,3}#?([245]\.\d{1,3}\.\d{1,3})(?![\d.]?\d)"
)
# Every code regex here needs one of these digits first: a text without any has no code at all
# (a quarter of the diagnostics; one quick scan instead of four regexes that find nothing).
CODE_DIGIT_RE: Final = re.compile(r"[2-5]")
# classify.codes.STATUS_RE, digits first in the same way (for the same matches, faster).
STATUS_CODE_RE: Final = re.compile(r"([245])(?<![\d.][245])\.(\d{1,3})\.(\d{1,3})(?![\d.]?\d)")
# The phrase may be folded over lines ("(in reply to\n    RCPT TO command)"): up to 12 blanks.
COMMAND_RE: Final = re.compile(
    r"(?i)(?:in reply to|after|while|during|at|reply to|response to|following|not like our)\s{1,12}"
    r"(?:the\s{1,4})?(?:end of\s{1,4})?(mail from|rcpt to|data|helo|ehlo|starttls|auth|rcpt|end of data|"
    r"initial connection|banner|greeting)\b"
)
FIELD_LINE_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9\-]{1,40})\s{0,4}:\s{0,8}(.*)$")

PER_MESSAGE_FIELDS: Final = frozenset(
    {"reporting-mta", "received-from-mta", "arrival-date", "original-envelope-id", "x-postfix-queue-id"}
)


# FIELD_LINE_RE's name: 2 to 41 characters, blanks (\s: what str.rstrip strips) up to 4, ":".
MAX_FIELD_NAME: Final = 41
MAX_NAME_BLANKS: Final = 4


# The names most field lines have (of delivery-status blocks and of returned headers), lower-cased.
COMMON_FIELD_KEYS: Final = frozenset(
    {
        "final-recipient", "original-recipient", "x-actual-recipient", "action", "status",
        "diagnostic-code", "remote-mta", "reporting-mta", "received-from-mta", "arrival-date",
        "last-attempt-date", "will-retry-until", "original-envelope-id", "x-postfix-queue-id",
        "x-postfix-sender", "x-display-name", "from", "to", "cc", "bcc", "subject", "date",
        "message-id", "received", "return-path", "mime-version", "content-type",
        "content-transfer-encoding", "dkim-signature", "x-mailer", "reply-to", "sender",
        "references", "in-reply-to", "delivered-to", "x-original-to", "authentication-results",
        "x-received", "x-priority", "user-agent", "precedence", "importance", "content-language",
        "thread-topic", "thread-index", "x-originating-ip", "list-unsubscribe", "errors-to",
    }
)  # fmt: skip


def _field_key(line: str) -> str:
    """The lower-cased name of the field `line` starts, "" when FIELD_LINE_RE does not match it.

    Tested with str methods rather than the regex (parse_field_blocks' cost is per line): the
    name cannot hold a ":", so its end is the first ":" if that comes soon enough.
    """
    colon = line.find(":", 0, MAX_FIELD_NAME + MAX_NAME_BLANKS + 1)
    if colon < 2:
        return ""
    name = line[:colon].rstrip()
    size = len(name)
    if size < 2 or size > MAX_FIELD_NAME or colon - size > MAX_NAME_BLANKS:
        return ""
    key = name.lower()
    if key in COMMON_FIELD_KEYS and name.isascii():
        return key  # (an ASCII name that lower-cases to a valid one is valid: two tests saved)
    # [A-Za-z][A-Za-z0-9\-]{1,40}: ASCII, a letter first, then letters, digits and hyphens
    if not (name.isascii() and name[0].isalpha()):
        return ""
    if not name.isalnum() and not name.replace("-", "").isalnum():
        return ""
    return key


def parse_field_blocks(text: str) -> list[dict[str, str]]:
    """RFC 822-style field blocks ("Name: value", continuation lines) separated by blank lines.

    A new Final-Recipient (or Original-Recipient after a Final-Recipient) also starts a new
    block, because some mail systems forget the blank line between recipients.
    Keys are lower-cased; the first occurrence of a field in a block wins.
    """
    blocks: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    last = ""  # the field a continuation line continues ("" = none); always a key of `cur`
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:  # blank (rstrip left nothing of a whitespace-only line)
            if cur:
                blocks.append(cur)
                cur, last = {}, ""
            continue
        first = line[0]
        if first == " " or first == "\t":
            if last:
                value = cur[last]
                if len(value) < MAX_FIELD_CHARS:
                    cur[last] = (value + " " + line.strip())[:MAX_FIELD_CHARS]
            continue  # (else: no field either, a name starts with a letter; `last` is "" already)
        key = _field_key(line)
        if not key:
            last = ""
            continue
        if key in cur:
            if key != "final-recipient":
                last = ""
                continue
            blocks.append(cur)
            cur = {}
        # FIELD_LINE_RE's value, as matched in line[:MAX_FIELD_CHARS] and stripped
        cur[key] = line[line.find(":") + 1 : MAX_FIELD_CHARS].strip()
        last = key
    if cur:
        blocks.append(cur)
    return blocks


def typed_value(value: str) -> tuple[str, str]:
    """("smtp", "550 5.1.1 ...") from "smtp; 550 5.1.1 ..."; ("", value) when there is no type."""
    head, sep, rest = value.partition(";")
    if sep:
        kind = head.strip()
        if 0 < len(kind) <= 20 and " " not in kind:
            return kind.lower(), rest.strip()
    return "", value.strip()


def find_address(text: str) -> str:
    """The first e-mail address in `text` (angle brackets preferred), lower-cased; "" if none."""
    if "@" not in text:  # (both regexes need one: "" and "|/usr/bin/procmail" are common)
        return ""
    m = ANGLE_ADDR_RE.search(text) if "<" in text else None
    if m:
        addr = m.group(1)
    else:
        m2 = ADDR_RE.search(text)
        if not m2:
            return ""
        addr = m2.group(0)
    addr = addr.strip().strip("'\".,;:").lower()
    if addr.startswith("mailto:"):
        addr = addr[7:]
    return addr


# Sendmail wraps the remote server's reply in its own: "554 <user@host>... 550 Host unknown".
WRAPPED_REPLY_RE: Final = re.compile(r"[45](?<![^\s][45])\d\d <[^<>\s]{1,300}>\.\.\. ([45]\d\d)[ \-]")
MAX_PAIRS: Final = 8


def _code_and_status(text: str) -> tuple[str, str] | None:
    """The first reply code + enhanced status pair whose class digits agree (RFC 2034).

    "554 4.4.7 Message expired <421 4.4.2 Connection timed out>": the first pair is the relay's own
    inconsistent summary; the consistent one is what the remote server said. A success (2xx) is
    passed over when a failure follows: in a quoted session ("Out: 250 2.1.5 Ok ... Out: 451 4.3.0
    Error") the failure is what the bounce is about.
    """
    first: tuple[str, str] | None = None
    success: tuple[str, str] | None = None
    for i, m in enumerate(CODE_AND_STATUS_RE.finditer(text)):
        pair = (m.group(1), m.group(2))
        if pair[0][0] == pair[1][0]:
            if pair[0][0] != "2":
                return pair
            success = success or pair
        elif first is None:
            first = pair
        if i >= MAX_PAIRS:
            break
    return success or first


def find_reply_code(text: str) -> str:
    """The SMTP reply code (2xx-5xx) in a diagnostic text, "" if none.

    A code followed by an enhanced status code wins over a bare number earlier in the text.
    """
    text = text[:MAX_FIELD_CHARS]
    if CODE_DIGIT_RE.search(text) is None:
        return ""
    pair = _code_and_status(text)
    if pair:
        return pair[0]
    w = WRAPPED_REPLY_RE.search(text)
    if w:
        return w.group(1)
    m = REPLY_CODE_RE.search(text)
    return m.group(1) if m else ""


def _is_plain_status(text: str) -> bool:
    """Whether `text` is just a status code of one-digit parts ("5.1.1"), the common Status: field.

    Then it is what find_status gives: it holds no reply code, and STATUS_CODE_RE matches it whole.
    """
    return (
        len(text) == 5
        and text[1] == "."
        and text[3] == "."
        and text[0] in "245"
        and text[2] in ASCII_DIGITS
        and text[4] in ASCII_DIGITS
    )


ASCII_DIGITS: Final = "0123456789"


def find_status(text: str) -> str:
    """The enhanced status code in a diagnostic text: the one right after a reply code first."""
    if _is_plain_status(text):
        return text
    text = text[:MAX_FIELD_CHARS]
    if CODE_DIGIT_RE.search(text) is None:
        return ""
    pair = _code_and_status(text)
    if pair:
        return _normal_status(pair[1])
    m2 = STATUS_CODE_RE.search(text)
    return f"{m2.group(1)}.{int(m2.group(2))}.{int(m2.group(3))}" if m2 else ""


def _normal_status(code: str) -> str:
    """normalize_status of a matched "C.SSS.DDD" (what it gives: no regex needed to split it)."""
    klass, subject, detail = code.split(".")
    return f"{klass}.{int(subject)}.{int(detail)}"


def find_reply_code_and_status(text: str) -> tuple[str, str]:
    """(find_reply_code(text), find_status(text)), reading the code + status pairs once."""
    text = text[:MAX_FIELD_CHARS]
    if CODE_DIGIT_RE.search(text) is None:
        return "", ""
    pair = _code_and_status(text)
    if pair:
        return pair[0], _normal_status(pair[1])
    w = WRAPPED_REPLY_RE.search(text)
    if w:
        reply = w.group(1)
    else:
        m = REPLY_CODE_RE.search(text)
        reply = m.group(1) if m else ""
    m2 = STATUS_CODE_RE.search(text)
    return reply, f"{m2.group(1)}.{int(m2.group(2))}.{int(m2.group(3))}" if m2 else ""


COMMAND_NAMES: Final[dict[str, str]] = {
    "mail from": "MAIL",
    "mail": "MAIL",
    "rcpt to": "RCPT",
    "rcpt": "RCPT",
    "data": "DATA",
    "end of data": "DATA",
    "message": "DATA",
    "body": "DATA",
    "helo": "HELO",
    "ehlo": "EHLO",
    "starttls": "STARTTLS",
    "auth": "AUTH",
    "connect": "CONN",
    "banner": "CONN",
    "greeting": "CONN",
    "initial connection": "CONN",
}


# The command words alone: rarer than the words that introduce them, so they are searched first
# (find_command finds them with str.find, as COMMAND_WORDS: this regex is their definition, which
# the tests compare that search with).
COMMAND_WORD_RE: Final = re.compile(
    r"(?i)\b(?:mail from|rcpt to|data|helo|ehlo|starttls|auth|rcpt|initial connection|banner|greeting)\b"
)
MAX_COMMAND_WORDS: Final = 16  # command words looked at per text
COMMAND_AT_END_RE: Final = re.compile(COMMAND_RE.pattern + r"\Z")
# The same without (?i), for fold_case()d text: the same matches, 2-3x faster.
COMMAND_WORD_LOWER_RE: Final = re.compile(COMMAND_WORD_RE.pattern.removeprefix("(?i)"))
COMMAND_AT_END_LOWER_RE: Final = re.compile(COMMAND_AT_END_RE.pattern.removeprefix("(?i)"))


# The alternatives of COMMAND_WORD_RE, in its order (a test checks it).
COMMAND_WORDS: Final = (
    "mail from",
    "rcpt to",
    "data",
    "helo",
    "ehlo",
    "starttls",
    "auth",
    "rcpt",
    "initial connection",
    "banner",
    "greeting",
)


# The non-ASCII characters that (?i) matches to ASCII letters (the four the re module documents).
CASE_FOLDS: Final[dict[int, str]] = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}
CASE_FOLD_CHARS: Final = tuple(chr(c) for c in CASE_FOLDS)


def fold_case(text: str) -> str:
    """`text` for lower-case regexes without (?i).

    A lower-case ASCII letter matches in the result where (?i) matches it in `text`, and \\s,
    \\w and \\b match at the same places: the same length, character for character (a test checks
    every code point). For ASCII text it is lower(); the lower-case patterns are 2-3x faster.
    """
    if text.isascii():
        return text.lower()
    for c in CASE_FOLD_CHARS:
        if c in text:
            # lower() keeps three of them and makes two characters of U+0130
            return text.translate(CASE_FOLDS).lower()
    return text.lower()


def _is_word_char(c: str) -> bool:
    """A character \\b counts as part of a word (the re module's test: alphanumeric or "_")."""
    return c.isalnum() or c == "_"


def _command_words(low: str) -> list[tuple[int, int]]:
    """The spans of COMMAND_WORD_LOWER_RE.finditer(low), the first MAX_COMMAND_WORDS of them
    (those of COMMAND_WORD_RE.finditer(text) when low is fold_case(text)).

    Found with str.find, one word at a time: ~10x cheaper than the regex, which tries its eleven
    alternatives at every position. Like finditer, the leftmost match wins, at one position the
    earlier alternative ("rcpt to" before "rcpt"), and matches do not overlap.
    """
    found: list[tuple[int, int, int]] = []  # (start, alternative, end)
    present = [alternative for alternative, word in enumerate(COMMAND_WORDS) if word in low]
    if not present:  # (most texts: one comprehension of substring tests)
        return []
    size = len(low)
    for alternative in present:
        word = COMMAND_WORDS[alternative]
        start = low.find(word)
        while start >= 0:
            end = start + len(word)
            if (start == 0 or not _is_word_char(low[start - 1])) and (
                end == size or not _is_word_char(low[end])
            ):
                found.append((start, alternative, end))
            start = low.find(word, start + 1)
    spans: list[tuple[int, int]] = []
    if not found:
        return spans
    found.sort()
    free_from = 0
    for start, _, end in found:
        if start < free_from:
            continue
        spans.append((start, end))
        if len(spans) >= MAX_COMMAND_WORDS:
            break
        free_from = end
    return spans


def find_command(text: str) -> str:
    """The SMTP command a failure happened at, from phrases like "(in reply to RCPT TO command)"."""
    text = text[:MAX_FIELD_CHARS]
    return find_command_folded(text, fold_case(text))


def find_command_folded(text: str, low: str) -> str:
    """find_command(text) for a caller that has `low` = fold_case(text) at hand.

    Only the first MAX_FIELD_CHARS characters of both are read (fold_case keeps every position,
    so a prefix of `low` is the fold of the same prefix of `text`).
    """
    text = text[:MAX_FIELD_CHARS]
    low = low[:MAX_FIELD_CHARS]  # the words and phrases are matched in it, at the same positions
    for start, end in _command_words(low):
        m = COMMAND_AT_END_LOWER_RE.search(low, max(0, start - 40), end)
        if m:
            # named from the text itself, as (?i) matched it ("ſtarttls" names no command)
            return COMMAND_NAMES.get(" ".join(text[m.start(1) : m.end(1)].lower().split()), "")
    return ""


def clean_diagnostic(text: str) -> str:
    return " ".join(text.split())[:MAX_FIELD_CHARS]


# A session transcript's line for a command we sent: ">>> RCPT To:<...>" (Sendmail, au),
# "--> RCPT To:<...>" (MDaemon), "sent: RCPT TO:<...>" (hMailServer).
TRANSCRIPT_MARKERS: Final = (">>>", "-->", "sent:")
TRANSCRIPT_CMD_RE: Final = re.compile(
    r"(?i)(?:>>>|-->|\bsent:)\s{0,4}(MAIL|RCPT|DATA|EHLO|HELO|STARTTLS|AUTH)\b"
)
# The same for fold_case()d text.
TRANSCRIPT_CMD_LOWER_RE: Final = re.compile(
    r"(?:>>>|-->|\bsent:)\s{0,4}(mail|rcpt|data|ehlo|helo|starttls|auth)\b"
)


def has_transcript_marker(low: str) -> bool:
    """Whether lower-cased text holds one of TRANSCRIPT_MARKERS."""
    for marker in TRANSCRIPT_MARKERS:  # noqa: SIM110 (a plain loop: cheaper than any() over a generator)
        if marker in low:
            return True
    return False


# "SMTP:RCPT host 192.0.2.8: 553 ...": a report line that names the command it failed at.
SMTP_PREFIX_CMD_RE: Final = re.compile(r"(?i)\bsmtp:(MAIL|RCPT|DATA|EHLO|HELO)\b")


def infer_command(diagnostic: str) -> str:
    """The SMTP command a reply answered, only when the text says so explicitly.

    Explicit phrases ("in reply to RCPT TO command", "after MAIL FROM") first; then a session
    transcript's last ">>> COMMAND"; then a "SMTP:RCPT host ..." report line. Nothing is
    guessed: an echoed recipient address or "Recipient address rejected" is not evidence of the
    command (Sisimai's convention, which its labels follow: without explicit evidence the
    command is unknown, and "user unknown" said at an unknown command is read as a filter's
    refusal).
    """
    return find_command(diagnostic) or infer_command_from_session(diagnostic)


def infer_command_from_session(diagnostic: str) -> str:
    """infer_command's answer for a text find_command finds nothing in: a transcript's last
    command sent, or the command a "SMTP:RCPT host ..." report line names."""
    low = diagnostic[:MAX_FIELD_CHARS].lower()
    if has_transcript_marker(low):
        found = TRANSCRIPT_CMD_RE.findall(diagnostic[:MAX_FIELD_CHARS])
        if found:
            return str(found[-1]).upper()
    if "smtp:" in low:
        m = SMTP_PREFIX_CMD_RE.search(diagnostic[:MAX_FIELD_CHARS])
        if m:
            return m.group(1).upper()
    return ""
