"""Google Groups: "the group you tried to contact may not exist, or you may not have permission to post".

Google sends it from mailer-daemon@googlemail.com in the poster's language, with the group's
address in X-Failed-Recipients. The post was refused by the group's settings: reason "rejected".
"""

from __future__ import annotations

from smtpdiag.bounce.fields import ADDR_RE, clean_diagnostic
from smtpdiag.bounce.formats.base import Context, Facts

NAME = "googlegroups"


def detect(ctx: Context) -> bool:
    failed = ctx.header("X-Failed-Recipients").lower()
    if "googlegroups.com" in failed:
        return True
    return "googlemail.com" in ctx.from_lower and "groups.google.com" in ctx.text_lower


def parse(ctx: Context) -> list[Facts]:
    failed = ctx.header("X-Failed-Recipients")
    recipients = [m.group(0).lower() for m in ADDR_RE.finditer(failed[:4000])]
    if not recipients:
        return []
    paragraphs = [p for p in ctx.text.split("\n\n") if p.strip()]
    diag = clean_diagnostic(" ".join(paragraphs[1:3]) if len(paragraphs) > 1 else ctx.text[:500])
    # The refusal to post is Google Groups' own; other failures (no such group) carry the
    # remote server's reply and are classified like any other.
    refusal = "googlegroups.com" in ctx.header("X-Failed-Recipients").lower() and (
        "groups.google.com" in ctx.text_lower or "permission to post" in ctx.text_lower
    )
    if not refusal:
        return []
    return [
        Facts(recipient=r, reason="rejected", action="failed", diagnostic=diag, hardbounce=False)
        for r in recipients
    ]
