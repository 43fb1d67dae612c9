"""Reading SMTP replies: a strict parser for the wire format and a lenient extractor for free text.

`parse_reply(data)` reads one server reply exactly as RFC 5321 §4.2 defines it (with the RFC 2034
enhanced status code on every line) and raises `ReplyParseError` saying precisely what is wrong.

`extract(text)` finds the replies inside whatever a person or a program wrote around them: DSN fields
(`Diagnostic-Code: smtp; 550-5.1.1 ...`, `Status:`, `Final-Recipient:`, `Remote-MTA:`), Postfix bounces
and logs ("host x[1.2.3.4] said: ... (in reply to RCPT TO command)", "status=bounced (...)",
"dsn=5.1.1"), Exim ("SMTP error from remote mail server after RCPT TO:<a@b>: ..."), Sendmail
transcripts ("<<< 550 ...", ">>> RCPT To:<a@b>"), Python smtplib exceptions
(`SMTPRecipientsRefused({'a@b': (550, b'...')})`), PHPMailer, Symfony/Laravel and nodemailer error
strings, and text pasted by a human. `detect_protocol_failure(text)` recognises the messages a client
prints when the peer did not speak SMTP at all (or the connection failed before it could).

Limits: only the first MAX_INPUT_CHARS characters of a text are read; a logical line is cut at
MAX_LINE_CHARS, a reply text at MAX_TEXT_CHARS; at most MAX_REPLIES replies are returned. Every
pattern is a simple one with bounded repetition (no nested quantifiers), so the work is linear in the
input and a hostile text cannot make it backtrack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final, Literal

from smtpdiag.reply import Reply

MAX_INPUT_CHARS: Final = 64 * 1024  # extraction reads at most this much of a text
MAX_LINE_CHARS: Final = 8 * 1024  # a logical (unfolded) line is cut here
MAX_TEXT_CHARS: Final = 2000  # the text of one extracted reply is cut here
MAX_REPLIES: Final = 100  # at most this many replies are returned by `extract`
MAX_REPLY_LINE: Final = 2048  # strict parser: longest reply line accepted (RFC 5321 says 512 octets)
MAX_REPLY_LINES: Final = 128  # strict parser: most lines in one multi-line reply

Source = Literal[
    "dsn",
    "postfix",
    "postfix-log",
    "exim",
    "transcript",
    "smtplib",
    "phpmailer",
    "symfony",
    "nodemailer",
    "text",
]


class ReplyParseError(ValueError):
    """A server reply that breaks RFC 5321 §4.2 / RFC 2034; `line` is the 1-based line at fault."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


# ---------------------------------------------------------------------------------------------
# strict parser

_STRICT_LINE_RE = re.compile(r"([0-9]{3})(?:([ -])(.*))?", re.DOTALL)
_STRICT_ESC_RE = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?: |$)")


