"""RFC 3464 delivery status notifications (and RFC 6533 message/global-delivery-status).

Most mail systems (Postfix, Sendmail, Exchange, Gmail, ...) send a multipart/report whose
message/delivery-status part has one field block per recipient. This module reads those
blocks; mail-system modules reuse `facts_from_blocks` and add what their human text says.
"""

from __future__ import annotations

import re
from typing import Final

from smtpdiag.bounce.fields import (
    TRANSCRIPT_CMD_LOWER_RE,
    TRANSCRIPT_MARKERS,
    clean_diagnostic,
    find_address,
    find_command,
    find_command_folded,
    find_reply_code_and_status,
    find_status,
    fold_case,
    has_transcript_marker,
    infer_command_from_session,
    typed_value,
)
from smtpdiag.bounce.formats.base import Context, Facts
from smtpdiag.bounce.formats.generic import text_blocks

NAME = "rfc3464"


def detect(ctx: Context) -> bool:
    return bool(ctx.status_blocks)


def facts_from_blocks(blocks: list[dict[str, str]]) -> list[Facts]:
    reporting = ""
    arrival = ""
    out: list[Facts] = []
    for b in blocks:
        if "final-recipient" not in b and "original-recipient" not in b and "x-actual-recipient" not in b:
            reporting = reporting or typed_value(b.get("reporting-mta", ""))[1]
            arrival = arrival or b.get("arrival-date", "")
            continue
        final = _field_value(b, "final-recipient")
        actual = _field_value(b, "x-actual-recipient")
        original = find_address(_field_value(b, "original-recipient"))
        recipient = find_address(final) or find_address(actual) or original
        if not recipient:
            continue
        f = Facts(recipient=recipient, original_recipient=original)
        action = b.get("action", "").split()
        f.action = action[0].lower() if action else ""
        dtype, diag = typed_value(b.get("diagnostic-code", ""))
        f.diagnostic_type = dtype
        f.diagnostic = clean_diagnostic(diag)
        f.replycode, diag_status = find_reply_code_and_status(f.diagnostic)
        f.status = find_status(b.get("status", "")) or diag_status
        f.command = find_command(f.diagnostic)
        f.remote_mta = _field_value(b, "remote-mta")
        f.reporting_mta = reporting or _field_value(b, "reporting-mta")
        f.date = b.get("last-attempt-date", "") or arrival
        if final.lstrip().startswith("|") or actual.lstrip().startswith("|"):
            # Delivery to a program (a .forward or alias pipe) failed: the local mailer's error.
            f.reason = "mailererror"
        out.append(f)
    return out


def _field_value(block: dict[str, str], name: str) -> str:
    """The value of a typed field ("rfc822; x@y" -> "x@y"), "" when the block lacks it."""
    value = block.get(name)
    return typed_value(value)[1] if value else ""


def parse(ctx: Context) -> list[Facts]:
    return facts_from_blocks(ctx.status_blocks)


MAX_COMMAND_SCAN: Final = 16384  # characters of human text searched for the failing command


def _last_transcript_match(low: str) -> re.Match[str] | None:
    """The last match of TRANSCRIPT_CMD_LOWER_RE.finditer(low).

    A match starts with one of TRANSCRIPT_MARKERS: the regex is tried only where they are
    (found with str.find), in order and past the end of the last match, as finditer would.
    Searching with the regex instead tries every "s" and "-" of a long text.
    """
    starts: list[int] = []
    for marker in TRANSCRIPT_MARKERS:
        at = low.find(marker)
        while at >= 0:
            starts.append(at)
            at = low.find(marker, at + 1)
    starts.sort()
    last: re.Match[str] | None = None
    free_from = 0
    for at in starts:
        if at < free_from:
            continue
        m = TRANSCRIPT_CMD_LOWER_RE.match(low, at)
        if m is not None:
            last = m
            free_from = m.end()
    return last


def _transcript_command(text: str, low: str) -> str:
    """The last command a session transcript in `text` shows as sent ("CONN": none was).

    `low` is fold_case(text).
    """
    if has_transcript_marker(low):  # (the regex cannot match without one)
        last = _last_transcript_match(low)
        if last is not None:
            # the command as the text writes it (what TRANSCRIPT_CMD_RE.findall gave)
            return text[last.start(1) : last.end(1)].upper()
    if "<<<" in text and ">>>" not in text and "while talking to" in text:
        # "... while talking to mx.example.org.:" then "<<< 554 ..." with no command sent: the
        # server refused at its greeting (Sendmail's transcript of a refused connection).
        return "CONN"
    return ""


def _folded_head(ctx: Context, head: str) -> str:
    """fold_case(head) for `head`, a prefix of ctx.text.

    For ASCII it is the same prefix of ctx.text_lower, which the pipeline lowers anyway
    (systems.identify reads it): lower-casing an ASCII character depends on no other, and what
    lower() does to characters after the prefix leaves the prefix in place.
    """
    if head.isascii():
        return ctx.text_lower[: len(head)]
    return fold_case(head)


def fill_from_text(ctx: Context, facts: list[Facts]) -> None:
    """Complete a DSN's facts from its human-readable part (diagnostic and command)."""
    if not ctx.text:
        return
    if len(facts) == 1 and facts[0].diagnostic and facts[0].replycode:
        # One recipient with the remote reply in hand: only the failing command may be missing,
        # and the human text names it for the whole message ("in reply to RCPT TO command").
        f = facts[0]
        if not f.command:
            head = ctx.text[:MAX_COMMAND_SCAN]
            low = _folded_head(ctx, head)
            f.command = find_command_folded(head, low) or _transcript_command(head, low)
        return
    blocks = None
    for f in facts:
        if f.diagnostic and f.command and f.replycode:
            continue
        if blocks is None:
            blocks = {b.recipient: b for b in text_blocks(ctx)}
        tb = blocks.get(f.recipient) or (blocks.get(f.original_recipient) if f.original_recipient else None)
        if tb is None and len(facts) == 1 and len(blocks) == 1:
            tb = next(iter(blocks.values()))
        if tb is None:
            continue
        if not f.diagnostic:
            f.diagnostic = tb.diagnostic
        # (tb.command and tb.replycode are what find_command and find_reply_code made of
        # tb.diagnostic: what is left to look for is a session transcript)
        if not f.command:
            f.command = tb.command or infer_command_from_session(tb.diagnostic)
        if not f.replycode:
            f.replycode = tb.replycode
        if not f.status:
            f.status = tb.status
