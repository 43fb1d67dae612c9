"""RFC 5965 Abuse Reporting Format (feedback loop reports): reason "feedback" with its feedback type."""

from __future__ import annotations

from smtpdiag.bounce import fastmime
from smtpdiag.bounce.fields import find_address, parse_field_blocks
from smtpdiag.bounce.formats.base import Context, Facts

NAME = "arf"


def detect(ctx: Context) -> bool:
    if ctx.parts.feedback_report:
        return True
    if "multipart/report" in ctx.parts.content_types[:1]:
        # get_param parses every parameter. In an ASCII field value without RFC 2231 ("*") or
        # quoted-pair ("\\") escapes, the parameter's value is a substring of the field as written:
        # when "feedback-report" is not there, get_param cannot return it.
        raw = ctx.raw_headers.get("content-type", "")
        simple = isinstance(raw, str) and raw.isascii() and "*" not in raw and "\\" not in raw
        if simple and "feedback-report" not in raw.lower():
            return False
        return (fastmime.get_param(ctx.msg, "report-type") or "") == "feedback-report"
    return is_unsubscribe_request(ctx)


def is_unsubscribe_request(ctx: Context) -> bool:
    """A one-click unsubscribe sent by a mail client (RFC 2369 mailto: List-Unsubscribe)."""
    # (asked of nearly every message: a field the message lacks reads as "", so its absence
    # from raw_headers answers without decoding anything)
    raw = ctx.raw_headers
    if "x-apple-unsubscribe" in raw and ctx.header("X-Apple-Unsubscribe").lower() == "true":
        return True
    if "auto-submitted" not in raw:
        return False
    return ctx.subject_lower.strip() == "unsubscribe" and bool(ctx.header("Auto-Submitted"))


def parse(ctx: Context) -> list[Facts]:
    if not ctx.parts.feedback_report and is_unsubscribe_request(ctx):
        sender = find_address(ctx.from_)
        if not sender:
            return []
        return [Facts(recipient=sender, reason="feedback", feedbacktype="opt-out", hardbounce=False)]
    fields: dict[str, str] = {}
    for block in parse_field_blocks(ctx.parts.feedback_report):
        for k, v in block.items():
            fields.setdefault(k, v)
    ftype = (
        (fields.get("feedback-type", "") or "other").split()[0].lower()
        if fields.get("feedback-type", "").split()
        else "other"
    )
    recipients: list[str] = []
    # The complained-about recipient: Original-Rcpt-To (repeatable), else the returned message's To.
    raw = ctx.parts.feedback_report
    for line in raw.splitlines():
        if line.lower().startswith("original-rcpt-to:"):
            addr = find_address(line.split(":", 1)[1])
            if addr and addr not in recipients:
                recipients.append(addr)
    if not recipients:
        to = ctx.original_fields.get("to", "")
        addr = find_address(to)
        if addr:
            recipients.append(addr)
    if not recipients:
        addr = find_address(fields.get("removal-recipient", ""))
        recipients.append(addr)
    out = []
    for r in recipients:
        out.append(
            Facts(
                recipient=r,
                reason="feedback",
                feedbacktype=ftype,
                reporting_mta=fields.get("reporting-mta", ""),
                date=fields.get("arrival-date", "") or fields.get("received-date", ""),
                hardbounce=False,
            )
        )
    return out