def parse_reply(data: str | bytes, *, strict_enhanced: bool = True) -> Reply:
    """Parse one complete server reply (one or more CRLF-terminated lines) into a Reply.

    Rules (RFC 5321 §4.2): every line starts with the same three-digit code, first digit 2-5 and
    second 0-5; every line but the last has "-" after the code, the last has a space or nothing;
    nothing may follow the last line. RFC 2034: when the first line carries an enhanced status code
    (class.subject.detail, class 2, 4 or 5, the class matching the reply's class), every line
    carries the same one. `strict_enhanced=False` accepts replies that break only the RFC 2034
    rules (a missing code on a later line, a class that disagrees with the reply code, as some
    large providers send); the enhanced code is then taken from the first line.
    A bare LF line ending is accepted; a bare CR inside a line is not.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if not text:
        raise ReplyParseError("empty reply")
    if len(text) > MAX_REPLY_LINE * MAX_REPLY_LINES:
        raise ReplyParseError(f"reply longer than {MAX_REPLY_LINE * MAX_REPLY_LINES} characters")
    raw_lines = text.split("\n")
    if raw_lines[-1] == "":
        raw_lines.pop()
    if not raw_lines:
        raise ReplyParseError("empty reply")
    if len(raw_lines) > MAX_REPLY_LINES:
        raise ReplyParseError(f"more than {MAX_REPLY_LINES} lines in one reply")
    code: str | None = None
    enhanced: str | None = None
    texts: list[str] = []
    for number, raw in enumerate(raw_lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if "\r" in line:
            raise ReplyParseError("bare CR inside a reply line", number)
        if len(line) > MAX_REPLY_LINE:
            raise ReplyParseError(f"reply line longer than {MAX_REPLY_LINE} characters", number)
        m = _STRICT_LINE_RE.fullmatch(line)
        if m is None:
            if line[:3].isdigit():
                raise ReplyParseError(
                    f"after the code {line[:3]} comes {line[3:4]!r}; expected a space, '-' or the line end",
                    number,
                )
            raise ReplyParseError(f"line does not start with a three-digit reply code: {line[:40]!r}", number)
        this_code, sep, rest = m.group(1), m.group(2) or " ", m.group(3) or ""
        if this_code[0] not in "2345":
            raise ReplyParseError(f"reply code {this_code}: the first digit must be 2, 3, 4 or 5", number)
        if this_code[1] not in "012345":
            raise ReplyParseError(f"reply code {this_code}: the second digit must be 0 to 5", number)
        if code is None:
            code = this_code
        elif this_code != code:
            raise ReplyParseError(f"code {this_code} differs from {code} on the first line", number)
        last = number == len(raw_lines)
        if sep == "-" and last:
            raise ReplyParseError(
                f"the last line has '{code}-' (more lines announced but none follow)", number
            )
        if sep == " " and not last:
            raise ReplyParseError(
                f"'{code} ' ends the reply, but {len(raw_lines) - number} more line(s) follow", number
            )
        em = _STRICT_ESC_RE.match(rest)
        if number == 1:
            if em is not None:
                enhanced = _strict_enhanced(em, code, number, strict_enhanced)
                rest = rest[em.end() :]
        elif enhanced is not None:
            if em is None:
                if strict_enhanced:
                    raise ReplyParseError(
                        f"enhanced status code {enhanced} missing (RFC 2034: it must be on every line)",
                        number,
                    )
            else:
                this_esc = _strict_enhanced(em, code, number, strict_enhanced)
                if this_esc != enhanced and strict_enhanced:
                    raise ReplyParseError(f"enhanced status code {this_esc} differs from {enhanced}", number)
                rest = rest[em.end() :]
        texts.append(rest)
    assert code is not None
    return Reply(code=int(code), lines=tuple(texts), enhanced=enhanced)


def _strict_enhanced(m: re.Match[str], code: str, number: int, strict: bool) -> str:
    cls, subject, detail = m.groups()
    if cls not in ("2", "4", "5"):
        raise ReplyParseError(f"enhanced status code class {cls}: must be 2, 4 or 5 (RFC 3463)", number)
    for part in (subject, detail):
        if len(part) > 1 and part[0] == "0":
            raise ReplyParseError(
                f"enhanced status code {cls}.{subject}.{detail}: no leading zeros (RFC 3463)", number
            )
    if strict:
        expected = "2" if code[0] in "23" else code[0]
        if cls != expected:
            raise ReplyParseError(
                f"enhanced status code {cls}.{subject}.{detail} does not match reply code {code} "
                f"(class must be {expected})",
                number,
            )
    return f"{cls}.{subject}.{detail}"


# ---------------------------------------------------------------------------------------------
# lenient extraction


@dataclass(frozen=True, slots=True)
class Extracted:
    """One reply found in free text; every field but `text` and `source` may be unknown."""

    reply_code: int | None
    enhanced: str | None  # "5.1.1"; from the reply, or a DSN Status:/postfix dsn= field
    text: str  # the reply text, without code and enhanced code
    command: str | None = None  # CONN, HELO, EHLO, MAIL, RCPT, DATA, AUTH, STARTTLS, BDAT, QUIT, ...
    remote_host: str | None = None
    remote_ip: str | None = None
    recipient: str | None = None
    source: Source = "text"
    action: str | None = None  # DSN Action: failed / delayed / delivered ...

    @property
    def score(self) -> int:
        """How much this extraction knows (used to pick the reply to explain)."""
        return (
            (8 if self.reply_code is not None else 0)
            + (4 if self.enhanced else 0)
            + (2 if self.text else 0)
            + (1 if self.command else 0)
            + (1 if self.remote_host else 0)
        )


_ADDR = r"[^\s<>\"'(),;:\[\]@]{1,64}@[A-Za-z0-9][A-Za-z0-9.\-_]{0,253}"
_ADDR_RE = re.compile(_ADDR)
_ANGLE_ADDR_RE = re.compile(r"<(" + _ADDR + r")>")
_LEADING_ADDR_RE = re.compile(r"\s{0,8}<?(" + _ADDR + r")>?:?(?=\s|$)")

# a reply code where it can start a reply: not inside a number, date, IP, "AUP#I-1340", "host:587"
_CODE_RE = re.compile(r"(?<![\w.\-/:=+])([2-5][0-9]{2})(?=[ \-]|:\s|$)")
# the enhanced code after the reply code; Gmail's relay sometimes repeats the code ("554 554 5.7.1")
_ESC_AFTER_RE = re.compile(
    r"(?::?[ \-]{1,3}[2-5][0-9]{2})?:?[ \-]{1,3}['\"]?([245])\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9]|\.[0-9])"
)
_ESC_RE = re.compile(r"(?<![\w.])([245])\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9]|\.[0-9])")
_LEAD_ESC_RE = re.compile(r"\s{0,4}([245])\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9]|\.[0-9])")
# what may stand right before a reply code that carries no enhanced code
_CODE_CONTEXT = frozenset(":;\"'(>[=")
_CODE_WORDS = ("Error", "error", "ERROR", "code", "Code", "reply", "said")
_QUOTE_AFTER = frozenset({"-'", " '", '-"', ' "'})
# qmail puts the enhanced code at the end: "Sorry, no mailbox here by that name. (#5.1.1)"
_QMAIL_ESC_RE = re.compile(r"\(#([245])\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9])")

_HEADER_LIKE_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-]{1,40}:")
_DSN_FIELD_RE = re.compile(
    r"(final-recipient|original-recipient|action|status|remote-mta|diagnostic-code|x-actual-recipient)"
    r"\s{0,4}:\s{0,8}",
    re.IGNORECASE,
)
# the type before a DSN field's value: "rfc822; a@b", "dns; mx.example.org", "smtp; 550 ..."
_DSN_TYPE_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-]{0,20}\s{0,4};\s{0,8}")

_SAID_RE = re.compile(
    r"host\s{1,4}([A-Za-z0-9][A-Za-z0-9.\-_]{0,253})\[([0-9A-Fa-f.:]{1,64}|[^\]\s]{1,64})\](?::[0-9]{1,5})?"
    r"\s{1,4}(said|refused to talk to me):\s{0,8}"
)
_EXIM_RE = re.compile(
    r"SMTP error from remote (?:mail server|mailer|server)\s{1,4}after\s{1,4}"
    r"(RCPT TO:\s{0,2}<([^<>\s]{0,320})>|MAIL FROM:\s{0,2}<[^<>\s]{0,320}>(?:\s{1,4}SIZE=[0-9]{1,12})?"
    r"|end of data|DATA|initial connection|EHLO\s{1,4}[^\s:]{1,255}|HELO\s{1,4}[^\s:]{1,255}"
    r"|STARTTLS|AUTH[^:]{0,40}|pipelined [A-Za-z ]{1,30}|RCPT TO|MAIL FROM|[A-Z]{4})\s{0,4}:?\s{0,8}"
)
_EXIM_HOST_RE = re.compile(
    r"(?:host|H=)\s{0,4}([A-Za-z0-9][A-Za-z0-9.\-_]{0,253})\s{1,4}\[([0-9A-Fa-f.:]{1,64})\]:?\s{0,8}"
)
_POSTFIX_LOG_RE = re.compile(r"\bstatus=(sent|bounced|deferred|expired|undeliverable)\s{0,4}\(")
_LOG_TO_RE = re.compile(r"\bto=<([^<>\s]{1,320})>")
_LOG_RELAY_RE = re.compile(r"\brelay=([A-Za-z0-9][A-Za-z0-9.\-_]{0,253})\[([0-9A-Fa-f.:]{1,64})\]")
_LOG_DSN_RE = re.compile(r"\bdsn=([245])\.([0-9]{1,3})\.([0-9]{1,3})")
_SMTPLIB_RE = re.compile(
    r"(?:(['\"])([^'\"\s]{1,320})['\"]\s{0,4}:\s{0,4})?\(\s{0,4}([2-5][0-9]{2})\s{0,4},\s{0,4}b?(['\"])"
)
_SMTPLIB_EXC_RE = re.compile(
    r"SMTP(RecipientsRefused|SenderRefused|DataError|AuthenticationError|HeloError|ConnectError"
    r"|ResponseException|NotSupportedError)"
)
_PHPMAILER_RE = re.compile(r"SMTP server error:\s{0,4}([A-Za-z][A-Za-z ]{1,30}?)\s{1,4}command failed\s{0,4}")
_PHPMAILER_OLD_RE = re.compile(
    r"SMTP ERROR:\s{0,4}([A-Za-z][A-Za-z ]{1,30}?)\s{1,4}command failed:\s{0,8}", re.I
)
_PHPMAILER_RCPTS_RE = re.compile(
    r"The following recipients failed:\s{0,8}<?(" + _ADDR + r")>?\s{0,4}:\s{0,8}"
)
_PHP_DETAIL_RE = re.compile(r"Detail:\s{0,8}")
_PHP_CODE_RE = re.compile(r"SMTP code:\s{0,4}([2-5][0-9]{2})")
_PHP_INFO_RE = re.compile(r"Additional SMTP info:\s{0,4}([245])\.([0-9]{1,3})\.([0-9]{1,3})")
_SYMFONY_RE = re.compile(
    r"Expected response codes?\s{1,4}\"?([0-9][0-9/, \"]{2,40}?)\"?\s{1,4}but got (?:code\s{1,4})?"
    r"\"?([2-5][0-9]{2})\"?,?\s{1,4}with message\s{1,4}\""
)
_NODEMAILER_RE = re.compile(
    r"(?:(Data|Mail|Rcpt|Recipient|Auth) command failed|(Invalid login)|(all recipients were rejected)"
    r"|(Message failed)|Can't send mail)\s{0,4}:\s{0,8}"
)
_NM_RESPONSE_RE = re.compile(r"\bresponse['\"]?\s{0,4}:\s{0,4}(['\"`])")
_NM_CODE_RE = re.compile(r"\bresponseCode['\"]?\s{0,4}:\s{0,4}([2-5][0-9]{2})\b")
_NM_COMMAND_RE = re.compile(r"\bcommand['\"]?\s{0,4}:\s{0,4}['\"`]([A-Za-z][A-Za-z ]{1,20})['\"`]")
_NM_REJECTED_RE = re.compile(r"\brejected['\"]?\s{0,4}:\s{0,4}\[\s{0,4}['\"`](" + _ADDR + r")")

_IN_REPLY_RE = re.compile(
    r"\(?\s{0,4}in reply to\s{1,4}([A-Za-z][A-Za-z\- ]{1,30}?)\s{1,4}command\s{0,4}\)?", re.I
)
_AFTER_CMD_RE = re.compile(
    r"\b(?:after|at|during|on)\s{1,4}(RCPT TO|MAIL FROM|end of data|DATA|initial connection|EHLO|HELO"
    r"|STARTTLS|AUTH|BDAT)\b",
    re.I,
)
_REJECT_FROM_RE = re.compile(
    r"\breject:\s{1,4}(RCPT|MAIL|DATA|END-OF-MESSAGE|CONNECT|EHLO|HELO|VRFY|ETRN)\s{1,4}from\b"
)
_TRANSCRIPT_CMD_RE = re.compile(
    r"\s{0,8}(?:>>>|CLIENT -> SERVER:|C:|->)\s{0,4}([A-Za-z]{4,8})(?:\s{1,4}([^\r\n]{0,400}))?"
)
_TRANSCRIPT_REPLY_RE = re.compile(r"\s{0,8}(?:<<<|SERVER -> CLIENT:|S:|<-)\s{0,4}")
_TALKING_TO_RE = re.compile(r"while talking to\s{1,4}\[?([A-Za-z0-9][A-Za-z0-9.\-_]{0,253}?)\.?\]?:")

_COMMANDS: Final[dict[str, str]] = {
    "rcpt to": "RCPT",
    "rcpt": "RCPT",
    "recipient": "RCPT",
    "mail from": "MAIL",
    "mail": "MAIL",
    "end of data": "DATA",
    "end of message": "DATA",
    "end-of-message": "DATA",
    "data": "DATA",
    "message": "DATA",
    "initial connection": "CONN",
    "connect": "CONN",
    "ehlo": "EHLO",
    "helo": "HELO",
    "starttls": "STARTTLS",
    "auth": "AUTH",
    "login": "AUTH",
    "bdat": "BDAT",
    "quit": "QUIT",
    "rset": "RSET",
    "vrfy": "VRFY",
    "etrn": "ETRN",
    "xforward": "XFORWARD",
}

_SMTPLIB_COMMANDS: Final[dict[str, str]] = {
    "RecipientsRefused": "RCPT",
    "SenderRefused": "MAIL",
    "DataError": "DATA",
    "AuthenticationError": "AUTH",
    "HeloError": "EHLO",
    "ConnectError": "CONN",
}


def normalize_command(raw: str | None) -> str | None:
    """ "RCPT TO:<a@b>" / "end of data" / "rcpt" -> "RCPT" / "DATA" / "RCPT"; None when unknown."""
    if not raw:
        return None
    low = " ".join(raw.lower().split())[:40]
    if low.startswith("pipelined "):
        low = low[len("pipelined ") :]
    if low in _COMMANDS:
        return _COMMANDS[low]
    for key in ("rcpt to", "mail from", "end of data", "initial connection"):
        if low.startswith(key):
            return _COMMANDS[key]
    first = low.split(" ", 1)[0].rstrip(":")
    return _COMMANDS.get(first)


def _untyped(value: str) -> str:
    """A DSN field's value without its type ("rfc822; a@b" -> "a@b")."""
    m = _DSN_TYPE_RE.match(value)
    return value[m.end() :] if m else value


