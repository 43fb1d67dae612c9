"""The generic fallback: a bounce in plain text from a mail system without its own module.

Nearly every non-standard bounce says the same three things in some layout: the failed
address, the remote server's reply (code, status, text), and a marker after which the returned
original message begins. `text_blocks` finds recipient addresses at the start of lines (the
layout of Postfix, Exim, qmail, Sendmail, Courier, Domino and most others), collects the lines
that follow each as its diagnostic, and stops at the original message. Format modules reuse it
and only add what is special about their mail system.
"""

from __future__ import annotations

import re
from typing import Final

from smtpdiag.bounce.fields import (
    ADDR_RE,
    clean_diagnostic,
    find_command,
    find_reply_code,
    find_status,
)
from smtpdiag.bounce.formats.base import Context, Facts

NAME = "generic"

MAX_LINES: Final = 2000  # lines of human text scanned
MAX_DIAG_LINES: Final = 12  # lines collected as one recipient's diagnostic
MAX_RECIPIENTS: Final = 500

# Where the returned original message starts (the text after it is not the bounce's own words).
ORIGINAL_MARKERS_RE: Final = re.compile(
    r"(?i)^\s{0,8}(?:"
    r"-{2,40}\s{0,4}(?:original message|this is a copy of|below this line is a copy|"
    r"the original message|message header|header of the original|original mail|returned message|"
    r"unsent message below|unsent message|original message headers|headers of your message)"
    r"|[-=_]{0,40}\s{0,4}original message (?:follows|header|headers)"
    r"|\*{0,10}\s{0,2}original message"
    r"|content-type: message/rfc822"
    r"|the original message was received"
    r"|------ this is a copy of the message"
    r"|below is a copy of the original message"
    r"|the headers of the original message"
    r"|the header of the original message"
    r"|a copy of the original message"
    r"|the original message headers are"
    r"|the first \d{1,6} (?:characters|lines) of the original"
    r"|your message reads"
    r"|--- below this line"
    r")"
)

# A line that starts with an address (the address is what the block is about).
LEADING_ADDR_RE: Final = re.compile(
    r"^\s{0,16}(?:[-*>]\s{0,4})?(?:(?:final-|original-)?recipient(?:s)?(?: address)?:?\s{0,8}|to:\s{0,8}|"
    r"rcpt to:\s{0,4}|address:\s{0,8}|failed recipient:\s{0,4}|invalid recipient:\s{0,4}|"
    r"unknown recipient:\s{0,4}|user:\s{0,4}|for\s{1,4}|delivery to\s{1,4}|"
    r"your message to\s{1,4}|message to\s{1,4})?"
    r"[<\"(]{0,2}(?:rfc822;\s{0,4})?"
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,128}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,10})",
    re.IGNORECASE,
)
SENDER_HINT_RE: Final = re.compile(
    r"(?i)(?:mail from|envelope-from|return-path|from:|sender)\s{0,4}:?\s{0,4}<?$"
)

SKIP_LOCAL_PARTS: Final = frozenset(
    {"mailer-daemon", "postmaster", "mail-daemon", "nobody", "noreply", "no-reply"}
)


class TextBlock:
    __slots__ = ("command", "diagnostic", "recipient", "replycode", "status")

    def __init__(self, recipient: str, diagnostic: str) -> None:
        self.recipient = recipient
        self.diagnostic = clean_diagnostic(diagnostic)
        self.replycode = find_reply_code(self.diagnostic)
        self.status = find_status(self.diagnostic)
        self.command = find_command(self.diagnostic)


def bounce_text(ctx: Context) -> list[str]:
    """The bounce's own lines: the human text up to the returned original message."""
    out: list[str] = []
    for i, line in enumerate(ctx.lines):
        if i >= MAX_LINES:
            break
        if i > 0 and ORIGINAL_MARKERS_RE.match(line):
            break
        out.append(line)
    return out


def excluded_addresses(ctx: Context) -> set[str]:
    """Addresses that are not failed recipients: the bounce's addressee (the original sender) etc."""
    ex = set()
    for name in ("To", "From", "Return-Path", "Reply-To", "Sender", "Delivered-To"):
        for m in ADDR_RE.finditer(ctx.header(name)[:2000]):
            ex.add(m.group(0).lower())
    orig_from = ctx.original_fields.get("from", "")
    for m in ADDR_RE.finditer(orig_from[:2000]):
        ex.add(m.group(0).lower())
    return ex


def _skip(addr: str, excluded: set[str]) -> bool:
    if addr in excluded:
        return True
    local = addr.split("@", 1)[0]
    return local in SKIP_LOCAL_PARTS


def text_blocks(ctx: Context, lines: list[str] | None = None) -> list[TextBlock]:
    """Per-recipient diagnostics from plain text: address at line start + the lines that follow."""
    if lines is None:
        lines = bounce_text(ctx)
    excluded = excluded_addresses(ctx)
    found: dict[str, list[str]] = {}
    order: list[str] = []
    cur: str | None = None
    cur_lines = 0
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if cur is not None and cur_lines > 0:
                cur = None
            continue
        m = LEADING_ADDR_RE.match(line)
        if m:
            addr = m.group(1).lower().strip(".")
            prefix = line[: m.start(1)]
            if not _skip(addr, excluded) and not SENDER_HINT_RE.search(prefix):
                if addr not in found:
                    if len(order) >= MAX_RECIPIENTS:
                        break
                    found[addr] = []
                    order.append(addr)
                cur = addr
                cur_lines = 0
                rest = line[m.end(1) :].strip(" >:;,.)\"'\t")
                if rest:
                    found[addr].append(rest)
                    cur_lines += 1
                continue
        if cur is not None and cur_lines < MAX_DIAG_LINES:
            found[cur].append(stripped)
            cur_lines += 1
    return [TextBlock(a, " ".join(found[a])) for a in order]


def detect(ctx: Context) -> bool:
    return bool(ctx.text)


def parse(ctx: Context) -> list[Facts]:
    out: list[Facts] = []
    for b in text_blocks(ctx):
        if not (b.diagnostic or b.replycode):
            continue
        out.append(
            Facts(
                recipient=b.recipient,
                diagnostic=b.diagnostic,
                status=b.status,
                replycode=b.replycode,
                command=b.command,
            )
        )
    return out


def looks_like_bounce(ctx: Context) -> bool:
    """Cheap test that a message without a delivery-status part is a bounce at all."""
    s = ctx.subject_lower
    f = ctx.from_lower
    if any(k in f for k in ("mailer-daemon", "postmaster", "mail delivery", "mail-daemon", "mailerdaemon")):
        return True
    return any(
        k in s
        for k in (
            "undeliver",
            "returned mail",
            "delivery fail",
            "delivery status",
            "failure notice",
            "mail delivery",
            "non-deliver",
            "nondeliver",
            "delivery notification",
            "could not be delivered",
            "not delivered",
            "rejected",
            "bounce",
            "error",
            "failed",
            "warning",
            "delayed",
            "problem",
        )
    )