def _esc(m: re.Match[str], first: int = 1) -> str:
    return f"{m.group(first)}.{int(m.group(first + 1))}.{int(m.group(first + 2))}"


def _command_in(text: str) -> str | None:
    m = _IN_REPLY_RE.search(text) if ("eply to" in text or "EPLY TO" in text) else None
    if m:
        return normalize_command(m.group(1))
    m = _AFTER_CMD_RE.search(text)
    if m:
        return normalize_command(m.group(1))
    m = _REJECT_FROM_RE.search(text) if "reject:" in text else None
    if m:
        return normalize_command(m.group(1))
    return None


def _clean_text(text: str, code: str | None, esc: str | None) -> str:
    """Drop continuation prefixes of a multi-line reply folded into one line, quotes, the Postfix
    "(in reply to ...)" tail, and excess whitespace; cut at MAX_TEXT_CHARS."""
    t = text
    if "\\" in t:  # literal line breaks of a JSON-encoded or repr()'d text
        t = t.replace("\\r\\n", " ").replace("\\n", " ").replace("\\r", " ")
    t = " " + " ".join(t.split()) + " "
    if code:
        if esc:
            for sep in ("-", " "):
                t = t.replace(f" {code}{sep}{esc} ", " ")
        t = t.replace(f" {code}-", " ")
    m = _IN_REPLY_RE.search(t) if ("eply to" in t or "EPLY TO" in t) else None
    if m:
        t = t[: m.start()] + t[m.end() :]
    t = t.strip()
    if t.endswith(" ##"):  # Exchange NDRs close the reply with "##"
        t = t[:-3].rstrip()
    if t.endswith(">") and t.count(">") > t.count("<"):  # "<host #5.1.1 smtp;550 ...>" wrapper
        t = t[:-1].rstrip()
    if len(t) >= 2 and t[0] in "'\"" and t[-1] == t[0]:
        t = t[1:-1]
    return t.strip(" '\"")[:MAX_TEXT_CHARS]


def _reply_from(fragment: str, *, anchored: bool) -> tuple[int | None, str | None, str, int] | None:
    """(code, enhanced, text, position) of the first reply in a fragment.

    anchored: the fragment is known to hold a reply (it follows "said:" or similar), so a code is
    accepted at its start without further context, and a text with no code is returned as text.
    An enhanced code may also stand before the reply code ("5.3.0 - ... 550-'...'", Amazon SES) or
    after the text in qmail's form ("... (#5.1.1)").
    """
    lead = _LEAD_ESC_RE.match(fragment)
    for m in _CODE_RE.finditer(fragment):
        start = m.start()
        code = m.group(1)
        em = _ESC_AFTER_RE.match(fragment, m.end())
        if em is None:
            # accept a bare code only where a reply can start, or where a quoted text follows it
            before = fragment[:start].rstrip()
            quoted = fragment[m.end() : m.end() + 2] in _QUOTE_AFTER
            if before and before[-1] not in _CODE_CONTEXT and not before.endswith(_CODE_WORDS) and not quoted:
                continue
            rest = fragment[m.end() :]
            qm = _QMAIL_ESC_RE.search(rest)
            esc = _esc(qm) if qm else (_esc(lead) if lead is not None and lead.end() <= start else None)
        else:
            esc = _esc(em)
            rest = fragment[em.end() :]
        return int(code), esc, _clean_text(" " + rest.lstrip(" -"), code, esc), start
    if lead is not None:
        return None, _esc(lead), _clean_text(fragment[lead.end() :].lstrip(" -"), None, None), 0
    qm = _QMAIL_ESC_RE.search(fragment)
    if qm is not None:
        return None, _esc(qm), _clean_text(fragment[: qm.start()], None, None), 0
    if anchored:
        text = _clean_text(fragment, None, None)
        return (None, None, text, 0) if text else None
    return None


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - the last match is wanted
        pass
    return found


def _recipient_in(text: str) -> str | None:
    m = _ANGLE_ADDR_RE.search(text)
    return m.group(1) if m else None


# an indented line starting so is a line of its own, not the continuation of the previous one
_NEW_LINE_MARKERS = (">>>", "<<<", "Diagnostic-Code:", "Status:", "Final-Recipient:", "Action:")


def _unfold(text: str) -> list[str]:
    """Logical lines: a line indented by a tab or 4+ spaces continues the previous one, and so does
    any indented line after a header-like "Name: value" line (RFC 5322 folding in DSN fields)."""
    if "\n" not in text:
        return [text[:MAX_LINE_CHARS].rstrip()]
    out: list[str] = []
    header = False
    for raw in text.split("\n"):
        line = raw.rstrip()
        if not line:
            out.append("")
            header = False
            continue
        if (
            out
            and out[-1]
            and line[0] in " \t"
            and (header or line.startswith(("\t", "    ")))
            and not line.lstrip().startswith(_NEW_LINE_MARKERS)
        ):
            if len(out[-1]) < MAX_LINE_CHARS:  # a full logical line takes no more (no quadratic copying)
                out[-1] = (out[-1] + " " + line.strip())[:MAX_LINE_CHARS]
            continue
        out.append(line[:MAX_LINE_CHARS])
        header = bool(_HEADER_LIKE_RE.match(line))
    return out


def _quoted(s: str, start: int, quote: str) -> tuple[str, int]:
    """The body of a quoted string beginning at `start` (after the opening quote), with Python/JS
    backslash escapes undone; and the position after the closing quote."""
    out: list[str] = []
    i = start
    end = min(len(s), start + MAX_TEXT_CHARS * 2)
    while i < end:
        c = s[i]
        if c == "\\" and i + 1 < end:
            nxt = s[i + 1]
            if nxt in "nrt":
                out.append(" ")
            elif nxt == "x" and i + 3 < end:
                try:
                    out.append(chr(int(s[i + 2 : i + 4], 16)))
                    i += 4
                    continue
                except ValueError:
                    out.append(nxt)
            else:
                out.append(nxt)
            i += 2
            continue
        if c == quote:
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i


class _Collector:
    def __init__(self) -> None:
        self.items: list[Extracted] = []

    def add(self, item: Extracted) -> None:
        if len(self.items) >= MAX_REPLIES * 2:
            return
        if item.reply_code is None and not item.enhanced and not item.text:
            return
        self.items.append(item)


def _from_fragment(
    fragment: str,
    *,
    source: Source,
    anchored: bool,
    command: str | None = None,
    host: str | None = None,
    ip: str | None = None,
    recipient: str | None = None,
) -> Extracted | None:
    found = _reply_from(fragment, anchored=anchored)
    if found is None:
        return None
    code, esc, text, _pos = found
    return Extracted(
        reply_code=code,
        enhanced=esc,
        text=text,
        command=command or _command_in(fragment),
        remote_host=host,
        remote_ip=ip,
        recipient=recipient or _recipient_in(text),
        source=source,
    )


def _parse_diagnostic(value: str) -> Extracted | None:
    """The value of a Diagnostic-Code field (type already removed), which may quote a Postfix
    "host x said:" line or an Exim error."""
    if "said:" in value or "refused to talk" in value:
        items = _line_items(value)
        if items:
            return items[0]
    return _from_fragment(value, source="dsn", anchored=True)


def _line_items(line: str) -> list[Extracted]:
    """Replies on one logical line, by the most specific pattern that applies."""
    items: list[Extracted] = []
    m: re.Match[str] | None
    if "said:" in line or "refused to talk" in line:
        matches = list(_SAID_RE.finditer(line))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            tail = line[m.end() : end]
            cmd = _command_in(tail) or ("CONN" if m.group(3).startswith("refused") else None)
            rcpt_m = _LEADING_ADDR_RE.match(line[: m.start()]) if i == 0 else None
            item = _from_fragment(
                tail,
                source="postfix",
                anchored=True,
                command=cmd,
                host=m.group(1),
                ip=m.group(2),
                recipient=rcpt_m.group(1) if rcpt_m else None,
            )
            if item:
                items.append(item)
        if items:
            return items
    if "SMTP error from remote" in line:
        matches = list(_EXIM_RE.finditer(line))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            tail = line[m.end() : end]
            host = ip = None
            hm = _EXIM_HOST_RE.match(tail)
            if hm:
                host, ip = hm.group(1), hm.group(2)
                tail = tail[hm.end() :]
            else:
                before = line[(matches[i - 1].end() if i else 0) : m.start()]
                hb = _last(_EXIM_HOST_RE, before)
                if hb:
                    host, ip = hb.group(1), hb.group(2)
            rcpt = m.group(2) or None
            if rcpt is None and i == 0:
                lm = _LEADING_ADDR_RE.match(line)
                rcpt = lm.group(1) if lm else None
            item = _from_fragment(
                tail,
                source="exim",
                anchored=True,
                command=normalize_command(m.group(1)),
                host=host,
                ip=ip,
                recipient=rcpt,
            )
            if item:
                items.append(item)
        if items:
            return items
    if "(" in line and ("," in line):
        for m in _SMTPLIB_RE.finditer(line):
            body, _end = _quoted(line, m.end(), m.group(4))
            exc = _last(_SMTPLIB_EXC_RE, line[: m.start()])
            cmd = _SMTPLIB_COMMANDS.get(exc.group(1)) if exc else None
            rcpt = m.group(2) if m.group(2) and "@" in m.group(2) else None
            if rcpt and cmd is None:
                cmd = "RCPT"
            code = m.group(3)
            em = _LEAD_ESC_RE.match(body)
            esc = _esc(em) if em else None
            text = body[em.end() :] if em else body
            items.append(
                Extracted(
                    reply_code=int(code),
                    enhanced=esc,
                    text=_clean_text(" " + text, code, esc),
                    command=cmd,
                    recipient=rcpt or _recipient_in(text),
                    source="smtplib",
                )
            )
            if len(items) >= MAX_REPLIES:
                break
        if items:
            return items
    if "SMTP" in line or "smtp" in line:
        m = _PHPMAILER_RE.search(line)
        if m:
            tail = line[m.end() :]
            cm = _PHP_CODE_RE.search(tail)
            dm = _PHP_DETAIL_RE.search(tail, 0, cm.start() if cm else len(tail))
            detail = tail[dm.end() : cm.start() if cm else len(tail)] if dm else ""
            im = _PHP_INFO_RE.search(tail)
            esc = _esc(im) if im else None
            lead = _LEAD_ESC_RE.match(detail)
            if lead:
                esc = esc or _esc(lead)
                detail = detail[lead.end() :]
            code_s = cm.group(1) if cm else None
            items.append(
                Extracted(
                    reply_code=int(code_s) if code_s else None,
                    enhanced=esc,
                    text=_clean_text(" " + detail, code_s, esc),
                    command=normalize_command(m.group(1)),
                    recipient=_recipient_in(detail),
                    source="phpmailer",
                )
            )
            return items
        m = _PHPMAILER_OLD_RE.search(line) or _PHPMAILER_RCPTS_RE.search(line)
        if m:
            rcpt = m.group(1) if m.re is _PHPMAILER_RCPTS_RE else None
            cmd = "RCPT" if rcpt else normalize_command(m.group(1))
            item = _from_fragment(
                line[m.end() :], source="phpmailer", anchored=True, command=cmd, recipient=rcpt
            )
            if item:
                return [item]
    if "Expected response" in line:
        m = _SYMFONY_RE.search(line)
        if m:
            body = line[m.end() :]
            close = body.find('".')  # the message ends with '".'; a quote inside it is not followed by "."
            if close < 0:
                close = body.rfind('"')
            if close >= 0:
                body = body[:close]
            if "\\" in body:  # a JSON-encoded log line: literal \r\n between reply lines
                body = body.replace("\\r\\n", "\n").replace("\\n", "\n")
            expected = m.group(1)
            cmd = None
            if "354" in expected:
                cmd = "DATA"
            elif "251" in expected or "252" in expected:
                cmd = "RCPT"
            elif "235" in expected or "334" in expected:
                cmd = "AUTH"
            elif expected.strip('" ') == "220":
                cmd = "CONN"
            found = _reply_from(body, anchored=True)
            code_s = m.group(2)
            esc = found[1] if found else None
            text = found[2] if found else _clean_text(body, code_s, None)
            items.append(
                Extracted(
                    reply_code=int(code_s),
                    enhanced=esc,
                    text=text,
                    command=cmd or _command_in(line),
                    recipient=_recipient_in(body),
                    source="symfony",
                )
            )
            return items
    if (
        "command failed" in line
        or "Invalid login" in line
        or "rejected:" in line
        or "Message failed" in line
        or ("Can't send mail" in line)
    ):
        m = _NODEMAILER_RE.search(line)
        if m:
            cmd = normalize_command(m.group(1)) if m.group(1) else None
            if m.group(2):
                cmd = "AUTH"
            elif m.group(3):
                cmd = "RCPT"
            elif m.group(4):
                cmd = "DATA"
            item = _from_fragment(line[m.end() :], source="nodemailer", anchored=True, command=cmd)
            if item:
                return [item]
    item = _from_fragment(line, source="text", anchored=False)
    return [item] if item else []


def _postfix_log(line: str, m: re.Match[str]) -> Extracted | None:
    inner = line[m.end() :]
    close = inner.rfind(")")
    if close >= 0:
        inner = inner[:close]
    to = _LOG_TO_RE.search(line)
    relay = _LOG_RELAY_RE.search(line)
    dsn = _LOG_DSN_RE.search(line)
    sub = _line_items(inner)
    base = sub[0] if sub else Extracted(reply_code=None, enhanced=None, text=_clean_text(inner, None, None))
    return replace(
        base,
        enhanced=base.enhanced or (_esc(dsn) if dsn else None),
        recipient=(to.group(1) if to else None) or base.recipient,
        remote_host=base.remote_host or (relay.group(1) if relay else None),
        remote_ip=base.remote_ip or (relay.group(2) if relay else None),
        source="postfix-log",
        action=m.group(1),
    )


class _DsnRecord:
    __slots__ = ("action", "diag", "host", "recipient", "status")

    def __init__(self) -> None:
        self.recipient: str | None = None
        self.action: str | None = None
        self.status: str | None = None
        self.host: str | None = None
        self.diag: str | None = None

    def empty(self) -> bool:
        return self.status is None and self.diag is None

    def build(self) -> Extracted | None:
        if self.empty():
            return None
        base = _parse_diagnostic(self.diag) if self.diag else None
        if base is None:
            base = Extracted(reply_code=None, enhanced=None, text="", source="dsn")
        return Extracted(
            reply_code=base.reply_code,
            enhanced=base.enhanced or self.status,
            text=base.text,
            command=base.command,
            remote_host=base.remote_host or self.host,
            remote_ip=base.remote_ip,
            recipient=self.recipient or base.recipient,
            source="dsn",
            action=self.action,
        )


def _normal(text: str) -> str:
    return " ".join(text.lower().replace("<", "").replace(">", "").split())[:200]


def _merge(items: list[Extracted]) -> list[Extracted]:
    """Merge the same reply found twice (a bounce's human part and its DSN part, a Sendmail
    transcript and its summary line): same code, same enhanced code (or one missing), and one
    text containing the other."""
    out: list[Extracted] = []
    for item in items:
        merged = False
        for i, prev in enumerate(out):
            if not _same_reply(prev, item):
                continue
            out[i] = _combine(prev, item)
            merged = True
            break
        if not merged:
            out.append(item)
        if len(out) >= MAX_REPLIES:
            break
    return out


def _same_reply(a: Extracted, b: Extracted) -> bool:
    if a.reply_code != b.reply_code and a.reply_code is not None and b.reply_code is not None:
        return False
    if a.enhanced and b.enhanced and a.enhanced != b.enhanced:
        return False
    if a.recipient and b.recipient and a.recipient.lower() != b.recipient.lower():
        return False
    ta, tb = _normal(a.text), _normal(b.text)
    if not ta or not tb:
        return bool(a.recipient and b.recipient) or (ta == tb)
    return ta in tb or tb in ta or ta[:60] == tb[:60]


def _combine(a: Extracted, b: Extracted) -> Extracted:
    # the more specific source names the result and gives the text (a Postfix "said:" line or a
    # parsed error object beats a generic reading of the same line); else the longer text wins
    if (a.source == "text") != (b.source == "text"):
        text = a.text if a.source != "text" else b.text
    else:
        text = a.text if len(a.text) >= len(b.text) else b.text
    source = a.source if a.source != "text" else b.source
    return Extracted(
        reply_code=a.reply_code if a.reply_code is not None else b.reply_code,
        enhanced=a.enhanced or b.enhanced,
        text=text,
        command=a.command or b.command,
        remote_host=a.remote_host or b.remote_host,
        remote_ip=a.remote_ip or b.remote_ip,
        recipient=a.recipient or b.recipient,
        source=source,
        action=a.action or b.action,
    )


def extract(text: str | bytes) -> list[Extracted]:
    """All SMTP replies found in a free text, in order of appearance, duplicates merged.

    Never raises on any input; reads at most MAX_INPUT_CHARS characters.
    """
    if isinstance(text, bytes):
        text = text[: MAX_INPUT_CHARS * 4].decode("utf-8", "replace")
    text = text[:MAX_INPUT_CHARS]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "=\n" in text and "quoted-printable" in text.lower():
        # a raw email pasted whole: undo quoted-printable soft line breaks and the common escapes
        text = text.replace("=\n", "").replace("=3D", "=").replace("=20", " ").replace("=09", " ")
    lines = _unfold(text)
    collector = _Collector()
    record = _DsnRecord()
    last_command: str | None = None
    last_rcpt: str | None = None
    talking_to: str | None = None
    pending: list[str] | None = None  # a multi-line reply being joined: [code, esc-or-"", text]

    def flush_pending() -> None:
        nonlocal pending
        if pending is not None:
            item = _from_fragment(
                " ".join(pending),
                source="transcript" if last_command else "text",
                anchored=True,
                command=last_command,
                host=talking_to,
                recipient=last_rcpt,
            )
            if item:
                collector.add(item)
            pending = None

    for line in lines:
        if not line:
            flush_pending()
            if not record.empty():
                built = record.build()
                if built:
                    collector.add(built)
            record = _DsnRecord()
            continue
        fm = _DSN_FIELD_RE.match(line)
        if fm:
            flush_pending()
            name = fm.group(1).lower()
            value = line[fm.end() :].strip()
            if name in ("final-recipient", "x-actual-recipient"):
                if record.recipient is not None or not record.empty():
                    built = record.build()
                    if built:
                        collector.add(built)
                    record = _DsnRecord()
                record.recipient = _untyped(value).strip(" <>")
            elif name == "original-recipient":
                pass
            elif name == "action":
                record.action = value.split(" ", 1)[0].lower() or None
            elif name == "status":
                sm = _ESC_RE.search(value[:32])
                record.status = _esc(sm) if sm else record.status
            elif name == "remote-mta":
                record.host = _untyped(value).strip().strip("[]").split(" ", 1)[0].rstrip(".") or None
            elif name == "diagnostic-code":
                record.diag = _untyped(value)
            continue
        # transcripts: ">>> RCPT To:<a@b>" / "<<< 550 ..." (Sendmail, PHPMailer debug output)
        if line.lstrip()[:1] in (">", "<", "C", "S", "-"):
            cm = _TRANSCRIPT_CMD_RE.match(line)
            if cm:
                flush_pending()
                last_command = normalize_command(f"{cm.group(1)} {cm.group(2) or ''}") or last_command
                rcpt = _ANGLE_ADDR_RE.search(cm.group(2) or "")
                if last_command == "RCPT" and rcpt:
                    last_rcpt = rcpt.group(1)
                continue
            rm = _TRANSCRIPT_REPLY_RE.match(line)
            if rm:
                body = line[rm.end() :]
                if len(body) >= 4 and body[:3].isdigit() and body[3] == "-":
                    if pending is None:
                        pending = [body]
                    else:
                        pending.append(body)
                    continue
                if pending is not None:
                    pending.append(body)
                    flush_pending()
                    continue
                item = _from_fragment(
                    body,
                    source="transcript",
                    anchored=True,
                    command=last_command,
                    host=talking_to,
                    recipient=last_rcpt,
                )
                if item:
                    collector.add(item)
                continue
        if "while talking to" in line:
            tm2 = _TALKING_TO_RE.search(line)
            if tm2:
                talking_to = tm2.group(1)
        lm = _POSTFIX_LOG_RE.search(line) if "status=" in line else None
        if lm:
            flush_pending()
            item = _postfix_log(line, lm)
            if item:
                collector.add(item)
            continue
        # a plain multi-line reply pasted as is: "550-5.1.1 ...", "550-5.1.1 ...", "550 5.1.1 ..."
        stripped = line.lstrip(" '\"")
        if len(stripped) >= 4 and stripped[:3].isdigit() and stripped[3] in "- ":
            if pending is not None and stripped[:3] == pending[0][:3]:
                pending.append(stripped)
                if stripped[3] == " ":
                    flush_pending()
                continue
            flush_pending()
            if stripped[3] == "-" and stripped[0] in "2345":
                pending = [stripped]
                continue
        else:
            flush_pending()
        for item in _line_items(line):
            collector.add(item)
    flush_pending()
    if not record.empty():
        built = record.build()
        if built:
            collector.add(built)
    if "responseCode" in text or "response:" in text or "'response'" in text or '"response"' in text:
        nm = _nodemailer_object(text)
        if nm:
            collector.add(nm)
    return _merge(collector.items)


def _nodemailer_object(text: str) -> Extracted | None:
    """nodemailer's error object as printed by console.log / JSON: response, responseCode, command."""
    rm = _NM_RESPONSE_RE.search(text)
    cm = _NM_CODE_RE.search(text)
    if rm is None and cm is None:
        return None
    response = _quoted(text, rm.end(), rm.group(1))[0] if rm else ""
    found = _reply_from(response, anchored=True) if response else None
    code = found[0] if found and found[0] is not None else (int(cm.group(1)) if cm else None)
    if code is None:
        return None
    cmd_m = _NM_COMMAND_RE.search(text)
    rej = _NM_REJECTED_RE.search(text)
    return Extracted(
        reply_code=code,
        enhanced=found[1] if found else None,
        text=found[2] if found else "",
        command=normalize_command(cmd_m.group(1)) if cmd_m else None,
        recipient=(rej.group(1) if rej else None) or (_recipient_in(response) if response else None),
        source="nodemailer",
    )


def primary(items: list[Extracted]) -> Extracted | None:
    """The reply to explain among several: the first failure that tells the most."""
    if not items:
        return None
    failures = [i for i in items if (i.reply_code or 0) >= 400 or (i.enhanced or "")[:1] in ("4", "5")]
    pool = failures or items
    return max(pool, key=lambda i: i.score)  # max keeps the first of equal scores


# ---------------------------------------------------------------------------------------------
# texts with no reply at all

FailureKind = Literal[
    "not-smtp", "tls-mismatch", "disconnected", "timeout", "refused", "dns", "other-protocol"
]


@dataclass(frozen=True, slots=True)
class ProtocolFailure:
    """A text that reports a failure below the level of SMTP replies, and the phrase that says so."""

    kind: FailureKind
    evidence: str


# (kind, lower-case phrases); first match wins, so the specific kinds come first
_FAILURE_PHRASES: Final[tuple[tuple[FailureKind, tuple[str, ...]], ...]] = (
    (
        "tls-mismatch",
        (
            "wrong version number",
            "wrong_version_number",
            "unknown protocol",
            "ssl routines",
            "tls handshake",
            "ssl handshake",
            "handshake failure",
            "eof occurred in violation of protocol",
            "record layer failure",
            "packet length too long",
            "http request",
            "greeting never received",
            "starttls",
            "ssl3_get_record",
            "tls_process",
        ),
    ),
    (
        "other-protocol",
        ("http/1.", "+ok ", "* ok ", "ssh-2.0", "ssh-1.", "<html", "<!doctype", "imap", "pop3"),
    ),
    (
        "not-smtp",
        (
            "3-digit code not found",
            "3 digit code",
            "three-digit code",
            "protocol failure",
            "invalid response",
            "unexpected response",
            "bad response",
            "malformed response",
            "unexpected reply",
            "invalid reply",
            "malformed reply",
            "not an smtp",
            "no smtp",
            "smtpresponseexception",
            "protocol error",
            "unparseable",
            "unparsable",
        ),
    ),
    (
        "disconnected",
        (
            "connection unexpectedly closed",
            "smtpserverdisconnected",
            "connection reset",
            "connection closed",
            "connection was closed",
            "connection lost",
            "broken pipe",
            "unexpected eof",
            "econnreset",
            "remote end closed",
            "lost connection",
            "connection dropped",
            "empty response",
        ),
    ),
    ("timeout", ("timed out", "timeout", "etimedout", "time-out")),
    (
        "refused",
        ("connection refused", "econnrefused", "actively refused", "unable to connect", "could not connect"),
    ),
    (
        "dns",
        (
            "name or service not known",
            "nodename nor servname",
            "getaddrinfo",
            "enotfound",
            "nxdomain",
            "no address associated",
            "host not found",
            "temporary failure in name resolution",
            "no mx",
        ),
    ),
)


def detect_protocol_failure(text: str) -> ProtocolFailure | None:
    """A failure reported without any SMTP reply: the peer did not speak SMTP (wrong port,
    TLS where plaintext was expected or the reverse, a proxy or antivirus intercepting), the
    connection broke or timed out, or the host was not found. None when nothing says so."""
    low = text[:MAX_INPUT_CHARS].lower()
    for kind, phrases in _FAILURE_PHRASES:
        for phrase in phrases:
            if phrase in low:
                return ProtocolFailure(kind, phrase)
    return None
